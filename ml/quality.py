"""Signal-quality verdict for one lead: is it good enough to classify its beats?

The verdict is "good", "poor" (usable, but results deserve less trust) or "unusable" (do not
classify: a flat line, pure noise, a clipped trace, an impossible heart rate, too few beats). Each
reason is a plain-language sentence for the user. The checks are simple, published signal-quality
indices: flat-line and saturation detection, QRS-to-noise ratio, beat-to-beat morphology
agreement (template matching, as in bSQI/tSQI, Li & Clifford 2008/2012), kurtosis, baseline wander.
"""

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import signal as sps

from ml.io.recording import FLAT_LINE
from ml.preprocess import butter_sos

GOOD, POOR, UNUSABLE = "good", "poor", "unusable"

MIN_BEATS = 3
HR_RANGE = (20.0, 300.0)  # bpm outside this is not a human heart rhythm
HR_POOR_RANGE = (30.0, 220.0)


@dataclass
class Quality:
    verdict: str
    reasons: list[str] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        return self.verdict != UNUSABLE

    def to_dict(self) -> dict:
        return asdict(self)


def assess(signal, fs, r_peaks, *, kind: str = "signal") -> Quality:
    """Return the Quality of ``signal`` (one lead, ``fs`` Hz) whose R peaks are ``r_peaks``.

    ``kind`` is the Recording kind; a single digitised beat ("image-beat") skips the rhythm checks
    (beat count, heart rate), which need several beats.
    """
    x = np.asarray(signal, dtype=np.float64).ravel()
    fs = float(fs)
    peaks = np.asarray(r_peaks, dtype=np.int64).ravel()
    peaks = peaks[(peaks >= 0) & (peaks < x.size)]
    unusable: list[str] = []
    poor: list[str] = []
    m: dict = {"duration_s": round(x.size / fs, 2), "n_beats": int(peaks.size)}

    if x.size == 0 or not np.all(np.isfinite(x)):
        return Quality(UNUSABLE, ["The signal is empty or contains missing values."], m)
    span = float(np.ptp(x))
    if span == 0.0 or np.std(x) < 1e-9 * max(1.0, float(np.max(np.abs(x)))):
        return Quality(UNUSABLE, [f"{FLAT_LINE}."], m)

    m["flat_fraction"] = round(_flat_fraction(x, fs, span), 3)
    if m["flat_fraction"] > 0.5:
        unusable.append(f"The trace is flat for {m['flat_fraction']:.0%} of the time (electrode off?).")
    elif m["flat_fraction"] > 0.05:
        poor.append(f"The trace is flat for {m['flat_fraction']:.0%} of the time (electrode off?).")

    m["clipped_fraction"] = round(_clipped_fraction(x, span), 4)
    if m["clipped_fraction"] > 0.2:
        unusable.append(f"The signal is clipped (saturated) for {m['clipped_fraction']:.0%} of the samples.")
    elif m["clipped_fraction"] > 0.01:
        poor.append(f"The signal is clipped (saturated) for {m['clipped_fraction']:.1%} of the samples.")

    m["kurtosis"] = round(_kurtosis(_band(x, fs, 0.5, 40.0)), 2)
    if kind != "image-beat":
        _rhythm_checks(x, fs, peaks, m, unusable, poor)
    if peaks.size >= (1 if kind == "image-beat" else MIN_BEATS):
        _morphology_checks(x, fs, peaks, m, unusable, poor, single_beat=kind == "image-beat")

    verdict = UNUSABLE if unusable else POOR if poor else GOOD
    return Quality(verdict, unusable + poor, m)


def _rhythm_checks(x, fs, peaks, m, unusable, poor):
    if peaks.size < MIN_BEATS:
        unusable.append(
            f"Only {peaks.size} heartbeat{'s' if peaks.size != 1 else ''} found; at least {MIN_BEATS} are needed."
        )
        return
    rr = np.diff(peaks) / fs
    hr = 60.0 / float(np.median(rr))
    m["heart_rate_bpm"] = round(hr, 1)
    if not HR_RANGE[0] <= hr <= HR_RANGE[1]:
        unusable.append(
            f"The detected heart rate ({hr:.0f} bpm) is not plausible; the trace is probably noise or "
            "not an ECG."
        )
    elif not HR_POOR_RANGE[0] <= hr <= HR_POOR_RANGE[1]:
        poor.append(f"The heart rate ({hr:.0f} bpm) is unusual; check the beats found.")
    # A long stretch without any beat: lead off, or a pause worth a look.
    edges = np.concatenate(([peaks[0] / fs], rr, [(x.size - peaks[-1]) / fs]))
    m["longest_gap_s"] = round(float(edges.max()), 2)
    if edges.max() > 4.0:
        poor.append(f"No heartbeat was found for {edges.max():.1f} s of the recording.")


