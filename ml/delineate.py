"""Measure PR, QRS, QT and QTc on one ECG lead, from the lead's representative beat.

A cardiologist reading a single-lead strip measures the intervals on a typical conducted beat, not
on every beat: noise, ectopic beats and the odd badly drawn complex are looked past. This module
does the same. It aligns the dominant conducted beats on their QRS complexes, takes their
sample-wise median (the representative beat: robust to noise and to a minority of odd beats), and
delineates that one beat:

* QRS onset and end: thresholds on the slope relative to the largest QRS slope (Laguna et al. 1994;
  Martinez et al. 2004), walking over the short flat tips of Q, R and S waves;
* T-wave end: the T wave is the most prominent wave after the ST segment; its end is where the
  slope after the steepest part of its last limb falls to a fraction of that steepest slope (the
  slope-threshold rule of Laguna et al. 1994 and Martinez et al. 2004). The tangent method
  (Lepeschkin & Surawicz 1952) ends the T about 40 ms before LUDB's cardiologists do, so it was not
  kept; a T wave flatter than 0.05 mV gives no QT: where the end cannot be seen, no figure is
  better than a guessed one;
* P wave: the most prominent wave in a window before the QRS; its onset where its upstroke's slope
  falls to a fraction of the steepest, its end likewise on its downstroke (the same fraction). A P wave counts as present only when the beats agree on it:
  its height on the median beat must stand well above the median's own noise there (the beats'
  scatter about the median, over the square root of their number; a signal-to-noise ratio, as
  for signal-averaged ECGs). Atrial fibrillation, and P waves dissociated from the QRS
  (third-degree block), average away and give no PR; a noisy strip of many beats keeps its P.
  "Unclear" is left for a P wave whose onset is lost in the previous T wave, or with no room
  between that T wave and the QRS (fast rates).

Intervals follow the AHA/ACC/HRS recommendations, part I (Kligfield et al., Circulation
115:1306, 2007): PR from P onset to QRS onset, QRS from its onset to its end, QT from QRS onset to
T end. QTc is Fridericia's QT / RR^(1/3) (RR in seconds); part IV (Rautaharju et al., Circulation
119:e241, 2009) advises against Bazett's formula, which over-corrects at fast and under-corrects at
slow heart rates.

The fractions in :class:`Thresholds` were chosen by patient-grouped cross-validation against the
wave marks of cardiologists in the Lobachevsky University Database (LUDB);
``python -m ml.lab.evaluate_delineation`` reproduces the out-of-fold figures of
ml/reports/delineation.md.

Sources: Laguna P, Jane R, Caminal P. Automatic detection of wave boundaries in multilead ECG
signals: validation with the CSE database. Comput Biomed Res 27(1):45-60, 1994. Martinez JP,
Almeida R, Olmos S, Rocha AP, Laguna P. A wavelet-based ECG delineator: evaluation on standard
databases. IEEE Trans Biomed Eng 51(4):570-581, 2004. Lepeschkin E, Surawicz B. The measurement of
the Q-T interval of the electrocardiogram. Circulation 6(3):378-388, 1952.

Example::

    x = preprocess.clean(raw, fs)
    intervals = measure_intervals(x, fs, detect.detect_r_peaks(x, fs), lead="II")
    intervals.pr_ms, intervals.qrs_ms, intervals.qtc_ms

See also: ``ml.preprocess.clean`` (the band-pass this expects), ``ml.detect.detect_r_peaks`` (the
R peaks it starts from).
"""

from dataclasses import asdict, dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np
from scipy import signal as sps

INTERNAL_FS = 500.0  # Hz; beats are resampled to this rate, so no threshold depends on the input rate
CONDUCTED_LABELS = frozenset({"N", "L", "R"})  # beat codes that build the representative beat
MIN_BEATS = 3  # fewer clean beats: nothing to measure
MAX_BEATS = 240  # evenly spread over the record; more add nothing to a median and cost time
QTC_METHOD = "Fridericia"

