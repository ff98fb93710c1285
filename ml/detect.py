"""R-peak detection: Pan & Tompkins (1985) with zero-phase filters, peaks refined on the raw signal.

Pan J, Tompkins WJ. A real-time QRS detection algorithm. IEEE Trans Biomed Eng 32(3):230-236, 1985.

The filter chain (band-pass, derivative, squaring, moving-window integration) is vectorised over the
whole record; the adaptive-threshold decision of the paper (signal/noise peak levels, search-back
for missed beats, T-wave discrimination) runs over the candidate peaks only, a few per second.
Zero-phase filtering removes the paper's fixed filter delays, so no delay bookkeeping is needed.
The decision runs twice (:data:`TWO_PASS`): the second pass starts from the first one's median RR
interval instead of the paper's learning phase.
Scored on all 48 MIT-BIH records by ``python -m ml.lab.evaluate_detector`` (ml/reports/rpeak_detection.md).
"""

import numpy as np
from scipy import signal as sps

from ml.preprocess import butter_sos

BAND_HZ = (5.0, 15.0)  # QRS energy band used by Pan & Tompkins
INTEGRATION_S = 0.150  # moving-window integration width
REFRACTORY_S = 0.200  # no two beats closer than this
T_WAVE_S = 0.360  # a candidate this soon after a beat may be its T wave
SEARCHBACK_RR = 1.66  # search back for a missed beat after 166 % of the mean RR
REFINE_S = 0.075  # half-width of the raw-signal window where the R peak is located
THRESHOLD_FRACTION = 0.3
P_WAVE_SLOPE_RATIO = 1.4
HEIGHT_POWER = 0.5
# Two passes: the first finds the rhythm, the second starts from its median RR, so the search back
# for missed beats works from the first beat instead of after eight. Without it a fast rhythm whose
# first beats were missed (a photo's noisy start, a lead change in a picture's row) kept an average
# RR of two beats and never searched back: every other beat lost, the heart rate halved.
TWO_PASS = True


def detect_r_peaks(signal, fs) -> np.ndarray:
    """Return the sample indices (sorted, int64) of the R peaks in ``signal`` sampled at ``fs`` Hz."""
    x = np.asarray(signal, dtype=np.float64).ravel()
    fs = float(fs)
    if x.size < int(0.5 * fs) or not np.all(np.isfinite(x)) or np.ptp(x) == 0:
        return np.zeros(0, dtype=np.int64)

    filtered = _bandpass(x, fs)
    slope = np.gradient(filtered) * fs
    integrated = _moving_average(slope * slope, max(1, int(round(INTEGRATION_S * fs))))
    candidates, _ = sps.find_peaks(integrated, distance=max(1, int(round(REFRACTORY_S * fs))))
    if candidates.size == 0:
        return np.zeros(0, dtype=np.int64)
    # Each candidate's steepest slope: the T-wave test compares it with the last beat's.
    half = max(1, int(round(INTEGRATION_S * fs / 2)))
    max_slope = _window_max(np.abs(slope), candidates, half)
    heights = integrated[candidates] ** HEIGHT_POWER
    beats = _decide(candidates, heights, max_slope, fs)
    if TWO_PASS and beats.size >= 4:
        beats = _decide(candidates, heights, max_slope, fs, rr_hint=float(np.median(np.diff(beats))))
    return _refine(x, beats, fs)


def _bandpass(x: np.ndarray, fs: float) -> np.ndarray:
    high = min(BAND_HZ[1], 0.45 * fs)
    sos = butter_sos(2, [BAND_HZ[0], high], "bandpass", fs)
    return sps.sosfiltfilt(sos, x)