def _morphology_checks(x, fs, peaks, m, unusable, poor, *, single_beat):
    filt = _band(x, fs, 0.5, min(40.0, 0.45 * fs))
    half = int(0.06 * fs)
    lo = np.clip(peaks - half, 0, x.size - 1)
    hi = np.clip(peaks + half, 0, x.size - 1)
    qrs = np.array([np.ptp(filt[a : b + 1]) for a, b in zip(lo, hi)]) if peaks.size else np.zeros(0)
    qrs_amp = float(np.median(qrs)) if qrs.size else 0.0
    # High-frequency noise outside the QRS complexes.
    mask = np.ones(x.size, dtype=bool)
    guard = int(0.1 * fs)
    for p in peaks:
        mask[max(0, p - guard) : p + guard] = False
    hf = x - _band(x, fs, None, min(40.0, 0.45 * fs))
    noise = 1.4826 * float(np.median(np.abs(hf[mask] - np.median(hf[mask])))) if mask.sum() > fs else 0.0
    snr = 20 * np.log10(qrs_amp / noise) if noise > 0 and qrs_amp > 0 else 60.0
    m["qrs_amplitude"] = round(qrs_amp, 4)
    m["snr_db"] = round(float(min(snr, 60.0)), 1)
    wander = _windowed_ptp(_band(x, fs, None, 0.5), int(10 * fs)) / qrs_amp if qrs_amp > 0 else 0.0
    m["baseline_wander_ratio"] = round(wander, 2)

    if not single_beat:
        m["template_correlation"] = round(_template_agreement(filt, fs, peaks), 3)
        # Noise has Gaussian-like amplitudes (kurtosis near 3); an ECG is spiky (well above 5).
        noise_like = m["kurtosis"] < 4.0 and m["template_correlation"] < 0.8
        if m["template_correlation"] < 0.5 or m["snr_db"] < 3 or noise_like:
            unusable.append(
                "The trace looks like noise: the detected beats do not resemble each other "
                "or stand out from the background."
            )
            return
        if m["template_correlation"] < 0.7:
            poor.append("Beat shapes vary a lot, a sign of noise or artefacts.")
    if m["snr_db"] < 20:
        poor.append(f"The signal is noisy (QRS-to-noise ratio {m['snr_db']:.0f} dB).")
    if wander > 3:
        poor.append("Strong baseline wander (movement or breathing artefact).")


def _template_agreement(filt, fs, peaks) -> float:
    """Return the median, over beats, of each beat's 3rd-best correlation with the other beats.

    Real beats resemble several others (even with two morphologies, as in bigeminy); windows of
    noise do not.
    """
    half = int(0.2 * fs)
    ok = peaks[(peaks >= half) & (peaks < filt.size - half)]
    if ok.size < 4:
        return 1.0 if ok.size else 0.0
    if ok.size > 300:  # a sample is enough, keeps this O(300^2)
        ok = ok[np.linspace(0, ok.size - 1, 300).astype(int)]
    beats = filt[ok[:, None] + np.arange(-half, half + 1)[None, :]]
    beats = beats - beats.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(beats, axis=1, keepdims=True)
    beats = beats / np.where(norms == 0, 1, norms)
    corr = beats @ beats.T
    np.fill_diagonal(corr, -1.0)
    k = min(3, ok.size - 1)
    kth = -np.sort(-corr, axis=1)[:, k - 1]
    return float(np.median(kth))


def _band(x, fs, low, high):
    nyq = fs / 2
    if low and high and high < nyq:
        sos = butter_sos(2, [low, high], "bandpass", fs)
    elif high and high < nyq:
        sos = butter_sos(2, high, "lowpass", fs)
    elif low:
        sos = butter_sos(2, low, "highpass", fs)
    else:
        return x.copy()
    if x.size <= 3 * (2 * sos.shape[0] + 1):
        return x.copy()
    return sps.sosfiltfilt(sos, x)


def _windowed_ptp(x, win) -> float:
    """Return the median peak-to-peak range over windows of ``win`` samples (slow drift is fine)."""
    n = x.size // win
    if n < 2:
        return float(np.ptp(x))
    return float(np.median(np.ptp(x[: n * win].reshape(n, win), axis=1)))


def _flat_fraction(x, fs, span) -> float:
    win = max(2, int(0.5 * fs))
    n = x.size // win
    if n == 0:
        return 0.0
    blocks = x[: n * win].reshape(n, win)
    return float(np.mean(np.ptp(blocks, axis=1) < 0.002 * span))


def _clipped_fraction(x, span) -> float:
    """Return the fraction of samples stuck at the signal's extreme values (runs of 3 or more)."""
    tol = 1e-6 * span  # a saturated converter repeats its limit value exactly
    at_edge = (x >= x.max() - tol) | (x <= x.min() + tol)
    if at_edge.mean() < 0.002:
        return 0.0
    # Only plateaus count: a sharp R peak touches the maximum for a sample or two.
    run = at_edge[2:] & at_edge[1:-1] & at_edge[:-2]
    return float(run.mean())


def _kurtosis(x) -> float:
    x = x - x.mean()
    var = float(np.mean(x * x))
    return float(np.mean(x**4) / var**2) if var > 0 else 0.0
