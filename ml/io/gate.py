"""Is a digitised trace a heartbeat recording? Physiological checks before any beat is labelled.

A picture is labelled only on positive evidence. The picture-level evidence (an ECG grid, thin
traces in rows) is found by ``ml.io.image``; this module checks the signal read from it:
QRS-like complexes (narrow, steep, not flat-topped), a plausible rhythm (RR 0.25-2.5 s), beats
that resemble each other, and, when the paper grid calibrates it, an amplitude in millivolts
that a heart produces. Sine, square and sawtooth waves, random walks (stock charts, EEG) and
noise each fail at least one of these.
"""

from functools import lru_cache

import numpy as np
from scipy import signal as sps

from ml.preprocess import butter_sos

RR_RANGE_S = (0.25, 2.5)
MAX_QRS_HALF_WIDTH_S = 0.12  # width at half the complex's height (a wide PVC is ~0.10 s)
BROAD_QRS_S = 0.08  # broad "QRS" with even larger waves between them: a wandering line, not an ECG
MAX_FLAT_TOP_S = 0.04  # a printed R peak is pointed; a square pulse is flat for its whole width
MIN_SPIKINESS = 4.0  # steepest QRS slope / median slope of the whole trace
MIN_TEMPLATE_CORR = 0.5
MIN_BETWEEN_BEATS = 0.06  # P and T waves: the trace between QRS complexes is never a ruled line
QRS_MV_RANGE = (0.1, 8.0)
MIN_BEATS = 3
# A beat lost in reading (a faint QRS stroke not picked up): in an otherwise regular rhythm a gap
# between beats is twice the others, and the heart rate would read low.
LOST_BEAT_RATIO = (1.75, 2.25)
# A wave counted as a beat (a tall T wave, a mark on the trace): two gaps, each under this share of
# the usual interval, that add up to one of them.
EXTRA_BEAT_SHARE = 0.75
EXTRA_BEAT_SUM = (0.85, 1.15)
REGULAR_RR_CV = 0.1
SLOW_BEAT = 0.35  # a "beat" this much less steep than the others is a T wave counted as a beat

NOT_ECG = "this picture does not look like an ECG"


def misread_beats(rr) -> tuple[int, int]:
    """Return (beats lost, beats added) in reading a regular rhythm's intervals ``rr`` (s).

    Lost: a gap twice the usual interval (:data:`LOST_BEAT_RATIO`). Added: two consecutive
    intervals, each under :data:`EXTRA_BEAT_SHARE` of the usual one, that add up to it
    (:data:`EXTRA_BEAT_SUM`). Both only where the rhythm is otherwise regular (intervals within
    :data:`REGULAR_RR_CV`): in an irregular rhythm such gaps are the rhythm's own.
    """
    rr = np.asarray(rr, dtype=np.float64)
    if rr.size < MIN_BEATS:
        return 0, 0
    usual = float(np.median(rr))
    merged, extra, i = [], 0, 0
    while i < rr.size:
        if (i + 1 < rr.size and max(rr[i], rr[i + 1]) < EXTRA_BEAT_SHARE * usual
                and EXTRA_BEAT_SUM[0] <= (rr[i] + rr[i + 1]) / usual <= EXTRA_BEAT_SUM[1]):
            merged.append(rr[i] + rr[i + 1])
            extra += 1
            i += 2
        else:
            merged.append(rr[i])
            i += 1
    merged = np.asarray(merged)
    ratio = merged / np.median(merged)
    gaps = (ratio >= LOST_BEAT_RATIO[0]) & (ratio <= LOST_BEAT_RATIO[1])
    regular = merged[~gaps & (ratio < LOST_BEAT_RATIO[0])]
    if regular.size < MIN_BEATS or np.std(regular) >= REGULAR_RR_CV * np.mean(regular):
        return 0, 0
    return int(gaps.sum()), extra


