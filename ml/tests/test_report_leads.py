"""Every lead of a 3x4 report picture: named from the layout, in mV, on the rhythm strip's time axis.

Reports are drawn by ``ml.io.render`` from a synthetic 12-lead ECG whose waves are known (V2 carries
0.2 mV of ST elevation) and from a LUDB record, then read back through ``ml.io.load``. Pages that
are not the standard layout (a single strip, three rhythm strips, a picture without paper grid)
must not get lead names.
"""

import numpy as np
import pytest
from PIL import Image

from ml.lab.evaluate_report_leads import LUDB_FS, score_lead, strip_offset
from ml.io import load, render
from ml.io.leads import STANDARD_LEADS

FS = LUDB_FS
RR_S = 0.8
ST_ELEVATED_MV = 0.2
QRS_ON_S, QRS_OFF_S = 0.20, 0.29  # within each beat


def _wave(t, centre, width, height):
    return height * np.exp(-0.5 * ((t - centre) / width) ** 2)


def _synthetic_leads():
    """Return ({lead: 10 s in mV}, [(QRS onset, QRS end) samples]) of a 75 bpm 12-lead ECG."""
    t = np.arange(int(10 * FS)) / FS
    phase = t % RR_S
    gains = dict(zip(STANDARD_LEADS, (0.8, 1.0, 0.4, -0.9, 0.3, 0.7, -0.6, 1.2, 1.4, 1.5, 1.2, 0.9)))
    leads = {}
    for name, g in gains.items():
        qrs = _wave(phase, 0.235, 0.008, -0.15) + _wave(phase, 0.25, 0.010, 1.2) + _wave(phase, 0.268, 0.008, -0.3)
        x = g * (_wave(phase, 0.10, 0.025, 0.12) + qrs + _wave(phase, 0.52, 0.05, 0.3))
        if name == "V2":  # ST elevation: the segment from J to the T wave raised, smoothly
            x = x + ST_ELEVATED_MV / (1 + np.exp(-(phase - QRS_OFF_S) / 0.004)) / (1 + np.exp((phase - 0.62) / 0.03))
        leads[name] = x
    starts = np.arange(0, 10, RR_S)
    beats = [(int((s + QRS_ON_S) * FS), int((s + QRS_OFF_S) * FS)) for s in starts]
    return leads, beats


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """Return (source leads, beats, the Recording read from their rendered 3x4 + rhythm report)."""
    leads, beats = _synthetic_leads()
    path = tmp_path_factory.mktemp("report") / "report.png"
    Image.fromarray(render.render_report(leads, FS, dpi=150).image).save(path)
    return leads, beats, load(path)


def _scores(source, beats, rec):
    zero = float(np.median(source["II"]))
    offset = strip_offset(rec.signal, rec.fs, source["II"], zero)
    return {name: score_lead(rec.leads[name], rec.fs, offset, source[name], zero, beats) for name in STANDARD_LEADS}


def test_a_report_gives_twelve_named_leads_in_their_columns(synthetic):
    _, _, rec = synthetic
    assert rec.leads is not None and set(rec.leads) == set(STANDARD_LEADS), rec.notes
    assert any("lead names inferred from the standard 3x4 layout" in n for n in rec.notes), rec.notes
    # The rhythm strip is still the analysed signal; every lead is on its time axis.
    assert "bottom row" in rec.lead and all(x.shape == rec.signal.shape for x in rec.leads.values())
    spans = {}
    for name, x in rec.leads.items():
        k = np.flatnonzero(~np.isnan(x))
        spans[name] = (k[0] / rec.fs, k[-1] / rec.fs, k.size / rec.fs)
    # Lead II is the whole rhythm strip (it matches the II column); the others one 2.5 s column each.
    assert spans["II"][2] >= 9.5
    for row in render.LEAD_GRID:
        for j, name in enumerate(row):
            if name == "II":
                continue
            first, last, seconds = spans[name]
            # Column j covers [2.5 j, 2.5 (j + 1)) s of the page; the strip starts 0.2 s into it.
            assert 2.5 * j - 0.2 - 0.05 <= first and last <= 2.5 * (j + 1) - 0.2 + 0.05, (name, spans[name])
            assert seconds >= 2.0, (name, spans[name])  # less a name printed across a QRS


