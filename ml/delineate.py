"""Measure PR, QRS, QT and QTc from one ECG lead, on the record's representative beat.

A cardiologist reading a single-lead strip measures the intervals on a typical conducted beat,
not on every beat: noise, ectopic beats and the odd badly drawn complex are looked past. This
module does the same. It aligns the dominant conducted beats on their QRS, takes their sample-wise
median (the representative beat; robust to noise and to a minority of odd beats), and delineates
that one beat:

* QRS onset and end: thresholds on the slope of the median beat relative to the first and last
  significant QRS slopes, the rule of the wavelet delineator of Martinez et al. (2004), itself after
  Laguna et al. (1994);
* T-wave end: the tangent method (Lepeschkin & Surawicz 1952): the steepest slope after the T peak,
  extended to the isoelectric level;
* P wave: the largest deflection in a search window before the QRS onset; its onset where the
  deflection falls to a fraction of its amplitude. A P wave is reported only when the beats agree
  on it (beat-to-beat correlation of the P region), so that atrial fibrillation and P waves
  dissociated from the QRS (third-degree block) give no PR.

Intervals follow AHA/ACC/HRS 2009 part II (Kligfield et al. 2007, Circulation 115:1306): PR from P
onset to QRS onset, QRS from onset to end, QT from QRS onset to T end. QTc is Fridericia's
QT / RR^(1/3), which AHA/ACC/HRS 2009 part IV (Rautaharju et al., Circulation 119:e241) prefers over
Bazett's formula because Bazett over-corrects at fast and under-corrects at slow rates.

The thresholds were chosen by patient-grouped cross-validation against the cardiologists' marks of
the Lobachevsky University Database; ``python -m ml.evaluate_delineation`` reproduces the out-of-fold
figures in ml/reports/delineation.md.

Sources: Martinez JP, Almeida R, Olmos S, Rocha AP, Laguna P. A wavelet-based ECG delineator:
evaluation on standard databases. IEEE Trans Biomed Eng 51(4):570-581, 2004. Laguna P, Jane R,
Caminal P. Automatic detection of wave boundaries in multilead ECG signals: validation with the CSE
database. Comput Biomed Res 27(1):45-60, 1994. Lepeschkin E, Surawicz B. The measurement of the Q-T
interval of the electrocardiogram. Circulation 6(3):378-388, 1952.

See also: ``ml.preprocess.clean`` (the band-pass this expects), ``ml.detect.detect_r_peaks`` (the R
peaks it starts from).
"""

from dataclasses import asdict, dataclass
from fractions import Fraction

import numpy as np
from scipy import signal as sps

INTERNAL_FS = 500.0  # Hz; every beat is resampled to this rate, so thresholds do not depend on fs
CONDUCTED_LABELS = frozenset({"N", "L", "R"})  # beat codes that build the representative beat
MAX_BEATS = 240  # beats in the median; more add nothing and cost time on long records
MIN_BEATS = 3  # fewer clean beats: nothing to measure
BEAT_WINDOW_MS = (-600.0, 720.0)  # around R: room for a long PR before and a long QT after
NEIGHBOUR_GUARD_MS = 160.0  # samples this close to another beat's R belong to that beat's QRS
ALIGN_HALF_MS = 100.0  # QRS region used to align beats on each other
MAX_LAG_MS = 40.0  # largest alignment shift (an R/S mix-up of the peak detector)
MIN_BEAT_CORRELATION = 0.7  # a beat less like the median than this is noise or another shape
QRS_SIZE_HALF_MS = 60.0  # a detection's size: its peak-to-peak amplitude within this of it
MIN_QRS_SIZE = 0.4  # ... a beat has at least this share of the typical (75th percentile) size
MIN_COVERAGE = 0.5  # a median sample needs this share of the beats to have a value there