def ecg_evidence(x, fs, *, calibrated: bool, lost_beats: bool = False) -> tuple[str | None, dict]:
    """Return (reason the trace is not a heartbeat recording or None, measured features).

    ``lost_beats``: also refuse a regular rhythm with a gap twice the others (a beat lost in
    reading) or two gaps that add up to one of the others (a wave counted as a beat), for traces
    read from pictures (:func:`misread_beats`).
    """
    from ml.detect import detect_r_peaks

    x = np.asarray(x, dtype=np.float64)
    feats = {}
    peaks = np.asarray(detect_r_peaks(x, fs), dtype=np.int64)
    feats["beats"] = int(peaks.size)
    if peaks.size < MIN_BEATS:
        return (f"{NOT_ECG}: fewer than {MIN_BEATS} heartbeats were found in the trace", feats)
    rr = np.diff(peaks) / fs
    med_rr = float(np.median(rr))
    feats["median_rr_s"] = round(med_rr, 3)
    in_range = np.mean((rr >= 0.2) & (rr <= 3.0))
    if not (RR_RANGE_S[0] <= med_rr <= RR_RANGE_S[1]) or in_range < 0.8:
        return (f"{NOT_ECG}: its waves repeat every {med_rr:.2f} s, outside the range of a heart "
                f"rhythm ({RR_RANGE_S[0]}-{RR_RANGE_S[1]} s between beats)", feats)
    # Two "beats" closer than a heart can beat are one counted twice: a notched QRS, a T wave, a
    # lead-change mark or a speck on the trace; every rate from this trace would be too high.
    if rr.min() < RR_RANGE_S[0]:
        feats["shortest_rr_s"] = round(float(rr.min()), 3)
        return (f"two beats were found {rr.min():.2f} s apart, closer than a heart beats (a complex or "
                "a mark on the trace counted twice), so the heart rate would read high", feats)

    if lost_beats:
        lost, extra = misread_beats(rr)
        if lost:
            feats["lost_beats"] = lost
            return ("heartbeats were lost in reading the trace: in an otherwise regular rhythm a gap "
                    "between beats is twice the others, so the heart rate would read low", feats)
        if extra:
            feats["extra_beats"] = extra
            return ("a wave was counted as a heartbeat: in an otherwise regular rhythm two gaps between "
                    "beats add up to one of the others (a T wave or a mark on the trace counted), so the "
                    "heart rate would read high", feats)

    sos = butter_sos(2, [0.5, 40.0 if fs > 90 else 0.45 * fs], "bandpass", fs)
    f = sps.sosfiltfilt(sos, x)
    widths, flats, amps, slopes = [], [], [], []
    slope = np.abs(np.gradient(f)) * fs
    w_qrs = max(2, int(0.08 * fs))
    w_base = max(4, int(0.4 * fs))
    for p in peaks:
        a, b = max(0, p - w_qrs), min(f.size, p + w_qrs + 1)
        base = float(np.median(f[max(0, p - w_base): p + w_base]))
        seg = f[a:b] - base
        q = a + int(np.argmax(np.abs(seg)))
        amp = f[q] - base
        if amp == 0:
            continue
        above = (f - base) / amp
        lo = q
        while lo > 0 and above[lo - 1] >= 0.5 and q - lo < fs:
            lo -= 1
        hi = q
        while hi < f.size - 1 and above[hi + 1] >= 0.5 and hi - q < fs:
            hi += 1
        widths.append((hi - lo + 1) / fs)
        flats.append(np.sum(above[lo:hi + 1] >= 0.9) / fs)
        lo_a, hi_a = max(0, p - int(0.1 * fs)), min(f.size, p + int(0.1 * fs) + 1)
        amps.append(float(np.ptp(f[lo_a:hi_a])))
        slopes.append(float(slope[a:b].max()))
    if not widths:
        return (f"{NOT_ECG}: no QRS complexes were found", feats)
    # Tall T waves counted as beats: every other "beat" is a slow wave (the rate reads double).
    sl = np.asarray(slopes)
    if sl.size >= 6:
        even, odd = np.median(sl[0::2]), np.median(sl[1::2])
        feats["alternating_slope"] = round(float(min(even, odd) / max(even, odd, 1e-9)), 2)
        if feats["alternating_slope"] < SLOW_BEAT:
            return ("every other beat found is a slow wave, not a QRS complex (tall T waves counted "
                    "as beats), so the heart rate would read double", feats)
    feats["qrs_half_width_s"] = round(float(np.median(widths)), 3)
    feats["flat_top_s"] = round(float(np.median(flats)), 3)
    feats["spikiness"] = round(float(np.median(slopes) / max(np.median(slope), 1e-9)), 2)
    feats["qrs_mV"] = round(float(np.median(amps)), 3)
    if feats["qrs_half_width_s"] > MAX_QRS_HALF_WIDTH_S:
        return (f"{NOT_ECG}: its waves are too broad and smooth for heartbeats (it looks like a "
                "chart or a periodic wave, not an ECG)", feats)
    if feats["flat_top_s"] > MAX_FLAT_TOP_S:
        return (f"{NOT_ECG}: its peaks are flat-topped pulses, not QRS complexes (it looks like a "
                "square wave or a chart)", feats)
    if feats["spikiness"] < MIN_SPIKINESS:
        return (f"{NOT_ECG}: it has no sharp QRS complexes standing out from the rest of the "
                "trace (it looks like a chart, a wave or noise)", feats)
    feats["between_beats"] = round(_between_beats(f, fs, peaks) / max(feats["qrs_mV"], 1e-9), 3)
    if feats["between_beats"] < MIN_BETWEEN_BEATS:
        return (f"{NOT_ECG}: the trace is perfectly flat between its spikes, with no P or T waves "
                "(it looks like a pulse train or a drawing, not an ECG)", feats)
    if feats["between_beats"] >= 0.9 and feats["qrs_half_width_s"] >= BROAD_QRS_S:
        return (f"{NOT_ECG}: its largest waves are broad and lie between the peaks (it looks like a "
                "chart, a random line or another signal)", feats)
    feats["template_corr"] = round(_template_corr(f, fs, peaks), 3)
    if feats["template_corr"] < MIN_TEMPLATE_CORR:
        return (f"{NOT_ECG}: its peaks do not repeat like heartbeats (it looks like a chart, noise "
                "or another signal)", feats)
    if calibrated and not (QRS_MV_RANGE[0] <= feats["qrs_mV"] <= QRS_MV_RANGE[1]):
        return (f"the QRS complexes measure {feats['qrs_mV']:.2f} mV on the paper grid, outside "
                f"what a heart produces ({QRS_MV_RANGE[0]}-{QRS_MV_RANGE[1]} mV); check that "
                "the whole ECG is in the picture and in focus", feats)
    return None, feats


