"""analyse(): what the worker gets for real ECGs and for inputs that are not ECGs."""

import json
import subprocess
import sys

import numpy as np
import pytest

import ml
from ml import analysis
from ml.assessment import conclusion
from ml.errors import ECGInputError, EmptyInputError

PNG = b"\x89PNG"


def test_real_record_segment_is_labelled_beat_by_beat(record_segment, shipped_classifier):
    x, fs, peaks, symbols = record_segment(119, 20, 20)  # record 119: 9 PVCs in these 20 s
    res = ml.analyse(x, fs=fs, classifier=shipped_classifier)
    assert res.status == "ok", res.reason
    assert abs(len(res.r_peaks) - len(peaks)) <= 1
    assert len(res.labels) == len(res.r_peaks) == len(res.probabilities)
    # Labels agree with the cardiologists' annotations on nearly every beat.
    truth = dict(zip(peaks.tolist(), symbols.tolist()))
    matched = [(res.labels[i], truth[min(truth, key=lambda s: abs(s - r))])
               for i, r in enumerate(res.r_peaks)]
    agree = np.mean([lab == {"N": "N", "V": "V"}.get(sym) for lab, sym in matched])
    assert agree >= 0.9
    assert res.counts["V"] >= 5
    # The reading states the ectopic beats with their code, and the one-lead limit.
    codes = {f["code"] for f in res.assessment["findings"]}
    assert "427172004" in codes  # premature ventricular contractions
    assert any(n["what"].startswith("ST segments") and n["limit"] == "input" for n in res.assessment["not_assessed"])
    assert "Premature ventricular contractions" in conclusion(res.assessment)
    assert 40 < res.heart_rate_bpm["mean"] < 120
    assert res.model_version == shipped_classifier.version
    assert 0.5 < res.confidence <= 1.0


def test_result_dict_is_compact_json_and_representatives_carry_pngs(record_segment,
                                                                   shipped_classifier):
    x, fs, _, _ = record_segment(100, 0, 10)
    res = ml.analyse(x, fs=fs, classifier=shipped_classifier)
    data = res.to_dict()
    text = json.dumps(data)  # no bytes, no numpy types
    assert len(data["trace"]["values"]) <= analysis.MAX_TRACE_POINTS
    assert all(len(p) == 8 and all(round(v, 3) == v for v in p) for p in data["probabilities"])
    assert "png" not in text.lower()
    reps = res.representatives
    assert 1 <= len(reps) <= len(set(res.labels))
    assert all(r.spectral_png.startswith(PNG) and r.saliency_png.startswith(PNG) for r in reps)
    assert {r["label"] for r in data["representatives"]} <= set(res.labels)


def test_flat_line_is_inconclusive_or_refused():
    flat = np.zeros(3600)
    try:
        res = ml.analyse(flat, fs=360)
    except ECGInputError:
        return
    assert res.status == "inconclusive" and res.reason and not res.labels


def test_pure_noise_gets_no_confident_labels(rng, shipped_classifier):
    noise = rng.normal(0, 1.0, 360 * 10)
    try:
        res = ml.analyse(noise, fs=360, classifier=shipped_classifier)
    except ECGInputError:
        return
    assert res.status == "inconclusive", res.assessment
    assert res.reason and not res.labels


def test_two_beats_are_too_few(shipped_classifier):
    fs = 360.0
    t = np.arange(int(3.0 * fs)) / fs
    x = sum(1.2 * np.exp(-0.5 * ((t - c) / 0.012) ** 2) for c in (0.8, 2.0))
    x = x + np.random.default_rng(1).normal(0, 0.01, t.size)
    res = ml.analyse(x, fs=fs, classifier=shipped_classifier)
    assert res.status == "inconclusive"
    assert res.reason and not res.labels


def test_empty_file_raises_input_error(tmp_path):
    empty = tmp_path / "ecg.csv"
    empty.write_bytes(b"")
    with pytest.raises(EmptyInputError):
        ml.analyse(empty)


def test_photo_that_is_not_an_ecg_gets_no_label(tmp_path, rng, shipped_classifier):
    from PIL import Image

    photo = tmp_path / "cat.png"
    pixels = (rng.random((240, 320, 3)) * 255).astype(np.uint8)  # textured, colourful, no trace
    Image.fromarray(pixels).save(photo)
    try:
        res = ml.analyse(photo, classifier=shipped_classifier)
    except ECGInputError:
        return
    assert res.status == "inconclusive" and not res.labels


def test_single_beat_image_is_one_beat_without_rhythm(data_dir, shipped_classifier):
    image = data_dir / "ecg-images" / "train" / "Premature Ventricular Contractions" / "fig_10.png"
    res = ml.analyse(image, classifier=shipped_classifier)
    assert res.kind == "image-beat"
    assert res.status == "ok", res.reason
    assert len(res.labels) == 1 and res.heart_rate_bpm is None
    assert res.assessment["level"] in ("abnormal", "urgent")
    assert any(n["what"] == "Heart rhythm and rate" for n in res.assessment["not_assessed"])
    # Labelled by the image-beat model, not the signal model passed in.
    assert any("single-beat image model" in n for n in res.notes)
    assert res.model_version != shipped_classifier.version


