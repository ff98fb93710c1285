"""Rhythm verdict (ml.rhythm): what a person sees for real recordings, long records and noise.

The strip model is trained on every shared CinC 2017 recording, so verdicts on those are a
regression check; the MIT-BIH segments below were never seen by the strip model.
"""

import subprocess
import sys

import numpy as np
import pytest

import ml
from ml import preprocess, rhythm
from ml.detect import detect_r_peaks


def _verdict(x, fs):
    return rhythm.analyse_rhythm(preprocess.clean(x, fs), fs, detect_r_peaks(x, fs))


@pytest.fixture(scope="module")
def mitdb_record(data_dir):
    from ml.lab import dataset

    cache = {}

    def read(record):
        if record not in cache:
            cache[record] = dataset.read_record(data_dir / "mitdb", record)[:2]
        return cache[record]

    return read


def _segment(read, record, start_s, seconds):
    x, fs = read(record)
    return x[int(start_s * fs): int((start_s + seconds) * fs)], fs


class NeverCalled:
    """A beat classifier that must not be asked: a noisy strip gets no beat labels."""

    version = "never"

    def predict(self, images, context):
        raise AssertionError("beats of a noisy strip were classified")


class AllPrematureAtrial:
    """A beat classifier that calls every beat a premature atrial contraction (A)."""

    version = "all-A"

    def predict(self, images, context):
        probs = np.zeros((len(images), 8), dtype=np.float32)
        probs[:, ml.classes.CODES.index("A")] = 1.0
        return probs


@pytest.mark.parametrize("record,start_s", [(221, 300), (203, 600), (201, 60)])
def test_af_segment_from_mitbih_is_atrial_fibrillation(mitdb_record, record, start_s):
    x, fs = _segment(mitdb_record, record, start_s, 60)
    verdict = _verdict(x, fs)
    assert verdict["label"] == "atrial_fibrillation", verdict
    assert verdict["probability"] > 0.5
    assert "atrial fibrillation" in verdict["summary"]


@pytest.mark.parametrize("record,start_s", [(100, 60), (103, 300), (115, 60), (121, 300)])
def test_sinus_rhythm_segment_from_mitbih_is_normal(mitdb_record, record, start_s):
    x, fs = _segment(mitdb_record, record, start_s, 60)
    assert _verdict(x, fs)["label"] == "normal"


def test_ventricular_bigeminy_is_another_rhythm(mitdb_record):
    x, fs = _segment(mitdb_record, 119, 0, 60)  # record 119 starts in ventricular bigeminy
    assert _verdict(x, fs)["label"] == "other"


# Recordings the cross-validation also called right while they were held out (ml.lab.rhythm_lab).
@pytest.mark.parametrize("name,label", [("A04774", "normal"), ("A05366", "atrial_fibrillation"),
                                        ("A05489", "other"), ("A02955", "noisy")])
def test_cinc_recordings_get_their_verdict(data_dir, name, label):
    import scipy.io as sio

    x = sio.loadmat(data_dir / "cinc2017" / f"{name}.mat")["val"][0] / 1000.0
    ref = dict(line.split(",") for line in (data_dir / "cinc2017" / "REFERENCE.csv").read_text().split())
    assert rhythm.LABELS[rhythm.CINC_CODES.index(ref[name])] == label  # the Challenge's own label
    assert _verdict(x, 300.0)["label"] == label


def test_long_af_record_yields_episodes_where_the_annotations_put_them(data_dir, mitdb_record):
    import wfdb

    x, fs = mitdb_record(202)  # sinus rhythm, then atrial flutter and fibrillation
    verdict = _verdict(x, fs)
    assert verdict["episodes"], verdict
    ann = wfdb.rdann(str(data_dir / "mitdb" / "202"), "atr")
    changes = [(s / fs, a.strip("\x00")) for s, a in zip(ann.sample, ann.aux_note) if a.startswith("(")]
    af = [(t, nxt) for (t, a), (nxt, _) in zip(changes, changes[1:] + [(len(x) / fs, "")])
          if a in ("(AFIB", "(AFL")]
    ref_s = sum(b - a for a, b in af)
    found = sum(max(0.0, min(b, e["end_s"]) - max(a, e["start_s"]))
                for a, b in af for e in verdict["episodes"])
    assert found >= 0.7 * ref_s
    assert verdict["af_seconds"] <= 1.3 * ref_s
    for e in verdict["episodes"]:
        assert e["end_s"] - e["start_s"] == pytest.approx(e["duration_s"], abs=0.2)
    assert "minutes" in verdict["summary"]


def test_sinus_record_has_no_af_episode(mitdb_record):
    x, fs = mitdb_record(100)
    verdict = _verdict(x, fs)
    assert verdict["label"] == "normal" and verdict["episodes"] == []


@pytest.mark.parametrize("snr_db", [-12, -18])
def test_muscle_noise_at_low_snr_is_too_noisy_and_shows_no_beats(data_dir, mitdb_record, snr_db):
    # Down to about -6 dB of muscle noise the beats are still found and the rhythm is read.
    import wfdb

    x, fs = _segment(mitdb_record, 100, 120, 30)
    noise = wfdb.rdrecord(str(data_dir / "nstdb-noise" / "ma"), channels=[0]).p_signal[:, 0]
    noise = noise[int(600 * fs): int(600 * fs) + x.size]
    noise = noise - noise.mean()
    gain = np.sqrt(np.mean((x - x.mean()) ** 2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    res = ml.analyse(x + gain * noise, fs=fs, classifier=NeverCalled())
    assert res.status == "inconclusive" and not res.labels
    assert res.rhythm["label"] == "noisy", res.rhythm


def test_clean_record_analysis_carries_the_verdict(mitdb_record):
    x, fs = _segment(mitdb_record, 100, 60, 30)
    res = ml.analyse(x, fs=fs, classifier=AllPrematureAtrial())
    assert res.rhythm["label"] == "normal"
    assert set(res.to_dict()["rhythm"]) >= {"label", "probability", "episodes"}
    assert res.counts["A"] == len(res.labels)  # outside AF an A call stays an A call


def test_normal_shaped_beats_inside_af_are_not_premature_atrial(mitdb_record):
    x, fs = _segment(mitdb_record, 221, 300, 60)
    res = ml.analyse(x, fs=fs, classifier=AllPrematureAtrial())
    assert res.rhythm["label"] == "atrial_fibrillation"
    assert res.counts["N"] >= 0.8 * len(res.labels)
    assert any("inside atrial fibrillation" in n for n in res.notes)


def test_too_few_beats_have_no_verdict():
    fs = 300.0
    t = np.arange(int(4 * fs)) / fs
    x = sum(np.exp(-0.5 * ((t - c) / 0.01) ** 2) for c in (0.5, 1.5, 2.5, 3.5))
    assert rhythm.analyse_rhythm(x, fs, detect_r_peaks(x, fs)) is None


def test_rhythm_model_loads_without_tensorflow():
    code = ("import sys; from ml import rhythm; rhythm.get_model(); "
            "assert 'tensorflow' not in sys.modules, 'TF imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 10, 31, 40])
def test_the_window_median_is_numpys_median_to_the_bit(n):
    """rhythm._median (sorting, faster for a window's few dozen beats) gives exactly what the
    trained features were computed with: np.median, NaN where a column holds one."""
    import warnings

    from ml.rhythm import _median

    rng = np.random.default_rng(n)
    a = rng.standard_normal((n, 60))
    a[rng.random(a.shape) < 0.03] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert np.array_equal(_median(a), np.median(a, axis=0), equal_nan=True)
    b = rng.standard_normal(n)
    assert _median(b) == np.median(b)