def _between_beats(f, fs, peaks) -> float:
    """Return the median peak-to-peak size of the trace between QRS complexes (P and T waves)."""
    gap = int(0.1 * fs)
    sizes = [np.ptp(f[a + gap: b - gap]) for a, b in zip(peaks[:-1], peaks[1:]) if b - a > 3 * gap]
    return float(np.median(sizes)) if sizes else 0.0


def _template_corr(f, fs, peaks) -> float:
    half = int(0.2 * fs)
    keep = peaks[(peaks >= half) & (peaks + half < f.size)]
    if keep.size < 2:
        return 1.0
    segs = np.stack([f[p - half: p + half] for p in keep])
    segs = segs - segs.mean(axis=1, keepdims=True)
    tmpl = np.median(segs, axis=0)
    num = segs @ tmpl
    den = np.linalg.norm(segs, axis=1) * max(np.linalg.norm(tmpl), 1e-12)
    return float(np.median(num / np.maximum(den, 1e-12)))


# --- a single-beat plot (a small picture without paper: no time scale, one beat or a few waves) ---

MIN_COMPLEX_PROMINENCE = 0.3  # the beat's main complex stands out by this share of the trace's range
MAX_COMPLEX_WIDTH = 0.2  # and is at most this share of the plot wide at half its height
SINE_R2 = 0.985  # a trace a single sinusoid explains this well is a drawn wave, not a heart's
FIBRILLATION_CYCLES = (1.2, 3.5)  # the waves of a fibrillation beat plot (~1.2 s at 4-6 Hz ...)
FIBRILLATION_R2 = 0.6  # ... are roughly regular
FIBRILLATION_MAX_TREND = 0.5  # and swing about a level line (a stock chart drifts)
BEAT_POSITION = (0.25, 0.8)  # a beat plot is drawn around its beat: the complex is not at an end
BEAT_MAX_R2 = 0.87  # and one slow wave does not explain the trace (a random walk's does)