# Building the representative beat.
BEAT_WINDOW_MS = (-600.0, 720.0)  # around R: room for a long PR before and a long QT after
RESAMPLE_MARGIN_MS = 100.0  # read this much more either side, so resampling edges fall outside
NEIGHBOUR_GUARD_MS = 160.0  # samples this close to another beat's R belong to that beat
QRS_SIZE_HALF_MS = 60.0  # a detection's size: its peak-to-peak amplitude within this of it
MIN_QRS_SIZE = 0.4  # smaller than this share of the typical (75th percentile) size: not a beat
ALIGN_HALF_MS = 100.0  # QRS region over which beats are aligned on each other
MAX_LAG_MS = 40.0  # the largest alignment shift (R and S peaks confused by the detector)
MIN_BEAT_CORRELATION = 0.7  # a beat less like the median QRS-T than this is noise or another shape
QRST_MS = (-100.0, 400.0)  # the part of a beat compared with the median
MIN_COVERAGE = 0.5  # a median sample needs this share of the beats to reach it

# Delineation (slopes by Savitzky-Golay differentiation, as the wavelet delineator uses a fine
# scale for the QRS and a coarser one for P and T waves).
QRS_SLOPE_WINDOW_MS = 20.0
WAVE_SLOPE_WINDOW_MS = 40.0
QRS_SEARCH_MS = (-130.0, 170.0)  # around R: the widest complexes (bundle branch block, paced)
QRS_END_LEVEL = 0.5  # a QRS does not end this far (share of its height) from its onset level...
QRS_RESUME_MS = 40.0  # ... when a steep slope follows within this (a notched R, as in LBBB)
QRS_RESUME_SLOPE = 0.25  # ... steep: this share of the largest QRS slope
T_START_AFTER_QRS_MS = 60.0  # the T search starts this long after the QRS end
QT_MAX_MS = 680.0  # ... ends at the latest this long after QRS onset
NEXT_P_MS = 250.0  # ... and this long before the next R, where the next P wave may start,
T_MIN_RR = 0.65  # ... but not before this share of RR after R (fast rates: P on T)
P_SEARCH_MS = 420.0  # the P onset lies at most this long before QRS onset (first-degree block)
P_PEAK_SEARCH_MS = 320.0  # the P peak at most this long before QRS onset
P_GAP_MS = 20.0  # ... and at least this long
MIN_WAVE_WINDOW_MS = 40.0  # a shorter search window holds no wave
P_UPSTROKE_MS = 40.0  # the P onset is sought below the steepest slope within this before the P peak
MIN_NOISE_MV = 1e-4  # the noise floor of a median beat (a synthetic, noiseless signal has none)


@dataclass(frozen=True)
class Thresholds:
    """The constants of the delineation that ``ml.lab.evaluate_delineation`` varies: all but
    ``t_min_mv`` are tuned by cross-validation on LUDB (ml/reports/delineation.md)."""

    qrs_on: float = 0.04  # QRS onset: slope below this share of the largest QRS slope
    qrs_off: float = 0.05  # QRS end: likewise
    qrs_quiet_ms: float = 8.0  # a flatter stretch shorter than this is the tip of a Q, R or S wave
    t_end: float = 0.25  # T end: slope below this share of the steepest slope of the T's last limb
    t_first: float = 0.7  # the T wave: the earliest wave this prominent relative to the most prominent
    t_min_mv: float = 0.05  # a flatter T wave (half a small square) has no end to measure: no QT
    p_on: float = 0.5  # P onset: slope below this share of the P upstroke's steepest slope
    p_half_width_ms: float = 60.0  # the P region whose beat-to-beat scatter is measured, each side
    p_min_mv: float = 0.0  # smallest P-wave amplitude (prominence) counted as present
    p_snr_present: float = 12.0  # P height over the median beat's noise there: present
    p_snr_absent: float = 12.0  # ... below this: absent; between the two: unclear


THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class RepresentativeBeat:
    """The median of the aligned dominant conducted beats of one lead, at :data:`INTERNAL_FS`."""

    beat: np.ndarray  # (L,) mV; NaN where too few beats reach
    beats: np.ndarray  # (n, L) the aligned beats that built it (NaN outside each beat's own span)
    r_index: int  # the sample of R in ``beat``
    rr_ms: float  # median RR interval before the beats used
    fs: float = INTERNAL_FS


@dataclass(frozen=True)
class Intervals:
    """The intervals of a lead's representative beat, in ms; None where not measurable.

    ``rr_ms`` is the median RR interval before the beats used, ``heart_rate_bpm`` its rate;
    ``qtc_ms`` is Fridericia's QT / RR^(1/3), RR in seconds (``qtc_method`` says so).
    ``p_wave`` is "present", "absent" or "unclear"; ``pr_ms`` is None unless "present".
    ``fiducials_ms`` holds the wave boundaries on the representative beat in ms from its R peak
    (``p_on``, ``qrs_on``, ``qrs_off``, ``t_end``; those found), for drawing.
    """

    heart_rate_bpm: float | None
    rr_ms: float | None
    pr_ms: float | None
    qrs_ms: float | None
    qt_ms: float | None
    qtc_ms: float | None
    qtc_method: str
    p_wave: str
    beats_used: int
    lead: str | None
    fiducials_ms: dict

    def to_dict(self) -> dict:
        """Return the intervals as a JSON-serialisable dict."""
        return asdict(self)


def measure_intervals(signal, fs, r_peaks, *, labels=None, lead=None) -> Intervals | None:
    """Return the intervals of the dominant (normal-shaped) beat of a single lead, or None when
    the record has too few clean beats to measure.

    ``signal`` is the band-passed lead in mV (``ml.preprocess.clean``) sampled at ``fs`` Hz (100 to
    1000); ``r_peaks`` the sample index of each beat; ``labels`` (optional) one code per beat
    (N, L, R, A, V, P, VF, E): only N, L and R beats build the representative beat, so ectopic and
    paced beats are left out. ``lead`` is the lead's name, passed through.
    """
    rep = representative_beat(signal, fs, r_peaks, labels=labels)
    return None if rep is None else intervals_of(rep, lead=lead)


def representative_beat(signal, fs, r_peaks, *, labels=None) -> RepresentativeBeat | None:
    """Return the median of the aligned dominant beats, or None with fewer than MIN_BEATS of them."""
    x = np.asarray(signal, dtype=np.float64).ravel()
    fs = float(fs)
    peaks = np.asarray(r_peaks, dtype=np.int64).ravel()
    codes = np.full(peaks.size, "N", dtype=object) if labels is None else np.asarray(labels, dtype=object).ravel()
    inside = (peaks >= 0) & (peaks < x.size)
    peaks, codes = peaks[inside], codes[inside]
    order = np.argsort(peaks)
    peaks, codes = peaks[order], codes[order]
    real = _qrs_sized(x, fs, peaks)
    peaks, codes = peaks[real], codes[real]
    chosen = np.flatnonzero(np.isin(codes, list(CONDUCTED_LABELS)))
    if chosen.size < MIN_BEATS:
        return None
    if chosen.size > MAX_BEATS:
        chosen = chosen[np.linspace(0, chosen.size - 1, MAX_BEATS).round().astype(int)]

    windows, r = _beat_windows(x, fs, peaks, chosen)
    windows = _align(windows, r)
    qrst = np.nan_to_num(windows[:, r + _n(QRST_MS[0], INTERNAL_FS): r + _n(QRST_MS[1], INTERNAL_FS)])
    alike = _corr_rows(qrst, np.median(qrst, axis=0)) >= MIN_BEAT_CORRELATION
    if alike.sum() < MIN_BEATS:
        return None
    windows = windows[alike]
    beat = np.full(windows.shape[1], np.nan)
    covered = np.mean(np.isfinite(windows), axis=0) >= MIN_COVERAGE
    beat[covered] = np.nanmedian(windows[:, covered], axis=0)
    pre_rr = (peaks[chosen] - peaks[np.maximum(chosen - 1, 0)])[alike & (chosen > 0)] / fs * 1000.0
    rr_ms = float(np.median(pre_rr)) if pre_rr.size else float("nan")
    return RepresentativeBeat(beat, windows, r, rr_ms)