def _moving_average(x: np.ndarray, width: int) -> np.ndarray:
    # Centred window: no integration delay to undo afterwards.
    csum = np.concatenate(([0.0], np.cumsum(x)))
    lo = np.clip(np.arange(x.size) - width // 2, 0, x.size)
    hi = np.clip(lo + width, 0, x.size)
    return (csum[hi] - csum[lo]) / width


def _window_max(x: np.ndarray, centres: np.ndarray, half: int) -> np.ndarray:
    offsets = np.arange(-half, half + 1)
    idx = np.clip(centres[:, None] + offsets[None, :], 0, x.size - 1)
    return x[idx].max(axis=1)


def _decide(positions, heights, slopes, fs, rr_hint=None):
    """Apply the Pan-Tompkins adaptive thresholds to the candidate peaks; return beat positions."""
    learn = int(2 * fs)
    first = heights[positions < learn]
    spk = 0.25 * (first.max() if first.size else heights.max())
    npk = 0.5 * (np.mean(first) if first.size else np.median(heights))
    # Start from the typical beat level, so one artefact in the first seconds cannot blind us.
    spk = max(spk, 0.5 * np.percentile(heights, 90)) if heights.size > 10 else spk

    # The loop below reads one candidate at a time: plain Python numbers, not numpy scalars (whose
    # every index and operation costs several times more; the same float64 arithmetic either way).
    out_positions = positions
    positions, heights, slopes = positions.tolist(), heights.tolist(), slopes.tolist()

    beats: list[int] = []  # indices into positions
    beat_slopes: list[float] = []
    rr_recent: list[float] = []
    rr_limited: list[float] = [rr_hint, rr_hint] if rr_hint else []
    last_noise_since_beat: list[int] = []  # candidates below threshold since the last beat
    refractory = REFRACTORY_S * fs
    t_window = T_WAVE_S * fs

    def thresholds():
        t1 = npk + THRESHOLD_FRACTION * (spk - npk)
        return t1, 0.5 * t1

    def mean_rr():  # called for every candidate: plain Python on at most 8 numbers, not np.mean
        recent = rr_limited[-8:] if len(rr_limited) >= 2 else rr_recent[-8:]
        return float(sum(recent)) / len(recent) if recent else fs  # 60 bpm until beats are found

    def accept(i, searchback=False):
        nonlocal spk
        h = heights[i]
        spk = 0.25 * h + 0.75 * spk if searchback else 0.125 * h + 0.875 * spk
        if beats:
            rr = positions[i] - positions[beats[-1]]
            avg = mean_rr()
            rr_recent.append(rr)
            if 0.92 * avg <= rr <= 1.16 * avg or len(rr_limited) < 2:
                rr_limited.append(rr)
        beats.append(i)
        beat_slopes.append(slopes[i])
        last_noise_since_beat.clear()

    for i in range(len(positions)):
        pos, h = positions[i], heights[i]
        thr1, thr2 = thresholds()

        # Search back: a beat is overdue, take the largest skipped candidate above the low threshold
        # (repeatedly, so a run of several small beats after a large one is recovered).
        while beats and pos - positions[beats[-1]] > SEARCHBACK_RR * mean_rr():
            pool = [j for j in last_noise_since_beat if positions[j] - positions[beats[-1]] > refractory]
            best = max(pool, key=lambda j: heights[j]) if pool else None
            if best is None or heights[best] <= thr2:
                break
            accept(best, searchback=True)
            last_noise_since_beat.extend(j for j in pool if j > best)
            thr1, thr2 = thresholds()

        # A peak soon after a beat with less than half its slope is that beat's T wave.
        if beats and pos - positions[beats[-1]] < t_window and slopes[i] < 0.5 * beat_slopes[-1]:
            npk = 0.125 * h + 0.875 * npk
            continue
        if h > thr1:
            # The last "beat" was a P wave (or an artefact) if this complex is much steeper.
            if (
                beats
                and pos - positions[beats[-1]] < t_window
                and slopes[i] > P_WAVE_SLOPE_RATIO * beat_slopes[-1]
            ):
                beats.pop()
                beat_slopes.pop()
            accept(i)
        else:
            npk = 0.125 * h + 0.875 * npk
            last_noise_since_beat.append(i)
    return out_positions[np.asarray(beats, dtype=np.int64)] if beats else np.zeros(0, dtype=np.int64)


def _refine(x: np.ndarray, beats: np.ndarray, fs: float) -> np.ndarray:
    """Move each beat to the largest deflection of the raw signal from its local baseline."""
    if beats.size == 0:
        return beats.astype(np.int64)
    half = max(1, int(round(REFINE_S * fs)))
    offsets = np.arange(-half, half + 1)
    idx = np.clip(beats[:, None] + offsets[None, :], 0, x.size - 1)
    seg = x[idx]
    baseline = np.median(seg, axis=1, keepdims=True)
    peaks = idx[np.arange(idx.shape[0]), np.argmax(np.abs(seg - baseline), axis=1)]
    peaks = np.unique(peaks)
    # Two candidates refined onto the same complex: keep one.
    if peaks.size > 1:
        keep = np.concatenate(([True], np.diff(peaks) > REFRACTORY_S * fs / 2))
        peaks = peaks[keep]
    return peaks.astype(np.int64)