def test_pulse_and_lead_changes_are_cut_out(synthetic):
    source, _, rec = synthetic
    # Where one lead gives way to the next (the tick), no lead of that row has a sample.
    for row in render.LEAD_GRID:
        for j in (1, 2, 3):
            change = int(round((2.5 * j - 0.2) * rec.fs))
            for name in (row[j - 1], row[j]):
                if name != "II":
                    assert np.isnan(rec.leads[name][change - 2: change + 3]).all(), (name, j)
    # The calibration pulse: the first leads start with the strip, after it, at their drawn level.
    zero = float(np.median(source["II"]))
    offset = strip_offset(rec.signal, rec.fs, source["II"], zero)
    for name in ("I", "II", "III"):
        first = int(np.flatnonzero(~np.isnan(rec.leads[name]))[0])
        drawn = source[name][int(round((first / rec.fs + offset) * FS))] - zero
        assert first <= 0.1 * rec.fs and rec.leads[name][first] == pytest.approx(drawn, abs=0.05), name


def test_each_lead_matches_its_source_and_st_elevation_is_read(synthetic):
    source, beats, rec = synthetic
    scores = _scores(source, beats, rec)
    for name, s in scores.items():
        assert s["corr"] >= 0.9 and s["rms"] <= 0.1 and abs(s["offset_ms"]) <= 8, (name, s["corr"], s["rms"])
    st = {name: np.nanmean([b["st_read"] for b in s["beats"]]) for name, s in scores.items()}
    assert st["V2"] == pytest.approx(ST_ELEVATED_MV, abs=0.05), st
    assert all(abs(v) <= 0.05 for name, v in st.items() if name != "V2"), st
    qrs = [b["qrs_read"] - b["qrs_true"] for s in scores.values() for b in s["beats"]]
    assert np.nanmax(np.abs(qrs)) <= 0.15


def test_a_ludb_record_reads_back_lead_by_lead(tmp_path, data_dir):
    from ecgportal.testing import require

    from ml.lab.evaluate_report_leads import read_record

    ludb = data_dir / "ludb"
    require((ludb / "data" / "24.hea").is_file(), f"LUDB not found under {data_dir}; see ludb/SOURCE.md")
    source, qrs = read_record(ludb, 24)  # complete LBBB and anterior STEMI
    path = tmp_path / "ludb24.png"
    Image.fromarray(render.render_report(source, FS, dpi=150).image).save(path)
    rec = load(path)
    assert rec.leads is not None, rec.notes
    zero = float(np.median(source["II"][: int(10 * FS)]))
    offset = strip_offset(rec.signal, rec.fs, source["II"], zero)
    for name in STANDARD_LEADS:
        s = score_lead(rec.leads[name], rec.fs, offset, source[name], zero, qrs[name])
        assert s["corr"] >= 0.9, (name, s["corr"])
        st = [b["st_read"] - b["st_true"] for b in s["beats"]]
        assert np.nanmax(np.abs(st)) <= 0.1, (name, st)


# --- pages that are not the standard layout -----------------------------------------------------


def test_a_single_rhythm_strip_has_no_named_leads(tmp_path):
    leads, _ = _synthetic_leads()
    path = tmp_path / "strip.png"
    Image.fromarray(render.render_report(leads, FS, layout="strip", dpi=150).image).save(path)
    rec = load(path)
    assert rec.leads is None and rec.n_leads == 1


def test_three_rhythm_strips_are_not_taken_for_a_3x4_page(tmp_path):
    leads, _ = _synthetic_leads()
    strips = [render.render_report(leads, FS, layout="strip", dpi=150, header=False, rhythm_lead=name).image
              for name in ("V1", "II", "V5")]
    path = tmp_path / "three_strips.png"
    Image.fromarray(np.vstack(strips)).save(path)
    rec = load(path)
    assert rec.leads is None
    assert any("not recognised as the standard 3x4" in n for n in rec.notes), rec.notes
    # The reason the result's not-assessed list gives for the ST segments it could not read.
    assert rec.n_leads == 12 and rec.leads_unread.startswith(
        "only one lead was read: the page was not recognised as the standard 3x4"), rec.leads_unread


def test_a_report_without_paper_grid_has_no_named_leads(tmp_path):
    leads, _ = _synthetic_leads()
    img = render.render_report(leads, FS, dpi=150).image.copy()
    pink = (img.max(axis=2).astype(int) - img.min(axis=2)) > 20
    img[pink] = 255
    path = tmp_path / "no_grid.png"
    Image.fromarray(img).save(path)
    rec = load(path)
    assert rec.leads is None
    assert any("3x4" in n and "scale" in n for n in rec.notes), rec.notes