def intervals_of(rep: RepresentativeBeat, *, lead=None, thresholds=THRESHOLDS) -> Intervals:
    """Return the :class:`Intervals` of a representative beat."""
    f = delineate(rep, thresholds)
    to_ms = 1000.0 / rep.fs
    rr_ms = rep.rr_ms if np.isfinite(rep.rr_ms) else None
    qrs = qt = pr = qtc = None
    if f["qrs_on"] is not None:
        qrs = (f["qrs_off"] - f["qrs_on"]) * to_ms
        if f["t_end"] is not None:
            qt = (f["t_end"] - f["qrs_on"]) * to_ms
            qtc = qt / (rr_ms / 1000.0) ** (1.0 / 3.0) if rr_ms else None
        if f["p_wave"] == "present":
            pr = (f["qrs_on"] - f["p_on"]) * to_ms
    shown = ("p_on", "qrs_on", "qrs_off", "t_end") if pr is not None else ("qrs_on", "qrs_off", "t_end")
    fiducials = {k: round((f[k] - rep.r_index) * to_ms, 1) for k in shown if f[k] is not None}
    return Intervals(
        heart_rate_bpm=_round(60000.0 / rr_ms if rr_ms else None), rr_ms=_round(rr_ms),
        pr_ms=_round(pr), qrs_ms=_round(qrs), qt_ms=_round(qt), qtc_ms=_round(qtc),
        qtc_method=QTC_METHOD, p_wave=f["p_wave"], beats_used=int(rep.beats.shape[0]), lead=lead,
        fiducials_ms=fiducials,
    )


def delineate(rep: RepresentativeBeat, thresholds=THRESHOLDS) -> dict:
    """Return the wave boundaries of ``rep.beat`` as sample indices (``p_on``, ``p_off``,
    ``qrs_on``, ``qrs_off``, ``t_end``; None where not found), the P-wave verdict ``p_wave`` and
    its evidence (``p_snr``: the P wave's height over the noise of the median beat there;
    ``p_amp``: its prominence in mV), and how clearly the lead shows the QRS and T waves
    (``qrs_slope``: the largest QRS slope, mV per sample at ``rep.fs``; ``t_amp``: the T wave's
    height in mV, also where it is too flat to end), which the 12-lead reading weighs leads by."""
    fs, r = rep.fs, rep.r_index
    valid = np.isfinite(rep.beat)
    lo, hi = _valid_span(valid, r)
    y = np.where(valid, rep.beat, 0.0)
    out = {"p_on": None, "p_off": None, "qrs_on": None, "qrs_off": None, "t_end": None,
           "p_wave": "unclear", "p_snr": 0.0, "p_amp": 0.0, "qrs_slope": 0.0, "t_amp": 0.0}
    qrs = _qrs_bounds(y, r, lo, hi, fs, thresholds)
    if qrs is None:
        return out
    on, off, out["qrs_slope"] = qrs
    out["qrs_on"], out["qrs_off"] = on, off
    smooth = _savgol(y, WAVE_SLOPE_WINDOW_MS, fs, deriv=0)
    slope = _savgol(y, WAVE_SLOPE_WINDOW_MS, fs, deriv=1)
    t = _t_end(smooth, slope, r, on, off, hi, rep.rr_ms, fs, thresholds)
    if t is not None:
        out["t_amp"] = float(t[1])
        if t[1] >= thresholds.t_min_mv:
            out["t_end"] = t[0]
    # This beat's T end (flat or not), one RR earlier, stands for the previous beat's: the P wave
    # follows it.
    prev_t_end = None if t is None or not np.isfinite(rep.rr_ms) else t[0] - _n(rep.rr_ms, fs)
    out.update(_p_wave(rep, smooth, slope, on, lo, prev_t_end, thresholds))
    return out


