"""ml.quality.assess: clean records pass, unusable traces are refused with a reason a user can read."""

import numpy as np
import pytest

from ml.detect import detect_r_peaks
from ml.quality import GOOD, UNUSABLE, assess


def _assess(x, fs, **kw):
    return assess(x, fs, detect_r_peaks(x, fs), **kw)


@pytest.mark.parametrize("record,start", [("100", 0.0), ("119", 30.0)])
def test_clean_record_is_good(record_segment, record, start):
    x, fs, _, _ = record_segment(record, start, 30.0)
    q = _assess(x, fs)
    assert q.verdict == GOOD, q.reasons
    assert q.usable and q.reasons == []
    assert 50 <= q.metrics["heart_rate_bpm"] <= 100
    assert q.to_dict()["verdict"] == GOOD


def test_flat_line_is_unusable():
    q = _assess(np.full(3600, 0.2), 360.0)
    assert q.verdict == UNUSABLE and not q.usable
    assert "flat line" in " ".join(q.reasons)


def test_electrode_off_for_most_of_the_time(record_segment):
    x, fs, _, _ = record_segment("100", 0.0, 30.0)
    x[int(5 * fs):] = x[int(5 * fs)]
    q = _assess(x, fs)
    assert q.verdict == UNUSABLE
    assert any("flat for" in r for r in q.reasons)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gaussian_noise_is_unusable(seed):
    fs = 360.0
    x = np.random.default_rng(seed).normal(0, 0.5, int(30 * fs))
    q = _assess(x, fs)
    assert q.verdict == UNUSABLE, q.metrics
    assert any("noise" in r or "not plausible" in r for r in q.reasons), q.reasons


def test_clipped_signal_is_unusable(record_segment):
    x, fs, _, _ = record_segment("100", 0.0, 30.0)
    lo, hi = np.percentile(x, [30, 70])
    clipped = np.clip(x, lo, hi)  # a saturated amplifier: the trace is stuck at its limits
    q = _assess(clipped, fs)
    assert q.verdict == UNUSABLE
    assert any("clipped" in r for r in q.reasons), q.reasons


def test_slightly_clipped_r_peaks_are_only_poor(record_segment):
    x, fs, _, _ = record_segment("100", 0.0, 30.0)
    q = _assess(np.clip(x, None, np.percentile(x, 97.0)), fs)
    assert q.verdict != UNUSABLE
    assert any("clipped" in r for r in q.reasons)


@pytest.mark.parametrize("spacing_s,phrase", [(0.15, "400 bpm"), (4.0, "15 bpm")])
def test_implausible_heart_rate_is_unusable(record_segment, spacing_s, phrase):
    x, fs, _, _ = record_segment("100", 0.0, 30.0)
    peaks = np.arange(int(0.5 * fs), x.size, int(spacing_s * fs))
    q = assess(x, fs, peaks)
    assert q.verdict == UNUSABLE
    assert any("not plausible" in r and phrase in r for r in q.reasons), q.reasons


def test_too_few_beats_is_unusable(record_segment):
    x, fs, beats, _ = record_segment("100", 0.0, 10.0)
    q = assess(x, fs, beats[:2])
    assert q.verdict == UNUSABLE
    assert any("Only 2 heartbeats found" in r for r in q.reasons)


def test_noisy_but_usable_record_is_not_unusable(record_segment, rng):
    x, fs, beats, _ = record_segment("100", 0.0, 30.0)
    noisy = x + rng.normal(0, 0.05, x.size) + 0.2 * np.sin(2 * np.pi * 0.3 * np.arange(x.size) / fs)
    peaks = detect_r_peaks(noisy, fs)
    assert abs(len(peaks) - len(beats)) <= 1
    q = assess(noisy, fs, peaks)
    assert q.verdict != UNUSABLE, q.reasons


def test_heavy_noise_on_a_record_is_flagged(record_segment, rng):
    x, fs, _, _ = record_segment("100", 0.0, 30.0)
    q = _assess(x + rng.normal(0, 0.3, x.size), fs)
    assert q.verdict != GOOD
    assert any("nois" in r for r in q.reasons), q.reasons


def test_single_digitised_beat_skips_rhythm_checks(record_segment):
    x, fs, beats, _ = record_segment("100", 0.0, 10.0)
    b = beats[3]
    one = x[b - int(0.6 * fs): b + int(0.6 * fs)]
    q = assess(one, fs, [int(0.6 * fs)], kind="image-beat")
    assert q.verdict != UNUSABLE, q.reasons
    assert "heart_rate_bpm" not in q.metrics
    # The same beat as a "signal" has too few beats to judge a rhythm.
    assert assess(one, fs, [int(0.6 * fs)]).verdict == UNUSABLE


def test_empty_and_nan_signals_are_unusable():
    assert assess(np.zeros(0), 360, []).verdict == UNUSABLE
    x = np.sin(np.arange(3600) / 10.0)
    x[5] = np.nan
    q = assess(x, 360, [])
    assert q.verdict == UNUSABLE and "missing values" in q.reasons[0]
