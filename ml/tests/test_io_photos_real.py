"""Real pictures of ``<data>/ecg-photos`` that were refused, and the general causes found in them.

Each cause has a test on the real picture (read by path from ECG_DATA_DIR; heart rates counted by
eye on the printed strip) and, where it can be made, a synthetic one:

- the grid's scale from its spectrum (``ml.io.image._grid_comb``): small pictures whose 1-mm lines
  are 2-4 pixels apart alias into beats, and the autocorrelation's first repeat misreads them;
- a faint trace (light grey print, a small picture's anti-aliased line) is as light as the text
  is dark, and breaks where each grid line crosses it: a faint pass keeps every dark grey pixel and
  bridges 1-mm breaks (real pictures only: a rendered report lightened until the first pass fails
  loses its thin QRS strokes before the trace breaks);
- two beats closer than a heart beats (under 0.25 s) are one counted twice (a notched QRS, a
  lead-change mark): the gate refuses that row, and the next is tried;
- a faint trace may also lose thin QRS strokes: read faint, a regular rhythm with a gap twice the
  others is refused (``ml.io.gate.ecg_evidence(lost_beats=True)``) and the next row is tried;
- past the end of a trace the column reader may follow the grid's vertical lines: a zigzag at a
  row's end is cut off before the beats are sought.
"""

import numpy as np
import pytest
from PIL import Image

from ml import errors
from ml.detect import detect_r_peaks
from ml.io import gate, load, render
from ml.io import image as reader


def _hr(rec):
    peaks = detect_r_peaks(rec.signal, rec.fs)
    return 60.0 / np.mean(np.diff(peaks)) * rec.fs


def _photo(data_dir, name):
    path = data_dir / "ecg-photos" / "images" / name
    if not path.is_file():
        pytest.skip(f"{path} not found (ecg-photos is not part of the data here)")
    return path


def _grid_scale(rgb):
    lum, chroma = reader._lum_chroma(np.asarray(rgb, dtype=np.float64))
    ink = reader._ink(lum)
    return reader._paper_grid(rgb, lum, chroma, ink)[0], reader._grid_comb_px_per_mm(lum, chroma, ink)


@pytest.fixture(scope="module")
def leads(data_dir):
    import wfdb

    path = str(data_dir / "mitdb" / "100")
    fs = wfdb.rdheader(path).fs
    rec = wfdb.rdrecord(path, sampfrom=int(60 * fs), sampto=int(70 * fs))
    ann = wfdb.rdann(path, "atr", sampfrom=int(60 * fs), sampto=int(70 * fs))
    beats = np.array([s for s, sym in zip(ann.sample, ann.symbol) if sym in "NLRAaJSVFejE/fQ!"]) / fs
    return render.twelve_leads(rec.p_signal[:, 0], rec.p_signal[:, 1]), fs, 60.0 / np.mean(np.diff(beats))


# --- the grid's scale from its spectrum --------------------------------------------------------


def test_a_small_report_is_read_at_the_scale_of_its_grid_spectrum(tmp_path, leads):
    signals, fs, ref_hr = leads
    dpi = 72  # 1-mm lines 2.83 pixels apart
    img = render.render_report(signals, fs, dpi=dpi).image
    line_by_line, spectrum = _grid_scale(img)
    true = dpi / 25.4
    assert spectrum == pytest.approx(true, rel=0.01)
    assert abs(np.log(line_by_line / true)) > np.log(1.2)  # the aliased 1-mm lines misread
    Image.fromarray(img).save(tmp_path / "report.png")
    rec = load(tmp_path / "report.png")
    assert abs(_hr(rec) - ref_hr) <= 5.0, (_hr(rec), ref_hr, rec.notes)
    assert any("spectrum" in n for n in rec.notes), rec.notes


def test_the_grid_spectrum_needs_the_heavy_5mm_lines():
    x = np.arange(1200)
    even = (x % 4 == 0).astype(float)  # lines every 4 px, none heavier: 1 mm or 5 mm? not said
    assert reader._grid_comb(even) is None
    assert reader._grid_comb(np.random.default_rng(0).normal(size=1200)) is None
    heavy = even + 2.0 * (x % 20 == 0)
    assert reader._grid_comb(heavy) == pytest.approx(20.0, rel=0.01)