# --- QRS -------------------------------------------------------------------------------------------
def _qrs_bounds(y, r, lo, hi, fs, th):
    """Return (onset, end) samples of the QRS around ``r`` and its largest slope (mV per
    sample), or None without room for one.

    From the largest slope, walk outwards over every sample whose slope reaches ``th.qrs_on``
    (``th.qrs_off``) of it; a flatter stretch shorter than ``th.qrs_quiet_ms`` (the tip of a Q, R
    or S wave) does not end the complex.
    """
    d = np.abs(_savgol(y, QRS_SLOPE_WINDOW_MS, fs, deriv=1))
    a = max(lo, r + _n(QRS_SEARCH_MS[0], fs))
    b = min(hi, r + _n(QRS_SEARCH_MS[1], fs))
    if b - a < 3:
        return None
    top = a + int(np.argmax(d[a:b]))
    quiet = max(1, _n(th.qrs_quiet_ms, fs))
    on = _outermost(d, top, -1, th.qrs_on * d[top], quiet, a)
    off = _outermost(d, top, +1, th.qrs_off * d[top], quiet, b - 1)
    # The flat top of a notched R (bundle branch block) is quiet too, but far from the level
    # the complex started from, and a steep limb follows: the complex goes on.
    resume = _n(QRS_RESUME_MS, fs)
    while abs(y[off] - y[on]) > QRS_END_LEVEL * np.ptp(y[on:off + 1]):
        steep = np.flatnonzero(d[off + 1: min(b, off + 1 + resume)] >= QRS_RESUME_SLOPE * d[top])
        if not steep.size:
            break
        off = _outermost(d, off + 1 + steep[0], +1, th.qrs_off * d[top], quiet, b - 1)
    return on, off, float(d[top])


def _outermost(d, i, step, level, quiet, limit):
    """Return the last sample at or above ``level`` met walking from ``i`` by ``step`` before
    ``quiet`` samples in a row fall below it, or ``limit`` is reached."""
    last, below = i, 0
    while i != limit and below < quiet:
        i += step
        if d[i] >= level:
            last, below = i, 0
        else:
            below += 1
    return last


# --- T wave ----------------------------------------------------------------------------------------
def _t_end(y, slope, r, on, off, hi, rr_ms, fs, th):
    """Return (T-wave end, T amplitude in mV), or None when no T wave is found."""
    a = off + _n(T_START_AFTER_QRS_MS, fs)
    b = min(hi, on + _n(QT_MAX_MS, fs))
    if np.isfinite(rr_ms):
        # Stop before the next P wave; at fast rates the T wave runs into it, so keep a share of RR.
        b = min(b, r + _n(max(rr_ms - NEXT_P_MS, T_MIN_RR * rr_ms), fs))
    if b - a < _n(MIN_WAVE_WINDOW_MS, fs):
        return None
    found = _wave_peak(y[a:b], th.t_first)
    if found is None:
        return None
    peak, sign = a + found[0], found[1]
    back = -sign * slope[peak:b]  # the slope back towards the baseline after the peak
    steep = peak + int(np.argmax(back))
    if back[steep - peak] <= 0:
        return None
    end = steep
    while end < b - 1 and abs(slope[end]) >= th.t_end * back[steep - peak]:
        end += 1
    return end, abs(y[peak] - y[end])


def _wave_peak(seg, ratio=1.0):
    """Return (index, polarity, prominence) of the earliest peak or trough of ``seg`` at least
    ``ratio`` times as prominent as the most prominent one, or None. Prominence, not height: a
    wave stands out from its surroundings, a baseline offset does not."""
    candidates = []
    for sign in (1.0, -1.0):
        idx, props = sps.find_peaks(sign * seg, prominence=0.0)
        candidates += [(int(i), sign, float(p)) for i, p in zip(idx, props["prominences"])]
    if not candidates:
        return None
    top = max(c[2] for c in candidates)
    return min((c for c in candidates if c[2] >= ratio * top), key=lambda c: c[0])