def single_beat_evidence(x) -> str | None:
    """Return why the trace of a small plot without paper is not a heartbeat plot, or None.

    A single-beat plot (the pictures the image-beat model was trained on: about 1.2 s around one
    beat) shows one sharp complex standing out from the rest, or, for ventricular fibrillation,
    two or three irregular waves. A periodic drawn wave (a sine), a wandering line (a stock chart,
    a random walk) or broad smooth bumps show neither.
    """
    from scipy.signal import find_peaks, peak_widths

    y = np.asarray(x, dtype=np.float64)
    y = y - np.median(y)
    span = float(np.ptp(y))
    if y.size < 16 or span == 0:
        return f"{NOT_ECG}: the line is flat"
    r2, cycles, trend = _sine_fit(y)
    if r2 >= SINE_R2:
        return (f"{NOT_ECG}: it is a regular wave ({cycles:.1f} cycles of a sine-like curve), not a "
                "heartbeat")
    best = None
    for sign in (1.0, -1.0):
        peaks, props = find_peaks(sign * y, prominence=MIN_COMPLEX_PROMINENCE * span)
        if peaks.size:
            k = int(np.argmax(props["prominences"]))
            width = peak_widths(sign * y, peaks[k:k + 1], rel_height=0.5)[0][0] / y.size
            if best is None or props["prominences"][k] > best[0]:
                best = (float(props["prominences"][k]), float(width), float(peaks[k] / y.size))
    if best is None:
        return (f"{NOT_ECG}: no heartbeat-like complex stands out from the line (it looks like a "
                "chart or a random line)")
    if best[1] <= MAX_COMPLEX_WIDTH and BEAT_POSITION[0] <= best[2] <= BEAT_POSITION[1] and r2 < BEAT_MAX_R2:
        return None
    if (FIBRILLATION_CYCLES[0] <= cycles <= FIBRILLATION_CYCLES[1] and r2 >= FIBRILLATION_R2
            and trend <= FIBRILLATION_MAX_TREND * span):
        return None
    return (f"{NOT_ECG}: its waves are too broad and smooth for a heartbeat (it looks like a chart "
            "or a drawn curve)")


SINE_FREQUENCIES = np.arange(0.5, 12.01, 0.05)  # cycles across the trace, tried in this order


def _sine_fit(y):
    """Return (R^2, cycles across the trace, the straight line's rise) of the best sinusoid + line.

    Every frequency's least-squares fit at once: the 4x4 normal equations of all 231 designs
    solved as one stack (a loop of ``lstsq`` calls was half the time of a single-beat plot).
    """
    n = y.size
    a = _sine_designs(n)  # (frequencies, n, 4)
    coef = np.linalg.solve(a.transpose(0, 2, 1) @ a, (a.transpose(0, 2, 1) @ y)[..., None])[..., 0]
    residual = y[None, :] - np.einsum("fnk,fk->fn", a, coef)
    total = float(np.sum((y - y.mean()) ** 2)) or 1.0
    r2 = 1.0 - np.sum(residual ** 2, axis=1) / total
    k = int(np.argmax(r2))  # the first of equal bests, as the loop kept
    if not r2[k] > 0.0:
        return (0.0, 0.0, 0.0)
    return (float(r2[k]), float(SINE_FREQUENCIES[k]), abs(float(coef[k, 3])))


@lru_cache(maxsize=16)
def _sine_designs(n):
    """Return the design matrices [sin, cos, 1, t] of every frequency for a trace of ``n`` samples."""
    t = np.arange(n) / n
    phase = 2 * np.pi * SINE_FREQUENCIES[:, None] * t[None, :]
    a = np.stack([np.sin(phase), np.cos(phase), np.ones_like(phase), np.broadcast_to(t, phase.shape)], axis=-1)
    a.flags.writeable = False
    return a