def test_import_ml_does_not_import_tensorflow():
    code = ("import sys, ml, ml.classes, ml.errors; ml.BEAT_CLASSES; ml.ECGInputError; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_heart_rate_figures_leave_detection_artefacts_out():
    """A missed beat (a 2.4 s gap) or a doubled one (0.1 s) must not give "14-338 bpm"."""
    from ml.analysis import _heart_rate

    fs = 360
    rr = [0.8] * 40 + [0.1, 2.4, 0.05]
    peaks = np.concatenate([[0], np.cumsum(np.array(rr) * fs)]).astype(int)
    hr = _heart_rate(peaks, fs)
    assert hr["low"] == pytest.approx(75, abs=1) and hr["high"] == pytest.approx(75, abs=1)
    assert hr["median"] == pytest.approx(75, abs=0.5)
    assert 20 <= hr["min"] and hr["max"] <= 250


def test_a_12_lead_file_is_read_on_all_its_leads(data_dir, shipped_classifier, tmp_path):
    from ecgportal.testing import require
    from ml import assessment as clinical
    from ml.lab import ludb

    require((data_dir / "ludb" / "data" / "2.hea").is_file(), f"LUDB not found under {data_dir}")
    header = ludb.write_calibrated(data_dir / "ludb", 2, tmp_path)  # in true mV, as a recorder exports
    res = ml.analyse(header, classifier=shipped_classifier, n_representatives=0)
    reading = res.assessment
    assert res.twelve_lead is not None and res.n_leads == 12
    assert "axis_deg" in reading["measurements"] and 60 <= reading["measurements"]["qrs_ms"] <= 120
    assert not any(n["what"] == clinical.ST_WHAT for n in reading["not_assessed"])  # ST levels were read
    # ... but a 12-lead reading is not called normal until its infarction criteria are validated.
    assert reading["level"] != "normal"


def test_a_12_lead_file_whose_leads_are_scaled_one_by_one_gets_no_voltage_reading(data_dir, shipped_classifier):
    from ecgportal.testing import require
    from ml import assessment as clinical

    header = data_dir / "ludb" / "data" / "2.hea"  # LUDB as published: each lead scaled to 1 mV
    require(header.is_file(), f"LUDB not found under {data_dir}")
    reading = ml.analyse(header, classifier=shipped_classifier, n_representatives=0).assessment
    st = [n for n in reading["not_assessed"] if n["what"] == clinical.ST_WHAT]
    assert st and "limb leads disagree" in st[0]["why"] and st[0]["limit"] == "input"
    assert "axis_deg" not in reading["measurements"] and 60 <= reading["measurements"]["qrs_ms"] <= 120
    assert not any(f["code"] == "164931005" for f in reading["findings"]) and reading["level"] != "normal"


def test_a_12_lead_file_with_an_uncalibrated_lead_says_so_where_its_st_segments_were_not_read(
        data_dir, shipped_classifier, tmp_path):
    from ecgportal.testing import require
    from ml import assessment as clinical
    from ml.lab import ludb

    require((data_dir / "ludb" / "data" / "2.hea").is_file(), f"LUDB not found under {data_dir}")
    header = ludb.write_calibrated(data_dir / "ludb", 2, tmp_path)
    lines = header.read_text().splitlines()
    v1 = next(i for i, line in enumerate(lines) if line.endswith(" V1"))
    lines[v1] = lines[v1].replace("1000.0(0)/mV", "0/mV")  # gain 0: uncalibrated in the WFDB format
    header.write_text("\n".join(lines) + "\n")
    reading = ml.analyse(header, classifier=shipped_classifier, n_representatives=0).assessment
    st = [n for n in reading["not_assessed"] if n["what"] == clinical.ST_WHAT]
    assert st and "uncalibrated" in st[0]["why"] and st[0]["limit"] == "product", st
    assert reading["level"] != "normal"


def test_the_profiles_sex_and_age_fill_in_what_a_12_lead_file_does_not_state(data_dir, shipped_classifier, tmp_path):
    from ecgportal.testing import require
    from ml.lab import ludb

    require((data_dir / "ludb" / "data" / "2.hea").is_file(), f"LUDB not found under {data_dir}")
    header = ludb.write_calibrated(data_dir / "ludb", 2, tmp_path)  # its header: a man of 64
    res = ml.analyse(header, classifier=shipped_classifier, n_representatives=0, sex="F", age=30)
    assert "The patient's sex taken from the file's header" in res.notes  # the header wins
    text = header.read_text()
    header.write_text("\n".join(line for line in text.splitlines() if "<sex>" not in line and "<age>" not in line) + "\n")
    res = ml.analyse(header, classifier=shipped_classifier, n_representatives=0, sex="F", age=30)
    assert "The patient's sex taken from the profile" in res.notes
    assert "The patient's age taken from the profile" in res.notes
    res = ml.analyse(header, classifier=shipped_classifier, n_representatives=0)
    assert any(n.startswith("The patient's sex is not known") for n in res.notes)


def test_a_long_record_read_with_its_beat_images_built_alongside_gives_the_same_result(
        data_dir, shipped_classifier, monkeypatch):
    """From OVERLAP_FROM_S on, the beat features are built in a helper thread while the rhythm is
    read: the result is the serial one, every number of it."""
    from ecgportal.testing import require

    header = data_dir / "mitdb" / "119.hea"
    require(header.is_file(), f"MIT-BIH not found under {data_dir}")
    handed, in_background = [], analysis._in_background

    def spy(fn, *args, **kwargs):
        handed.append(fn.__name__)
        return in_background(fn, *args, **kwargs)

    monkeypatch.setattr(analysis, "_in_background", spy)
    results = []
    for overlap_from in (float("inf"), 60.0):
        monkeypatch.setattr(analysis, "OVERLAP_FROM_S", overlap_from)
        out = ml.analyse(header, classifier=shipped_classifier, n_representatives=2).to_dict()
        results.append(json.dumps(out, sort_keys=True, default=str))
    assert results[0] == results[1]
    assert handed == ["beat_features"]  # the second run, and only it, built them alongside