# QRS: slope of the median beat (Savitzky-Golay derivative over 20 ms, the scale of Martinez's 2^2).
QRS_SLOPE_WINDOW_MS = 20.0
QRS_SEARCH_MS = (-130.0, 170.0)  # around R: the widest complexes (LBBB, paced) fit
QRS_END_LEVEL = 0.5  # the QRS cannot end this far (share of its height) from its onset level
QRS_RESUME_MS = 40.0  # ... when a steep slope (QRS_RESUME_SLOPE of the largest) follows within this
QRS_RESUME_SLOPE = 0.25
QRS_QUIET_MS = 8.0  # a quieter stretch shorter than this is inside the QRS (the tip of a wave)
# T and P: smoother slopes (40 ms), as the wavelet delineator uses a coarser scale for them.
WAVE_SLOPE_WINDOW_MS = 40.0
ISOELECTRIC_MS = 20.0  # the isoelectric level: the median over this span just before QRS onset
T_START_AFTER_QRS_MS = 60.0  # the T search starts this long after the QRS end
QT_MAX_MS = 680.0  # the T search ends at the latest this long after QRS onset
NEXT_P_MS = 250.0  # ... and this long before the next R (the next P wave)
ZHANG_WINDOW_MS = 100.0
T_FIRST_RATIO = 0.7
P_SEARCH_MS = 420.0  # the P search starts at most this long before QRS onset (long PR)
P_PEAK_SEARCH_MS = 320.0  # the P peak lies at most this long before QRS onset
P_GAP_MS = 20.0  # ... and at least this long
P_AFTER_T_MS = 40.0  # ... and after the previous beat's T wave
P_HALF_WIDTH_MS = 40.0  # the P region compared beat to beat, either side of the P peak
T_METHOD = "threshold"
T_END_K = 0.3


@dataclass(frozen=True)
class Thresholds:
    """The tuned constants of the delineation (see ml/reports/delineation.md)."""

    qrs_on: float = 0.04  # QRS onset: slope below this share of the first significant slope
    qrs_off: float = 0.05  # QRS end: slope below this share of the last significant slope
    p_on: float = 0.15  # P onset: deflection below this share of the P amplitude
    p_min_mv: float = 0.03  # smallest P amplitude on the median beat
    p_corr_present: float = 0.5  # median beat-to-beat correlation of the P region: present
    p_corr_absent: float = 0.3  # ... below this: absent (between the two: unclear)


THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class RepresentativeBeat:
    """The median of the dominant conducted beats of one lead, at :data:`INTERNAL_FS`."""

    beat: np.ndarray  # (L,) mV; NaN where too few beats cover the sample
    beats: np.ndarray  # (n, L) the aligned beats that built it (NaN outside each beat's span)
    r_index: int  # sample of R in ``beat``
    rr_ms: float  # median RR interval preceding the beats used
    fs: float = INTERNAL_FS


@dataclass(frozen=True)
class Intervals:
    """The intervals of a lead's representative beat. Times in ms; None when not measurable.

    ``qtc_ms`` is Fridericia's QT / RR^(1/3) with RR in seconds (``qtc_method`` "Fridericia").
    ``fiducials_ms`` holds the wave boundaries on the representative beat relative to its R peak
    (``p_on``, ``qrs_on``, ``qrs_off``, ``t_end``), for drawing.
    """

    heart_rate_bpm: float | None
    rr_ms: float | None
    pr_ms: float | None
    qrs_ms: float | None
    qt_ms: float | None
    qtc_ms: float | None
    qtc_method: str
    p_wave: str  # "present" | "absent" | "unclear"
    beats_used: int
    lead: str | None
    fiducials_ms: dict

    def to_dict(self) -> dict:
        """Return the intervals as a JSON-serialisable dict."""
        return asdict(self)


def measure_intervals(signal, fs, r_peaks, *, labels=None, lead=None,
                      thresholds=THRESHOLDS) -> Intervals | None:
    """Return the intervals of the dominant (normal-shaped) beat of a single lead, or None when
    the record has too few clean beats to measure.

    ``signal`` is the band-passed lead in mV (``ml.preprocess.clean``) sampled at ``fs`` Hz;
    ``r_peaks`` the sample index of each beat; ``labels`` (optional) one code per beat: only
    N, L and R beats build the representative beat, ectopic and paced beats are left out.

    Example::

        x = preprocess.clean(raw, fs)
        intervals = measure_intervals(x, fs, detect.detect_r_peaks(x, fs), lead="II")
        intervals.qrs_ms, intervals.qtc_ms
    """
    rep = representative_beat(signal, fs, r_peaks, labels=labels)
    if rep is None:
        return None
    return intervals_of(rep, lead=lead, thresholds=thresholds)