# --- P wave ----------------------------------------------------------------------------------------
def _p_wave(rep, y, slope, on, lo, prev_t_end, th):
    """Return the P onset and end, the P verdict and its evidence (see :func:`delineate`)."""
    fs = rep.fs
    start = max(lo, on - _n(P_SEARCH_MS, fs))
    if prev_t_end is not None:
        start = max(start, prev_t_end)  # the P wave starts after the previous beat's T wave
    a = max(start, on - _n(P_PEAK_SEARCH_MS, fs))
    b = on - _n(P_GAP_MS, fs)
    if b - a < _n(MIN_WAVE_WINDOW_MS, fs):
        return {"p_on": None, "p_off": None, "p_wave": "unclear"}  # no room between the T wave and the QRS
    found = _wave_peak(y[a:b])
    if found is None:
        return {"p_on": None, "p_off": None, "p_wave": "absent"}
    peak, sign, amp = a + found[0], found[1], found[2]
    half = _n(th.p_half_width_ms, fs)
    up = sign * slope
    first = max(start, peak - _n(P_UPSTROKE_MS, fs))
    steep = first + int(np.argmax(up[first:peak + 1]))
    p_on = steep
    while p_on > start and up[p_on] >= th.p_on * up[steep]:
        p_on -= 1
    # The P end mirrors its onset: where the downstroke's slope falls to the same share of its
    # steepest, before the QRS.
    last = min(b, peak + _n(P_UPSTROKE_MS, fs))
    fall = peak + int(np.argmax(-up[peak:last + 1]))
    p_off = fall
    while p_off < on - 1 and -up[fall] > 0 and -up[p_off] >= th.p_on * -up[fall]:
        p_off += 1
    region = rep.beats[:, max(0, peak - half): peak + half + 1]
    region = region[np.all(np.isfinite(region), axis=1)]
    snr = 0.0
    if len(region) >= MIN_BEATS:
        scatter = np.median(np.std(region - np.median(region, axis=0), axis=1))
        snr = float(amp / max(scatter / np.sqrt(len(region)), MIN_NOISE_MV))
    # An onset that ran into the previous T wave (or the first sample) was not seen.
    cut = p_on <= start and start > on - _n(P_SEARCH_MS, fs)
    if amp >= th.p_min_mv and snr >= th.p_snr_present:
        verdict = "unclear" if cut else "present"
    elif amp < th.p_min_mv or snr < th.p_snr_absent:
        verdict = "absent"
    else:
        verdict = "unclear"
    return {"p_on": p_on, "p_off": p_off, "p_wave": verdict, "p_snr": snr, "p_amp": amp}


# --- beats -----------------------------------------------------------------------------------------
def _qrs_sized(x, fs, peaks):
    """Return a mask of the peaks whose QRS is at least MIN_QRS_SIZE of the typical one: smaller
    detections are T waves or noise, and must not hide a real beat's T wave as a neighbour."""
    if peaks.size == 0:
        return np.zeros(0, dtype=bool)
    half = max(1, _n(QRS_SIZE_HALF_MS, fs))
    idx = np.clip(peaks[:, None] + np.arange(-half, half + 1)[None, :], 0, x.size - 1)
    size = np.ptp(x[idx], axis=1)
    return size >= MIN_QRS_SIZE * np.percentile(size, 75)


