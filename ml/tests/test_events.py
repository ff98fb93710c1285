"""Holter-style events (ml.events): what a reader of a long record would see, event by event.

Synthetic beats and signals pin each rule's boundaries; two real MIT-BIH records (232: long
pauses; 203: ventricular tachycardia) check the rules on reference annotations.
"""

import json
import time

import numpy as np
import pytest

from ml import events

FS = 360.0


def beats_at(rr_s, start_s=1.0):
    """Return R-peak samples for successive RR intervals ``rr_s`` (s), the first at ``start_s``."""
    t = start_s + np.concatenate(([0.0], np.cumsum(rr_s)))
    return np.round(t * FS).astype(np.int64)


def ecg(r_peaks, duration_s, *, seed=0):
    """Return a clean band-passed-looking ECG (mV): P, QRS and T waves at each beat over a quiet,
    slowly wandering baseline with a little band-limited noise."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * FS)
    t = np.arange(n) / FS
    noise = np.convolve(rng.normal(0, 0.01, n), np.ones(12) / 12, mode="same")
    x = 0.02 * np.sin(2 * np.pi * 0.3 * t) + noise
    for p in np.asarray(r_peaks) / FS:
        x += 1.0 * np.exp(-0.5 * ((t - p) / 0.012) ** 2)
        x += 0.2 * np.exp(-0.5 * ((t - p - 0.30) / 0.04) ** 2)
        x += 0.1 * np.exp(-0.5 * ((t - p + 0.16) / 0.025) ** 2)
    return x


def kinds(found):
    return [e.kind for e in found]


def of_kind(found, kind):
    return [e for e in found if e.kind == kind]


# ----------------------------------------------------------------------------- runs and patterns
def test_two_ventricular_beats_are_a_couplet_not_a_run():
    labels = list("NNNVVNNN")
    found = events.find_events(beats_at([0.8] * 7), labels, FS)
    assert kinds(found) == ["ventricular_couplet"]
    assert found[0].beats == 2


@pytest.mark.parametrize("n_v", [3, 4, 7])
def test_three_or_more_ventricular_beats_are_one_run_with_its_rate(n_v):
    labels = ["N"] * 4 + ["V"] * n_v + ["N"] * 4
    rr = [0.8] * 4 + [0.4] * (n_v - 1) + [0.8] * 5
    found = events.find_events(beats_at(rr[: len(labels) - 1]), labels, FS)
    runs = of_kind(found, "ventricular_run")
    assert len(runs) == 1 and not of_kind(found, "ventricular_couplet")
    assert runs[0].beats == n_v
    assert runs[0].rate_bpm == pytest.approx(150.0, abs=1)
    assert f"{n_v} consecutive ventricular beats at 150/min" in runs[0].evidence


def test_escape_beats_count_as_ventricular():
    found = events.find_events(beats_at([1.2] * 6), list("NVEVNNN"), FS)
    assert kinds(found) == ["ventricular_run"]


def test_a_ventricular_run_of_30_s_or_more_is_called_sustained():
    labels = ["N"] * 3 + ["V"] * 80 + ["N"] * 3
    found = events.find_events(beats_at([0.4] * (len(labels) - 1)), labels, FS)
    run = of_kind(found, "ventricular_run")[0]
    assert run.end_s - run.start_s >= 30
    assert "sustained" in run.evidence


def test_three_consecutive_atrial_premature_beats_are_a_supraventricular_run():
    found = events.find_events(beats_at([0.8] * 9), list("NNNAAANNNN"), FS)
    assert kinds(found) == ["supraventricular_run"]
    assert events.find_events(beats_at([0.8] * 8), list("NNNAANNNN"), FS) == []


def test_bigeminy_needs_three_cycles():
    three = events.find_events(beats_at([0.8] * 8), list("NNVNVNVNN"), FS)
    assert kinds(three) == ["ventricular_bigeminy"]
    assert three[0].beats == 6
    assert events.find_events(beats_at([0.8] * 6), list("NNVNVNN"), FS) == []


def test_bigeminy_on_a_paced_rhythm_is_still_bigeminy():
    found = events.find_events(beats_at([0.8] * 7), list("PVPVPVPP"), FS)
    assert kinds(found) == ["ventricular_bigeminy"]


def test_trigeminy_is_every_third_beat_ventricular():
    found = events.find_events(beats_at([0.8] * 10), list("NNVNNVNNVNN"), FS)
    assert kinds(found) == ["ventricular_trigeminy"]
    assert found[0].beats == 9


def test_a_stretch_of_fibrillation_waves_is_ventricular_fibrillation():
    found = events.find_events(beats_at([0.8, 0.8] + [0.2] * 9 + [0.8]),
                               ["N", "N"] + ["VF"] * 10 + ["N"], FS)
    assert kinds(found) == ["ventricular_fibrillation"]
    assert found[0].beats == 10
    single = events.find_events(beats_at([0.8, 0.3, 0.8]), ["N", "VF", "N", "N"], FS)
    assert single == []


# ----------------------------------------------------------------------------- pauses and noise
def test_a_quiet_three_second_gap_is_a_pause_of_that_length():
    peaks = beats_at([0.8] * 10 + [3.0] + [0.8] * 10)
    x = ecg(peaks, 25)
    found = events.find_events(peaks, ["N"] * peaks.size, FS, signal=x)
    pauses = of_kind(found, "pause")
    assert len(pauses) == 1 and "unreadable" not in kinds(found)
    assert pauses[0].value == pytest.approx(3.0, abs=0.01) and pauses[0].unit == "s"
    assert pauses[0].start_s == pytest.approx(9.0, abs=0.01)


def test_a_noisy_gap_is_unreadable_not_a_pause():
    peaks = beats_at([0.8] * 10 + [3.0] + [0.8] * 10)
    x = ecg(peaks, 25)
    gap = slice(int(9.2 * FS), int(11.8 * FS))
    x[gap] += np.random.default_rng(1).normal(0, 0.15, x[gap].size)
    found = events.find_events(peaks, ["N"] * peaks.size, FS, signal=x)
    assert "pause" not in kinds(found)
    unreadable = of_kind(found, "unreadable")
    assert unreadable and unreadable[0].start_s <= 9.0 and unreadable[0].end_s >= 12.0
    assert "Unreadable from" in unreadable[0].evidence


def test_a_flat_line_gap_is_lost_signal_not_a_pause():
    peaks = beats_at([0.8] * 10 + [4.0] + [0.8] * 10)
    x = ecg(peaks, 26)
    x[int(9.1 * FS): int(12.9 * FS)] = 0.0
    found = events.find_events(peaks, ["N"] * peaks.size, FS, signal=x)
    assert "pause" not in kinds(found)
    assert any("flat line" in e.evidence for e in of_kind(found, "unreadable"))


def test_without_a_signal_a_long_gap_cannot_be_called_a_pause():
    peaks = beats_at([0.8] * 5 + [3.0] + [0.8] * 5)
    found = events.find_events(peaks, ["N"] * peaks.size, FS)
    assert kinds(found) == ["unreadable"]


def test_a_long_noisy_stretch_is_unreadable_and_its_beats_form_no_run():
    peaks = beats_at([0.8] * 74)
    x = ecg(peaks, 62)
    noisy = slice(int(20 * FS), int(32 * FS))
    x[noisy] += np.random.default_rng(2).normal(0, 0.2, x[noisy].size)
    t = peaks / FS
    labels = np.where((t > 20) & (t < 32), "V", "N")  # what a classifier may make of noise
    found = events.find_events(peaks, labels, FS, signal=x)
    assert not of_kind(found, "ventricular_run")
    stretch = of_kind(found, "unreadable")
    assert len(stretch) == 1
    assert stretch[0].start_s <= 21 and stretch[0].end_s >= 31


# ----------------------------------------------------------------------------- rate episodes
def test_a_sustained_fast_rate_is_tachycardia():
    found = events.find_events(beats_at([0.8] * 10 + [0.5] * 40 + [0.8] * 10), ["N"] * 61, FS)
    tachy = of_kind(found, "tachycardia")
    assert len(tachy) == 1
    assert tachy[0].value == pytest.approx(120, abs=1) and tachy[0].unit == "bpm"
    assert 19 <= tachy[0].end_s - tachy[0].start_s <= 23


def test_a_short_fast_stretch_is_not_tachycardia():
    assert events.find_events(beats_at([0.8] * 10 + [0.5] * 12 + [0.8] * 10), ["N"] * 33, FS) == []


def test_a_ventricular_run_is_not_reported_again_as_tachycardia():
    labels = ["N"] * 5 + ["V"] * 40 + ["N"] * 5
    found = events.find_events(beats_at([0.8] * 5 + [0.4] * 40 + [0.8] * 4), labels, FS)
    assert kinds(found) == ["ventricular_run"]


def test_a_sustained_slow_rate_is_bradycardia():
    found = events.find_events(beats_at([1.0] * 5 + [1.8] * 12 + [1.0] * 5), ["N"] * 23, FS)
    brady = of_kind(found, "bradycardia")
    assert len(brady) == 1 and brady[0].value == pytest.approx(33.3, abs=0.5)


def test_heart_rate_extremes_ignore_double_detections():
    rr = [1.0] * 20 + [0.5] * 20 + [0.1] + [1.0] * 20  # a 0.1-s interval is a double detection
    hr = events.heart_rate_extremes(beats_at(rr), FS)
    assert hr["max"]["bpm"] == pytest.approx(120, abs=0.5)
    assert hr["min"]["bpm"] == pytest.approx(60, abs=0.5)
    assert 21 <= hr["max"]["time_s"] <= 41
    assert events.heart_rate_extremes(beats_at([1.0] * 5), FS) is None


def test_heart_rate_extremes_leave_out_fibrillation_waves():
    rr = [1.0] * 20 + [0.2] * 15 + [1.0] * 20
    labels = ["N"] * 21 + ["VF"] * 14 + ["N"] * 21
    hr = events.heart_rate_extremes(beats_at(rr), FS, labels=labels)
    assert hr["max"]["bpm"] == pytest.approx(60, abs=0.5)


# ----------------------------------------------------------------------------- contract
def test_events_on_unsure_beats_are_marked_and_say_so():
    labels = list("NNNVVVNNN")
    conf = np.full(9, 0.99)
    conf[4] = 0.5
    run = events.find_events(beats_at([0.8] * 8), labels, FS, confidence=conf)[0]
    assert run.unsure and "unsure of 1 of these 3 beats" in run.evidence
    conf[4] = 0.9
    assert not events.find_events(beats_at([0.8] * 8), labels, FS, confidence=conf)[0].unsure


def test_events_are_sorted_by_start_and_serialise_to_json():
    labels = list("NNAAANNVVNNNVVVNN") + ["N"] * 5
    peaks = beats_at([0.8] * 16 + [3.0] + [0.8] * 4)
    x = ecg(peaks, 25)
    found = events.find_events(peaks, labels, FS, signal=x)
    assert kinds(found) == ["supraventricular_run", "ventricular_couplet", "ventricular_run", "pause"]
    assert [e.start_s for e in found] == sorted(e.start_s for e in found)
    assert all(e.kind in events.KINDS for e in found)
    data = json.loads(json.dumps([e.to_dict() for e in found]))
    assert data[3]["kind"] == "pause" and data[3]["value"] == pytest.approx(3.0, abs=0.01)


def test_unsorted_beats_are_sorted_with_their_labels():
    peaks = beats_at([0.8] * 8)
    labels = list("NNNVVVNNN")
    order = np.random.default_rng(0).permutation(peaks.size)
    found = events.find_events(peaks[order], np.array(labels)[order], FS)
    assert kinds(found) == ["ventricular_run"]


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="labels"):
        events.find_events([100, 400], ["N"], FS)
    with pytest.raises(ValueError, match="unknown beat codes"):
        events.find_events([100, 400], ["N", "Q"], FS)


def test_a_thirty_minute_record_takes_well_under_a_second():
    rng = np.random.default_rng(3)
    peaks = beats_at(rng.uniform(0.6, 1.0, 2300))
    labels = rng.choice(["N", "N", "N", "V", "A"], peaks.size)
    x = rng.normal(0, 0.05, int(1800 * FS) + 720)
    events.find_events(peaks, labels, FS, signal=x)
    t0 = time.perf_counter()
    events.find_events(peaks, labels, FS, signal=x)
    assert time.perf_counter() - t0 < 0.5


# ----------------------------------------------------------------------------- MIT-BIH records
def _rules_on_reference(mitdb, record):
    """Return (reference record, events of its reference beats and labels with its signal)."""
    from ml.lab.evaluate_events import read_reference, rules_on_reference

    ref = read_reference(mitdb, record)
    return ref, rules_on_reference(ref)


def test_record_232_long_pauses_are_found(mitdb):
    ref, found = _rules_on_reference(mitdb, 232)
    pauses = of_kind(found, "pause")
    long_rr = np.sum(np.diff(ref.samples) >= 2.0 * ref.fs)  # 116 reference RR of 2 s or more
    assert len(pauses) >= 0.9 * long_rr
    assert max(p.value for p in pauses) == pytest.approx(5.87, abs=0.05)
    assert all(p.start_s >= 0 and p.end_s - p.start_s >= 2.0 for p in pauses)


def test_record_203_ventricular_tachycardia_runs_are_found(mitdb):
    ref, found = _rules_on_reference(mitdb, 203)
    runs = [(e.start_s, e.end_s) for e in of_kind(found, "ventricular_run") if e.rate_bpm > 100]
    episodes = [(a, b) for name, a, b in ref.rhythms if name == "(VT"]
    assert len(episodes) == 21
    found_episodes = [any(s <= b and a <= e for s, e in runs) for a, b in episodes]
    assert sum(found_episodes) >= 20