def representative_beat(signal, fs, r_peaks, *, labels=None) -> RepresentativeBeat | None:
    """Return the median of the aligned dominant beats, or None with fewer than MIN_BEATS."""
    x = np.asarray(signal, dtype=np.float64).ravel()
    fs = float(fs)
    peaks = np.asarray(r_peaks, dtype=np.int64).ravel()
    codes = None if labels is None else np.asarray(labels, dtype=object).ravel()
    inside = (peaks >= 0) & (peaks < x.size)
    peaks, codes = peaks[inside], None if codes is None else codes[inside]
    order = np.argsort(peaks)
    peaks, codes = peaks[order], None if codes is None else codes[order]
    real = _qrs_sized(x, fs, peaks)
    peaks, codes = peaks[real], None if codes is None else codes[real]
    keep = np.ones(peaks.size, dtype=bool) if codes is None else np.isin(codes, list(CONDUCTED_LABELS))
    chosen = np.flatnonzero(keep)
    if chosen.size < MIN_BEATS:
        return None
    if chosen.size > MAX_BEATS:
        chosen = chosen[np.linspace(0, chosen.size - 1, MAX_BEATS).round().astype(int)]

    windows, r_index = _beat_windows(x, fs, peaks, chosen)
    windows = _align(windows, r_index)
    corr = _corr_rows(_qrst(windows, r_index), np.nanmedian(_qrst(windows, r_index), axis=0))
    windows = windows[corr >= MIN_BEAT_CORRELATION]
    rr = np.diff(peaks) / fs * 1000.0
    pre_rr = np.concatenate(([np.nan], rr))[chosen][corr >= MIN_BEAT_CORRELATION]
    if windows.shape[0] < MIN_BEATS:
        return None
    coverage = np.mean(np.isfinite(windows), axis=0)
    with np.errstate(all="ignore"):
        beat = np.where(coverage >= MIN_COVERAGE, np.nanmedian(windows, axis=0), np.nan)
    rr_ms = float(np.nanmedian(pre_rr)) if np.isfinite(pre_rr).any() else float(np.median(rr))
    return RepresentativeBeat(beat, windows, r_index, rr_ms)


def intervals_of(rep: RepresentativeBeat, *, lead=None, thresholds=THRESHOLDS) -> Intervals:
    """Return the :class:`Intervals` of a representative beat."""
    f = delineate(rep, thresholds)
    to_ms = 1000.0 / rep.fs
    rr_ms = rep.rr_ms if np.isfinite(rep.rr_ms) else None
    qrs = qt = pr = qtc = None
    if f["qrs_on"] is not None and f["qrs_off"] is not None:
        qrs = (f["qrs_off"] - f["qrs_on"]) * to_ms
    if f["qrs_on"] is not None and f["t_end"] is not None:
        qt = (f["t_end"] - f["qrs_on"]) * to_ms
        if rr_ms:
            qtc = qt / (rr_ms / 1000.0) ** (1.0 / 3.0)
    if f["p_wave"] == "present" and f["p_on"] is not None and f["qrs_on"] is not None:
        pr = (f["qrs_on"] - f["p_on"]) * to_ms
    fiducials = {k: round((f[k] - rep.r_index) * to_ms, 1) for k in ("p_on", "qrs_on", "qrs_off", "t_end")
                 if f[k] is not None and (k != "p_on" or pr is not None)}
    return Intervals(
        heart_rate_bpm=_round(60000.0 / rr_ms if rr_ms else None),
        rr_ms=_round(rr_ms), pr_ms=_round(pr), qrs_ms=_round(qrs), qt_ms=_round(qt),
        qtc_ms=_round(qtc), qtc_method="Fridericia", p_wave=f["p_wave"],
        beats_used=int(rep.beats.shape[0]), lead=lead, fiducials_ms=fiducials,
    )