def _beat_windows(x, fs, peaks, chosen):
    """Return ((n, L) windows around the chosen R peaks at INTERNAL_FS, the index of R in them).

    Samples outside the signal, or within NEIGHBOUR_GUARD_MS of a neighbouring R peak, are NaN.
    """
    ratio = Fraction(INTERNAL_FS / fs).limit_denominator(1000)
    up, down = ratio.numerator, ratio.denominator
    pre = int(np.ceil((RESAMPLE_MARGIN_MS - BEAT_WINDOW_MS[0]) / 1000.0 * fs))
    post = int(np.ceil((RESAMPLE_MARGIN_MS + BEAT_WINDOW_MS[1]) / 1000.0 * fs))
    here = peaks[chosen]
    raw = x[np.clip(here[:, None] + np.arange(-pre, post + 1)[None, :], 0, x.size - 1)]
    win = raw if up == down == 1 else sps.resample_poly(raw, up, down, axis=1)
    r = int(round(pre * up / down))
    t = (np.arange(win.shape[1]) - r) / INTERNAL_FS * 1000.0  # ms from R
    to_ms = 1000.0 / fs
    prev_ms = np.where(chosen > 0, (peaks[np.maximum(chosen - 1, 0)] - here) * to_ms, -np.inf)
    next_ms = np.where(chosen < peaks.size - 1, (peaks[np.minimum(chosen + 1, peaks.size - 1)] - here) * to_ms, np.inf)
    first = np.maximum(prev_ms + NEIGHBOUR_GUARD_MS, -here * to_ms)
    last = np.minimum(next_ms - NEIGHBOUR_GUARD_MS, (x.size - 1 - here) * to_ms)
    win = np.where((t[None, :] > first[:, None]) & (t[None, :] < last[:, None]), win, np.nan)
    lo = r + _n(BEAT_WINDOW_MS[0], INTERNAL_FS)
    hi = r + _n(BEAT_WINDOW_MS[1], INTERNAL_FS)
    return win[:, lo:hi + 1], r - lo


def _align(windows, r):
    """Return the windows shifted so that their QRS complexes line up with the median QRS (two
    rounds of normalised cross-correlation over +-ALIGN_HALF_MS, shifts up to MAX_LAG_MS)."""
    half = _n(ALIGN_HALF_MS, INTERNAL_FS)
    lag = _n(MAX_LAG_MS, INTERNAL_FS)
    n, length = windows.shape
    cols = np.arange(length)[None, :]
    for _ in range(2):
        template = np.median(np.nan_to_num(windows[:, r - half: r + half + 1]), axis=0)
        template = template - template.mean()
        ext = np.nan_to_num(windows[:, r - half - lag: r + half + lag + 1])
        views = np.lib.stride_tricks.sliding_window_view(ext, 2 * half + 1, axis=1)  # (n, lags, w)
        views = views - views.mean(axis=2, keepdims=True)
        score = views @ template / (np.linalg.norm(views, axis=2) + 1e-12)
        shift = (np.argmax(score, axis=1) - lag)[:, None]  # this beat's QRS is ``shift`` samples late
        if not shift.any():
            break
        source = cols + shift
        moved = windows[np.arange(n)[:, None], np.clip(source, 0, length - 1)]
        windows = np.where((source >= 0) & (source < length), moved, np.nan)
    return windows


def _corr_rows(a, b):
    """Return the Pearson correlation of each row of ``a`` with the vector ``b``."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean()
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b)
    return np.where(den > 0, a @ b / np.where(den > 0, den, 1.0), 0.0)


def _valid_span(valid, r):
    """Return the [lo, hi) run of True in ``valid`` that holds ``r``."""
    bad = np.flatnonzero(~valid)
    lo = int(bad[bad < r].max()) + 1 if (bad < r).any() else 0
    hi = int(bad[bad > r].min()) if (bad > r).any() else valid.size
    return lo, hi


def _savgol(y, window_ms, fs, deriv):
    """Return ``y`` smoothed (``deriv`` 0) or its slope per sample (1): a quadratic
    Savitzky-Golay filter over ``window_ms``."""
    return np.convolve(y, _savgol_kernel(max(5, _n(window_ms, fs) | 1), deriv), mode="same")


@lru_cache(maxsize=8)
def _savgol_kernel(width, deriv):
    return sps.savgol_coeffs(width, 2, deriv=deriv, use="conv")


def _n(ms, fs):
    """Return ``ms`` milliseconds as a whole number of samples at ``fs``."""
    return int(round(ms / 1000.0 * fs))


def _round(value):
    return None if value is None else round(float(value), 1)