@pytest.mark.parametrize("name", ["ecg00019.bmp", "ecg00021.bmp", "ecg00022.bmp"])
def test_real_small_scans_grid_scale_from_the_spectrum(data_dir, name):
    # 640-pixel-wide scans: 5-mm squares 13.3-13.5 pixels (counted), 1-mm lines 2.7 pixels apart.
    rgb = np.asarray(Image.open(_photo(data_dir, name)).convert("RGB"), dtype=np.float64)
    line_by_line, spectrum = _grid_scale(rgb)
    assert spectrum == pytest.approx(2.68, rel=0.02)
    assert line_by_line < 1.5  # read as a 2-mm repeat of aliased lines: every rate would be off


# --- a faint trace ----------------------------------------------------------------------------


@pytest.mark.parametrize("name,lo,hi", [
    ("ecg00010.png", 52, 63),  # faint grey on a red grid, 768 px; II strip RR ~26 mm: ~58 bpm
    ("ecg00014.png", 52, 63),  # the same page
    ("ecg00015.png", 80, 89),  # 3x4, 999 px; RR ~17.7 mm: ~85 bpm
    ("ecg00003.png", 108, 120),  # 3x4 + II, pink grid of dots; RR ~13.1 mm: ~114 bpm
    ("ecg00006.png", 88, 98),  # 3x4 + V1, II, V5 strips, broken QRS strokes; RR ~16 mm: ~93 bpm
    ("ecg00019.bmp", 63, 73),  # 3x4 of 640 px, 1-mm lines 2.7 px apart; RR ~22 mm: ~68 bpm
])
def test_real_faint_traces_are_read(data_dir, name, lo, hi):
    rec = load(_photo(data_dir, name))
    assert lo <= _hr(rec) <= hi, (_hr(rec), rec.notes)
    assert rec.scale_known, rec.notes


# --- a zigzag past the end of a trace ----------------------------------------------------------