def delineate(rep: RepresentativeBeat, thresholds=THRESHOLDS) -> dict:
    """Return the fiducial samples of ``rep.beat`` (p_on, qrs_on, qrs_off, t_end; None when not
    found) and the P-wave verdict ``p_wave``."""
    beat, r, fs = rep.beat, rep.r_index, rep.fs
    valid = np.isfinite(beat)
    lo, hi = _valid_span(valid, r)
    y = np.where(valid, beat, 0.0)
    out = {"p_on": None, "qrs_on": None, "qrs_off": None, "t_end": None, "p_wave": "unclear"}
    qrs = _qrs_bounds(y, r, lo, hi, fs, thresholds)
    if qrs is None:
        return out
    on, off = qrs
    out["qrs_on"], out["qrs_off"] = on, off
    smooth_slope = _slope(y, fs, WAVE_SLOPE_WINDOW_MS)
    smooth = _smooth(y, fs, WAVE_SLOPE_WINDOW_MS)
    iso = float(np.median(y[max(lo, on - _n(ISOELECTRIC_MS, fs)): on + 1]))
    out["t_end"] = _t_end(smooth, smooth_slope, iso, r, on, off, hi, rep.rr_ms, fs)
    t_end_prev = None if out["t_end"] is None else out["t_end"] - _n(rep.rr_ms, fs)
    p = _p_wave(rep, smooth, on, lo, t_end_prev, thresholds)
    out.update(p)
    return out


# --- QRS -------------------------------------------------------------------------------------------
def _qrs_bounds(y, r, lo, hi, fs, th):
    """Return (onset, end) samples of the QRS around ``r``.

    From the largest slope, walk outwards over every sample whose slope reaches ``th.qrs_on``
    (``th.qrs_off``) of it; a quieter stretch shorter than QRS_QUIET_MS (the flat tip of a Q, R or
    S wave) does not end the complex. Thresholds on the slope relative to the QRS slope are the
    rule of Laguna et al. (1994) and Martinez et al. (2004).
    """
    d = np.abs(_slope(y, fs, QRS_SLOPE_WINDOW_MS))
    a = max(lo, r + _n(QRS_SEARCH_MS[0], fs))
    b = min(hi, r + _n(QRS_SEARCH_MS[1], fs))
    if b - a < 3:
        return None
    top = a + int(np.argmax(d[a:b]))
    quiet = max(1, _n(QRS_QUIET_MS, fs))
    on = _outermost(d, top, -1, th.qrs_on * d[top], quiet, a)
    off = _outermost(d, top, +1, th.qrs_off * d[top], quiet, b - 1)
    # The tip of a notched or slurred R (bundle branch block) is quiet too, but far from the
    # level the complex started from: the complex goes on.
    resume = _n(QRS_RESUME_MS, fs)
    while abs(y[off] - y[on]) > QRS_END_LEVEL * np.ptp(y[on:off + 1]):
        steep = np.flatnonzero(d[off + 1: min(b, off + 1 + resume)] >= QRS_RESUME_SLOPE * d[top])
        if not steep.size:
            break
        off = _outermost(d, off + 1 + steep[0], +1, th.qrs_off * d[top], quiet, b - 1)
    return on, off


def _outermost(d, i, step, level, quiet, limit):
    """Return the last sample at or above ``level`` met from ``i`` moving by ``step`` before
    ``quiet`` samples in a row fall below it (or ``limit`` is reached)."""
    last, below = i, 0
    while i != limit and below < quiet:
        i += step
        if d[i] >= level:
            last, below = i, 0
        else:
            below += 1
    return last


# --- T wave ----------------------------------------------------------------------------------------
def _t_end(y, slope, iso, r, on, off, hi, rr_ms, fs):
    """Return the T-wave end, or None when no T wave is found."""
    a = off + _n(T_START_AFTER_QRS_MS, fs)
    b = min(hi, on + _n(QT_MAX_MS, fs))
    if np.isfinite(rr_ms):
        b = min(b, r + _n(rr_ms - NEXT_P_MS, fs))
    if b - a < _n(40.0, fs):
        return None
    found = _wave_peak(y[a:b], T_FIRST_RATIO)
    if found is None:
        return None
    peak, sign = a + found[0], found[1]
    if T_METHOD == "zhang":
        w = _n(ZHANG_WINDOW_MS, fs)
        csum = np.concatenate(([0.0], np.cumsum(y)))
        t = np.arange(max(peak, w), b)
        area = sign * ((csum[t + 1] - csum[t + 1 - w]) - w * y[t])
        return int(t[np.argmax(area)]) if t.size else None
    # The steepest return towards the isoelectric level after the peak.
    back = -sign * slope[peak:b]
    steep = peak + int(np.argmax(back))
    if back[steep - peak] <= 0:
        return None
    if T_METHOD == "tangent":
        end = steep + (iso - y[steep]) / slope[steep]
        return int(round(min(max(end, steep), b)))
    level = T_END_K * back[steep - peak]
    i = steep
    while i < b - 1 and abs(slope[i]) >= level:
        i += 1
    return i


def _wave_peak(seg, ratio=1.0):
    """Return (index, polarity, prominence) of the earliest peak or trough of ``seg`` at least
    ``ratio`` times as prominent as the most prominent one: a wave stands out from its
    surroundings, which a baseline drift never does."""
    cands = []
    for sign in (1.0, -1.0):
        idx, props = sps.find_peaks(sign * seg, prominence=0.0)
        cands += [(int(i), sign, float(p)) for i, p in zip(idx, props["prominences"])]
    if not cands:
        return None
    top = max(c[2] for c in cands)
    return min((c for c in cands if c[2] >= ratio * top), key=lambda c: c[0])


# --- P wave ----------------------------------------------------------------------------------------
def _p_wave(rep, y, on, lo, t_end_prev, th):
    """Return {"p_on", "p_wave", "p_corr", "p_amp"}: the P onset, whether the beats share a P
    wave, the median beat-to-beat correlation of the P region and the P amplitude (mV)."""
    fs = rep.fs
    start = max(lo, on - _n(P_SEARCH_MS, fs))
    if t_end_prev is not None:
        start = max(start, t_end_prev + _n(P_AFTER_T_MS, fs))
    a = max(start, on - _n(P_PEAK_SEARCH_MS, fs))
    b = on - _n(P_GAP_MS, fs)
    found = _wave_peak(y[a:b]) if b - a >= _n(60.0, fs) else None
    if found is None:
        return {"p_on": None, "p_wave": "unclear", "p_corr": 0.0, "p_amp": 0.0}
    peak, sign, amp = a + found[0], found[1], found[2]
    slope = sign * _slope(y, fs, WAVE_SLOPE_WINDOW_MS)
    half = _n(P_HALF_WIDTH_MS, fs)
    first = max(start, peak - half)
    steep = first + int(np.argmax(slope[first:peak + 1]))
    i = steep
    while i > start and slope[i] >= th.p_on * slope[steep]:
        i -= 1
    region = rep.beats[:, max(0, peak - half): peak + half + 1]
    rows = np.all(np.isfinite(region), axis=1)
    corr = float(np.median(_corr_rows(region[rows], np.median(region[rows], axis=0)))) if rows.sum() >= MIN_BEATS else 0.0
    if amp >= th.p_min_mv and corr >= th.p_corr_present:
        verdict = "present"
    elif amp < th.p_min_mv or corr < th.p_corr_absent:
        verdict = "absent"
    else:
        verdict = "unclear"
    return {"p_on": i, "p_wave": verdict, "p_corr": corr, "p_amp": float(amp)}


# --- beats -----------------------------------------------------------------------------------------
def _beat_windows(x, fs, peaks, chosen):
    """Return ((n, L) windows around the chosen R peaks at INTERNAL_FS, R's index in a window).

    Samples outside the signal, or within NEIGHBOUR_GUARD_MS of a neighbouring R peak, are NaN.
    """
    ratio = Fraction(INTERNAL_FS / fs).limit_denominator(1000)
    up, down = ratio.numerator, ratio.denominator
    pre = int(np.ceil(-BEAT_WINDOW_MS[0] / 1000.0 * fs)) + 8  # margin for the resampling filter
    post = int(np.ceil(BEAT_WINDOW_MS[1] / 1000.0 * fs)) + 8
    raw = x[np.clip(peaks[chosen, None] + np.arange(-pre, post + 1)[None, :], 0, x.size - 1)]
    win = raw if up == down == 1 else sps.resample_poly(raw, up, down, axis=1)
    r_index = int(round(pre * up / down))
    t = (np.arange(win.shape[1]) - r_index) / INTERNAL_FS * 1000.0  # ms from R
    here = peaks[chosen]
    first = (0 - here) / fs * 1000.0  # the signal's first and last samples, in ms from each R
    last = (x.size - 1 - here) / fs * 1000.0
    prev_ms = np.where(chosen > 0, (peaks[np.maximum(chosen - 1, 0)] - here) / fs * 1000.0, -np.inf)
    next_ms = np.where(chosen < peaks.size - 1,
                       (peaks[np.minimum(chosen + 1, peaks.size - 1)] - here) / fs * 1000.0, np.inf)
    own = ((t[None, :] > np.maximum(prev_ms + NEIGHBOUR_GUARD_MS, first)[:, None])
           & (t[None, :] < np.minimum(next_ms - NEIGHBOUR_GUARD_MS, last)[:, None]))
    win = np.where(own, win, np.nan)
    lo = r_index + int(round(BEAT_WINDOW_MS[0] / 1000.0 * INTERNAL_FS))
    hi = r_index + int(round(BEAT_WINDOW_MS[1] / 1000.0 * INTERNAL_FS))
    return win[:, lo:hi + 1], r_index - lo