def test_a_zigzag_at_a_rows_end_is_cut_off():
    mm = 6.0
    t = np.arange(1500)
    rows = 100.0 - 40.0 * np.exp(-0.5 * ((t % 300 - 150) / 3.0) ** 2)  # spikes every 300 columns
    cut, n = reader._trim_ragged_ends(rows.copy(), mm)
    assert n == 0 and cut.size == rows.size  # steep QRS strokes are no zigzag
    ragged = rows.copy()
    ragged[-120:] = np.where((t[-120:] // 2) % 2 == 0, 40.0, 160.0)  # grid lines, two columns each
    cut, n = reader._trim_ragged_ends(ragged, mm)
    assert 110 <= n <= 140 and np.ptp(cut) <= np.ptp(rows)


def test_real_partial_photo_is_refused_with_advice(data_dir):
    # Two 4-s strips photographed close up (ecg00008): beyond the V4 trace the reader followed the
    # grid's vertical lines; with them cut off, the short rows are refused, and the photo retaken.
    with pytest.raises(errors.RetakePhotoError) as exc:
        load(_photo(data_dir, "ecg00008.jpg"))
    assert "whole page" in str(exc.value)


def test_a_photo_whose_rows_lose_beats_is_refused_with_advice(data_dir):
    # ecg00040: a tachycardia at ~144 bpm (counted by eye) photographed on a dotted grid; the row
    # read used to lose every other beat in its first half (70 bpm, then 135). Its fallback rows
    # lose or add beats, its strip's length disagrees with the grid: refused, with what to change.
    with pytest.raises(errors.RetakePhotoError) as exc:
        load(_photo(data_dir, "ecg00040.jpg"))
    assert "take the photo again" in str(exc.value) and exc.value.advice


def test_a_beat_lost_in_reading_a_faint_trace_is_refused(record_segment):
    x, fs, beats, _ = record_segment("100", 60.0, 10.0)
    lost = x.copy()
    r = int(beats[len(beats) // 2])
    a, b = r - int(0.25 * fs), r + int(0.25 * fs)
    lost[a:b] = np.linspace(lost[a], lost[b], b - a)  # the QRS stroke was never picked up
    assert gate.ecg_evidence(x, fs, calibrated=True, lost_beats=True)[0] is None
    reason, feats = gate.ecg_evidence(lost, fs, calibrated=True, lost_beats=True)
    assert reason and "lost" in reason and feats["lost_beats"] == 1
    assert gate.ecg_evidence(lost, fs, calibrated=True)[0] is None  # other readings keep it


def test_a_beat_counted_twice_is_refused(record_segment):
    x, fs, beats, _ = record_segment("100", 60.0, 10.0)
    marked = x.copy()
    r, h = int(beats[len(beats) // 2]) + int(0.21 * fs), int(0.02 * fs)  # a mark 0.21 s after a QRS
    marked[r - h: r + h + 1] += np.ptp(x) * np.hanning(2 * h + 1)
    assert gate.ecg_evidence(x, fs, calibrated=True)[0] is None
    reason, feats = gate.ecg_evidence(marked, fs, calibrated=True)
    assert reason and "apart" in reason and feats["shortest_rr_s"] < 0.25


def test_a_wave_counted_as_a_beat_is_refused_in_a_picture(record_segment):
    # A tall T wave (or a mark) counted between two beats: two gaps that add up to one.
    x, fs, beats, _ = record_segment("100", 60.0, 10.0)
    marked = x.copy()
    r, h = int(beats[len(beats) // 2]) + int(0.4 * fs), int(0.02 * fs)
    marked[r - h: r + h + 1] += np.ptp(x) * np.hanning(2 * h + 1)
    reason, feats = gate.ecg_evidence(marked, fs, calibrated=True, lost_beats=True)
    assert reason and "counted as a heartbeat" in reason and feats["extra_beats"] == 1
    assert gate.ecg_evidence(x, fs, calibrated=True, lost_beats=True)[0] is None


@pytest.mark.parametrize("rr,lost,extra", [
    ([0.8] * 8 + [1.6] + [0.8] * 3, 1, 0),  # a beat lost
    ([0.8] * 8 + [0.35, 0.45] + [0.8] * 3, 0, 1),  # a wave counted between two beats
    ([0.8] * 8 + [0.62, 0.62] + [0.8] * 3, 0, 0),  # each over 3/4 of the usual gap: not added
    ([0.8] * 8 + [0.3, 0.3] + [0.8] * 3, 0, 0),  # adding up to 0.75 of one: not one beat split
    ([0.8] * 8 + [1.3] + [0.8] * 3, 0, 0),  # a pause under 1.75 gaps: the rhythm's own
    ([0.5, 0.9, 0.6, 1.2, 0.7, 1.0, 0.45, 1.1, 0.8, 0.55, 1.0, 0.35, 0.45], 0, 0),  # irregular: AF
])
def test_beats_lost_or_added_in_a_regular_rhythm(rr, lost, extra):
    assert gate.misread_beats(rr) == (lost, extra)


@pytest.mark.parametrize("name,lo,hi", [
    ("ecg00044.jpg", 88, 102),  # 3x4 + II photo; RR ~14 mm: ~95 bpm (read 142 with doubled beats)
    ("ecg00013.jpg", 78, 92),  # 3x4 without a rhythm strip, ~85 bpm (read 96: lead-change marks)
])
def test_real_reports_with_beats_counted_twice_are_read_from_another_row(data_dir, name, lo, hi):
    rec = load(_photo(data_dir, name))
    assert lo <= _hr(rec) <= hi, (_hr(rec), rec.notes)


# --- every real picture against the rate counted by eye ----------------------------------------

# Of the 52 real pictures, those read with a heart rate within 5 bpm of the rate counted by eye
# on the picture (bench/ecg_photos_reference.csv): 34 before the two-pass beat detector, 35 with it
# (bench/RESULTS-photos-real.md). A floor, so a change that reads fewer of them right fails here.
READ_RIGHT_AT_LEAST = 35


@pytest.mark.slow
def test_real_pictures_are_read_at_the_rate_counted_by_eye(data_dir):
    import csv
    from pathlib import Path

    folder = data_dir / "ecg-photos" / "images"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found (ecg-photos is not part of the data here)")
    reference = Path(__file__).resolve().parents[2] / "bench" / "ecg_photos_reference.csv"
    with reference.open() as fh:
        counted = {r["file"]: float(r["heart_rate_bpm"]) for r in csv.DictReader(fh) if r["heart_rate_bpm"]}
    right, wrong = [], []
    for name, hr in sorted(counted.items()):
        try:
            rec = load(folder / name)
        except errors.InvalidSignalError:
            continue  # refused: with a reason (tested above), never a wrong rate
        (right if abs(_hr(rec) - hr) <= 5.0 else wrong).append(name)
    assert len(right) >= READ_RIGHT_AT_LEAST, (len(right), wrong)