def _qrs_sized(x, fs, peaks):
    """Return a mask of the peaks whose QRS is at least MIN_QRS_SIZE of the typical one: smaller
    detections are T waves or noise, not beats, and must not mask the T wave of a real beat."""
    if peaks.size == 0:
        return np.zeros(0, dtype=bool)
    half = max(1, _n(QRS_SIZE_HALF_MS, fs))
    idx = np.clip(peaks[:, None] + np.arange(-half, half + 1)[None, :], 0, x.size - 1)
    size = np.ptp(x[idx], axis=1)
    return size >= MIN_QRS_SIZE * np.percentile(size, 75)


def _align(windows, r):
    """Return the windows shifted so their QRS complexes line up with the median QRS (two passes
    of cross-correlation over +-ALIGN_HALF_MS, shifts up to MAX_LAG_MS)."""
    half = _n(ALIGN_HALF_MS, INTERNAL_FS)
    lag = _n(MAX_LAG_MS, INTERNAL_FS)
    n, length = windows.shape
    for _ in range(2):
        qrs = np.nan_to_num(windows[:, r - half: r + half + 1])
        template = np.median(qrs, axis=0)
        template = template - template.mean()
        ext = np.nan_to_num(windows[:, r - half - lag: r + half + lag + 1])
        views = np.lib.stride_tricks.sliding_window_view(ext, 2 * half + 1, axis=1)  # (n, 2lag+1, w)
        views = views - views.mean(axis=2, keepdims=True)
        score = views @ template / (np.linalg.norm(views, axis=2) + 1e-12)
        shift = np.argmax(score, axis=1) - lag  # beat's QRS sits ``shift`` samples late
        if not shift.any():
            break
        cols = np.clip(np.arange(length)[None, :] + shift[:, None], 0, length - 1)
        shifted = windows[np.arange(n)[:, None], cols]
        outside = (np.arange(length)[None, :] + shift[:, None] < 0) | (
            np.arange(length)[None, :] + shift[:, None] >= length)
        windows = np.where(outside, np.nan, shifted)
    return windows


def _qrst(windows, r):
    """Return the QRS-T part of the windows (-100..+400 ms), NaN set to 0, for beat similarity."""
    return np.nan_to_num(windows[:, r - _n(100.0, INTERNAL_FS): r + _n(400.0, INTERNAL_FS)])


def _corr_rows(a, b):
    """Return the Pearson correlation of each row of ``a`` with the vector ``b``."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean()
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b)
    return np.where(den > 0, a @ b / np.where(den > 0, den, 1), 0.0)


# --- helpers ---------------------------------------------------------------------------------------
def _n(ms, fs):
    return int(round(ms / 1000.0 * fs))


def _slope(y, fs, window_ms):
    width = max(5, _n(window_ms, fs) | 1)
    return sps.savgol_filter(y, width, 2, deriv=1) * fs


def _smooth(y, fs, window_ms):
    width = max(5, _n(window_ms, fs) | 1)
    return sps.savgol_filter(y, width, 2)


def _valid_span(valid, r):
    """Return the [lo, hi) span of finite samples that contains ``r``."""
    bad = np.flatnonzero(~valid)
    lo = bad[bad < r].max() + 1 if (bad < r).any() else 0
    hi = bad[bad > r].min() if (bad > r).any() else valid.size
    return int(lo), int(hi)


def _round(v):
    return None if v is None else round(float(v), 1)
