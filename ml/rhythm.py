"""Rhythm verdict of a whole recording, and atrial fibrillation episodes in long ones.

The verdict is one of the four PhysioNet/CinC Challenge 2017 classes, named for reports and
other tools: ``normal``, ``atrial_fibrillation``, ``other``, ``noisy``. It comes from a small
multilayer perceptron over hand-made features of the strip, learnt from the CinC 2017 AliveCor
recordings (``ml.lab.rhythm_lab``):

* RR irregularity, as in the RR-only AF detectors (Petrenas et al. 2015, Sarkar et al. 2008,
  Lake & Moorman 2011): normalised RMSSD, pNN, coefficient of sample entropy, Poincare
  dispersion, Lorenz-plot occupancy, turning-point ratio, premature/long beat fractions;
* atrial activity and morphology: how consistent the P-wave region is from beat to beat (absent
  P waves in AF), QRS shape agreement, QRS width, amplitude spread;
* signal quality: the ``ml.quality`` indices and the spectrum of the strip.

Long recordings are cut into beat windows; a second, binary model over the same window features
(learnt from the MIT-BIH Arrhythmia and Supraventricular Arrhythmia databases' rhythm
annotations) marks atrial fibrillation/flutter windows, merged into episodes. The weights are
numpy arrays in ``ml/models/rhythm.npz``: loading costs milliseconds and needs no TensorFlow.
"""

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import signal as sps

LABELS = ("normal", "atrial_fibrillation", "other", "noisy")
CINC_CODES = ("N", "A", "O", "~")  # REFERENCE.csv codes, in LABELS order
MODEL_PATH = Path(__file__).resolve().parent / "models" / "rhythm.npz"
FEATURES_VERSION = "f1"  # bump when a window feature changes (the lab caches features)
STRIP_VERSION = "s2"  # bump when a strip-only feature changes
MIN_BEATS = 8  # fewer beats carry no rhythm
STRIP_MAX_S = 75.0  # longer recordings are read in windows (CinC strips are at most 61 s)
CHUNK_S = 30.0  # long records: the strip model reads 30-s chunks (the CinC median length)
WINDOW_BEATS = 40  # episode windows: 40 beats, a new window every STEP_BEATS beats
STEP_BEATS = 10
MIN_EPISODE_S = 30.0  # an AF run shorter than this is not reported as an episode
# Beat segments around each R peak (seconds): the P-wave region, the QRS, the T wave.
P_WIN = (-0.30, -0.07)
QRS_WIN = (-0.07, 0.09)
T_WIN = (0.12, 0.40)

WINDOW_FEATURES = (
    "hr", "cv", "nrmssd", "pnn_rel10", "pnn_rel20", "pnn50", "mad_drr", "q25_drr", "cosen",
    "tpr", "sd1", "sd2", "sd_ratio", "lorenz_occ", "premature", "long", "ac1", "ac2",
    "rr_range", "qrs_corr", "qrs_corr_low", "p_corr", "p_corr_high", "p_amp", "t_amp",
    "amp_cv", "qrs_width",
)
STRIP_FEATURES = WINDOW_FEATURES + (
    "log_duration", "beat_coverage", "band_low", "band_mid", "band_qrs", "band_high",
    "aa_fraction", "aa_peak_hz", "snr_db", "kurtosis", "template_corr", "wander", "longest_gap",
    "flat", "n_beats_log", "robust_nrmssd", "hr_local_max", "hr_local_min", "seg_corr_min",
    "seg_kurt_min", "seg_ptp_cv", "p_amp_beat", "p_pos_sd", "qrs_corr_vlow",
)


# ----------------------------------------------------------------------------- features
def _corr_rows(a, b):
    """Return the Pearson correlation of each row of ``a`` with the vector ``b``."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean()
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b)
    return np.where(den > 0, a @ b / np.where(den > 0, den, 1), 0.0)


@dataclass
class Beats:
    """Per-beat material of one recording, computed once and sliced by windows."""

    r_peaks: np.ndarray  # samples
    rr: np.ndarray  # (n-1,) seconds
    segs: np.ndarray  # (m, L) beat segments of the cleaned signal (beats with a full window)
    seg_beat: np.ndarray  # (m,) index into r_peaks of each segment
    fs: float


def _offsets(win, fs):
    return int(round(win[0] * fs)), int(round(win[1] * fs))


def beat_table(cleaned, fs, r_peaks):
    """Return the :class:`Beats` of ``r_peaks`` in the cleaned signal ``cleaned`` (``fs`` Hz)."""
    x = np.asarray(cleaned, dtype=np.float64)
    peaks = np.asarray(r_peaks, dtype=np.int64)
    lo, _ = _offsets(P_WIN, fs)
    _, hi = _offsets(T_WIN, fs)
    ok = np.flatnonzero((peaks + lo >= 0) & (peaks + hi < x.size))
    segs = x[peaks[ok, None] + np.arange(lo, hi + 1)[None, :]] if ok.size else np.zeros((0, hi - lo + 1))
    return Beats(peaks, np.diff(peaks) / fs, segs, ok, float(fs))


def _cosen(rr):
    """Return the coefficient of sample entropy of ``rr`` (Lake & Moorman 2011; m=1, r=30 ms)."""
    r = 0.03
    if rr.size < 4:
        return 0.0
    d = np.abs(rr[:, None] - rr[None, :])
    np.fill_diagonal(d, np.inf)
    a = np.sum(d[:-1, :-1] <= r)  # m=1 matches
    d2 = np.maximum(d[:-1, :-1], d[1:, 1:])
    b = np.sum(d2 <= r)  # m+1 matches
    a, b = max(a, 1), max(b, 1)
    return float(-np.log(b / a) + np.log(2 * r) - np.log(rr.mean()))


def _rr_features(rr):
    med = float(np.median(rr))
    mean = float(rr.mean())
    drr = np.diff(rr)
    adrr = np.abs(drr)
    f = {"hr": 60.0 / med, "cv": float(rr.std() / mean)}
    f["nrmssd"] = float(np.sqrt(np.mean(drr**2)) / mean) if drr.size else 0.0
    f["pnn_rel10"] = float(np.mean(adrr > 0.10 * med)) if drr.size else 0.0
    f["pnn_rel20"] = float(np.mean(adrr > 0.20 * med)) if drr.size else 0.0
    f["pnn50"] = float(np.mean(adrr > 0.05)) if drr.size else 0.0
    f["mad_drr"] = float(np.median(adrr) / med) if drr.size else 0.0
    f["q25_drr"] = float(np.percentile(adrr, 25) / med) if drr.size else 0.0
    f["cosen"] = _cosen(rr)
    if rr.size >= 3:
        mid = rr[1:-1]
        turns = ((mid > rr[:-2]) & (mid > rr[2:])) | ((mid < rr[:-2]) & (mid < rr[2:]))
        f["tpr"] = float(turns.mean())
    else:
        f["tpr"] = 0.0
    if rr.size >= 2:
        sd1 = np.std((rr[1:] - rr[:-1]) / np.sqrt(2))
        sd2 = np.std((rr[1:] + rr[:-1]) / np.sqrt(2))
        f["sd1"], f["sd2"] = float(sd1 / mean), float(sd2 / mean)
        f["sd_ratio"] = float(sd1 / sd2) if sd2 > 0 else 0.0
    else:
        f["sd1"] = f["sd2"] = f["sd_ratio"] = 0.0
    if drr.size >= 2:
        cells = np.floor(np.stack([drr[:-1], drr[1:]], axis=1) / (0.04 * med)).astype(np.int64)
        f["lorenz_occ"] = float(len({(a, b) for a, b in cells}) / len(cells))
    else:
        f["lorenz_occ"] = 0.0
    f["premature"] = float(np.mean(rr < 0.85 * med))
    f["long"] = float(np.mean(rr > 1.15 * med))
    dev = rr - mean
    var = float(np.sum(dev * dev))
    f["ac1"] = float(np.sum(dev[1:] * dev[:-1]) / var) if var > 0 and rr.size > 2 else 0.0
    f["ac2"] = float(np.sum(dev[2:] * dev[:-2]) / var) if var > 0 and rr.size > 3 else 0.0
    f["rr_range"] = float((np.percentile(rr, 90) - np.percentile(rr, 10)) / med)
    return f


def _median(a):
    """Return ``np.median(a, axis=0)``, the same numbers, by sorting: for the few dozen beats of a
    window, 2-2.5x faster than numpy's partition, which a long record calls for each of its
    hundreds of windows. NaN where a column holds one, as ``np.median``."""
    a = np.asarray(a, dtype=np.float64)
    n = a.shape[0]
    if n == 0:
        return np.median(a, axis=0)
    s = np.sort(a, axis=0)  # NaN sorts last
    m = n // 2
    out = s[m] if n % 2 else (s[m - 1] + s[m]) / 2
    nan = np.isnan(s[-1])
    if np.any(nan):
        out = np.where(nan, np.nan, out)
    return out


def _morph_features(segs, fs):
    f = dict.fromkeys(("qrs_corr", "qrs_corr_low", "p_corr", "p_corr_high", "p_amp", "t_amp",
                       "amp_cv", "qrs_width"), 0.0)
    if len(segs) < 3:
        return f
    lo = _offsets(P_WIN, fs)[0]
    p = slice(0, _offsets((P_WIN[1], 0), fs)[0] - lo)
    q = slice(_offsets(QRS_WIN, fs)[0] - lo, _offsets(QRS_WIN, fs)[1] - lo)
    t = slice(_offsets(T_WIN, fs)[0] - lo, None)
    tmpl = _median(segs)
    qrs_corr = _corr_rows(segs[:, q], tmpl[q])
    p_corr = _corr_rows(segs[:, p], tmpl[p])
    qrs_ptp = float(np.ptp(tmpl[q])) or 1e-6
    amp = np.ptp(segs[:, q], axis=1)
    f["qrs_corr"] = float(_median(qrs_corr))
    f["qrs_corr_low"] = float(np.mean(qrs_corr < 0.8))
    f["p_corr"] = float(_median(p_corr))
    f["p_corr_high"] = float(np.mean(p_corr > 0.7))
    f["p_amp"] = float(np.ptp(tmpl[p]) / qrs_ptp)
    f["t_amp"] = float(np.ptp(tmpl[t]) / qrs_ptp)
    f["amp_cv"] = float(amp.std() / (amp.mean() or 1e-6))
    qt = np.abs(tmpl[q] - _median(tmpl[p]))
    f["qrs_width"] = float(np.sum(qt > 0.3 * qt.max()) / fs) if qt.max() > 0 else 0.0
    return f


def window_features(beats, first, last):
    """Return the WINDOW_FEATURES vector of the beats ``first`` .. ``last`` (inclusive indices)."""
    rr = beats.rr[first:last]
    if rr.size < 2:
        return np.zeros(len(WINDOW_FEATURES))
    f = _rr_features(rr)
    sel = (beats.seg_beat >= first) & (beats.seg_beat <= last)
    f.update(_morph_features(beats.segs[sel], beats.fs))
    return np.array([f[k] for k in WINDOW_FEATURES], dtype=np.float64)


RR_FEATURES = WINDOW_FEATURES[:19]  # what _rr_features returns, in this order


def _rr_features_batch(R):
    """Return the RR_FEATURES of every row of ``R`` (windows x RR intervals, at least 4):
    the same numbers as :func:`_rr_features`, vectorised for the many windows of a long record."""
    med, mean = np.median(R, axis=1), R.mean(axis=1)
    drr = np.diff(R, axis=1)
    adrr = np.abs(drr)
    out = {"hr": 60.0 / med, "cv": R.std(axis=1) / mean,
           "nrmssd": np.sqrt(np.mean(drr**2, axis=1)) / mean,
           "pnn_rel10": np.mean(adrr > 0.10 * med[:, None], axis=1),
           "pnn_rel20": np.mean(adrr > 0.20 * med[:, None], axis=1),
           "pnn50": np.mean(adrr > 0.05, axis=1),
           "mad_drr": np.median(adrr, axis=1) / med,
           "q25_drr": np.percentile(adrr, 25, axis=1) / med}
    r = 0.03
    d = np.abs(R[:, :, None] - R[:, None, :])
    idx = np.arange(R.shape[1])
    d[:, idx, idx] = np.inf
    a = np.maximum(np.sum(d[:, :-1, :-1] <= r, axis=(1, 2)), 1)
    b = np.maximum(np.sum(np.maximum(d[:, :-1, :-1], d[:, 1:, 1:]) <= r, axis=(1, 2)), 1)
    out["cosen"] = -np.log(b / a) + np.log(2 * r) - np.log(mean)
    mid = R[:, 1:-1]
    turns = ((mid > R[:, :-2]) & (mid > R[:, 2:])) | ((mid < R[:, :-2]) & (mid < R[:, 2:]))
    out["tpr"] = turns.mean(axis=1)
    sd1 = np.std((R[:, 1:] - R[:, :-1]) / np.sqrt(2), axis=1)
    sd2 = np.std((R[:, 1:] + R[:, :-1]) / np.sqrt(2), axis=1)
    out["sd1"], out["sd2"] = sd1 / mean, sd2 / mean
    out["sd_ratio"] = np.where(sd2 > 0, sd1 / np.where(sd2 > 0, sd2, 1), 0.0)
    cells = np.floor(np.stack([drr[:, :-1], drr[:, 1:]], axis=2) / (0.04 * med)[:, None, None])
    code = np.sort(cells[:, :, 0].astype(np.int64) * 1_000_003 + cells[:, :, 1].astype(np.int64), axis=1)
    out["lorenz_occ"] = (1 + np.sum(np.diff(code, axis=1) != 0, axis=1)) / code.shape[1]
    out["premature"] = np.mean(R < 0.85 * med[:, None], axis=1)
    out["long"] = np.mean(R > 1.15 * med[:, None], axis=1)
    dev = R - mean[:, None]
    var = np.sum(dev * dev, axis=1)
    safe = np.where(var > 0, var, 1)
    out["ac1"] = np.where(var > 0, np.sum(dev[:, 1:] * dev[:, :-1], axis=1) / safe, 0.0)
    out["ac2"] = np.where(var > 0, np.sum(dev[:, 2:] * dev[:, :-2], axis=1) / safe, 0.0)
    out["rr_range"] = (np.percentile(R, 90, axis=1) - np.percentile(R, 10, axis=1)) / med
    return np.stack([out[k] for k in RR_FEATURES], axis=1)


def window_features_batch(beats, starts, size):
    """Return the WINDOW_FEATURES of the windows ``s .. s + size`` for every ``s`` in ``starts``."""
    if size < 4:
        return np.stack([window_features(beats, s, s + size) for s in starts])
    R = beats.rr[np.asarray(starts)[:, None] + np.arange(size)[None, :]]
    out = np.zeros((len(starts), len(WINDOW_FEATURES)))
    out[:, : len(RR_FEATURES)] = _rr_features_batch(R)
    for i, s in enumerate(starts):
        sel = (beats.seg_beat >= s) & (beats.seg_beat <= s + size)
        f = _morph_features(beats.segs[sel], beats.fs)
        out[i, len(RR_FEATURES):] = [f[k] for k in WINDOW_FEATURES[len(RR_FEATURES):]]
    return out


def _band_fractions(x, fs):
    nper = int(min(x.size, 4 * fs))
    freqs, pxx = sps.welch(x, fs=fs, nperseg=nper)
    total = float(pxx[(freqs >= 0.5)].sum()) or 1e-12
    bands = ((0.5, 3.0), (3.0, 10.0), (10.0, 25.0), (25.0, 60.0))
    return [float(pxx[(freqs >= a) & (freqs < b)].sum() / total) for a, b in bands]


def _atrial_activity(x, fs, beats):
    """Return (fraction of 3-12 Hz power, its peak frequency) after cancelling each QRST."""
    if len(beats.segs) < 3:
        return 0.0, 0.0
    resid = x.copy()
    lo = _offsets(P_WIN, fs)[0]
    q0 = _offsets(QRS_WIN, fs)[0] - lo  # cancel from the QRS onset to the end of the T wave
    tmpl = np.median(beats.segs, axis=0)[q0:]
    for b in beats.seg_beat:
        a = beats.r_peaks[b] + lo + q0
        resid[a: a + tmpl.size] -= tmpl
    nper = int(min(resid.size, 4 * fs))
    freqs, pxx = sps.welch(resid, fs=fs, nperseg=nper)
    band = (freqs >= 3.0) & (freqs <= 12.0)
    total = float(pxx[(freqs >= 1.0) & (freqs <= 40.0)].sum()) or 1e-12
    return float(pxx[band].sum() / total), float(freqs[band][np.argmax(pxx[band])])


def strip_features(cleaned, fs, r_peaks, quality_metrics=None, beats=None):
    """Return the STRIP_FEATURES vector of one strip (cleaned signal, its detected R peaks)."""
    x = np.asarray(cleaned, dtype=np.float64)
    if beats is None:
        beats = beat_table(x, fs, r_peaks)
    n = len(beats.r_peaks)
    w = window_features(beats, 0, n - 1) if n >= 3 else np.zeros(len(WINDOW_FEATURES))
    duration = x.size / fs
    med = float(np.median(beats.rr)) if n >= 2 else duration
    m = quality_metrics
    if m is None:
        from ml.quality import assess

        m = assess(x, fs, beats.r_peaks).metrics
    aa, aa_hz = _atrial_activity(x, fs, beats)
    extra = [np.log(duration), min(2.0, n * med / duration), *_band_fractions(x, fs), aa, aa_hz,
             float(m.get("snr_db", 0.0)), min(20.0, float(m.get("kurtosis", 0.0))),
             float(m.get("template_correlation", 0.0)), min(10.0, float(m.get("baseline_wander_ratio", 0.0))),
             min(10.0, float(m.get("longest_gap_s", duration))), float(m.get("flat_fraction", 0.0)),
             np.log1p(n)]
    return np.concatenate([w, extra, _strip_extra(x, fs, beats)])


def _strip_extra(x, fs, beats):
    """Return features only a whole strip has: local rate extremes, irregularity without
    ectopic beats, the worst 5-s segment's quality, beat-level P-wave consistency."""
    out = np.zeros(9)
    rr = beats.rr
    if rr.size >= 5:
        local = sps.medfilt(rr, 5)
        ok = np.abs(rr - local) <= 0.2 * local  # drop ectopic-looking intervals
        r2 = rr[ok]
        if r2.size >= 3:
            out[0] = np.sqrt(np.mean(np.diff(r2) ** 2)) / r2.mean()
        out[1], out[2] = 60.0 / local.min(), 60.0 / local.max()
    seg = int(5 * fs)
    nseg = x.size // seg
    if nseg >= 2:
        blocks = x[: nseg * seg].reshape(nseg, seg)
        z = blocks - blocks.mean(axis=1, keepdims=True)
        var = np.mean(z * z, axis=1)
        kurt = np.mean(z**4, axis=1) / np.where(var > 0, var**2, 1)
        out[4] = min(20.0, float(kurt.min()))
        ptp = np.ptp(blocks, axis=1)
        out[5] = float(ptp.std() / (ptp.mean() or 1e-6))
    if len(beats.segs) >= 3:
        lo = _offsets(P_WIN, fs)[0]
        q = slice(_offsets(QRS_WIN, fs)[0] - lo, _offsets(QRS_WIN, fs)[1] - lo)
        p = slice(0, _offsets((P_WIN[1], 0), fs)[0] - lo)
        tmpl = np.median(beats.segs, axis=0)
        corr = _corr_rows(beats.segs[:, q], tmpl[q])
        t = beats.r_peaks[beats.seg_beat] / fs
        seg_corr = [np.median(corr[(t >= a) & (t < a + 5)]) for a in np.arange(0, x.size / fs - 2.5, 5)
                    if np.any((t >= a) & (t < a + 5))]
        out[3] = float(min(seg_corr)) if seg_corr else 0.0
        qptp = float(np.median(np.ptp(beats.segs[:, q], axis=1))) or 1e-6
        pw = beats.segs[:, p] - np.median(beats.segs[:, p], axis=1, keepdims=True)
        out[6] = float(np.median(np.ptp(pw, axis=1)) / qptp)
        out[7] = float(np.std(np.argmax(np.abs(pw), axis=1)) / fs)
        out[8] = float(np.mean(corr < 0.5))
    return out


# ----------------------------------------------------------------------------- model
def mlp_forward(params, X):
    """Return softmax probabilities of the MLP ensemble ``params`` for standardised rows ``X``."""
    h = np.maximum(0.0, np.einsum("nd,edh->enh", X, params["W1"]) + params["b1"][:, None, :])
    z = np.einsum("enh,ehk->enk", h, params["W2"]) + params["b2"][:, None, :]
    z -= z.max(axis=2, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=2, keepdims=True)
    return p.mean(axis=0)


def gbdt_forward(m, X):
    """Return class probabilities of boosted trees ``m`` for rows ``X``.

    Trees are complete binary trees of one depth: ``feat``/``thr`` (trees, internal nodes; a
    row goes right when ``X[feat] > thr``), ``leaf`` (trees, leaves); tree t adds to class
    t % n_classes, on top of ``base``.
    """
    feat, thr, leaf = m["feat"], m["thr"], m["leaf"]
    k = int(m["n_classes"])
    depth = int(np.log2(leaf.shape[1]))
    n_trees, n = feat.shape[0], X.shape[0]
    node = np.zeros((n_trees, n), dtype=np.int64)
    tix, rows = np.arange(n_trees)[:, None], np.arange(n)[None, :]
    for _ in range(depth):
        node = 2 * node + 1 + (X[rows, feat[tix, node]] > thr[tix, node])
    vals = leaf[tix, node - (leaf.shape[1] - 1)]
    z = m["base"][None, :] + vals.reshape(n_trees // k, k, n).sum(axis=0).T
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


class RhythmModel:
    """The two shipped models: the 4-class strip verdict and the binary AF window detector."""

    def __init__(self, arrays, meta):
        self.strip = {k[6:]: arrays[k] for k in arrays if k.startswith("strip_")}
        self.trees = {k[5:]: arrays[k] for k in arrays if k.startswith("gbdt_")}
        self.window = {k[7:]: arrays[k] for k in arrays if k.startswith("window_")}
        self.meta = meta
        self.version = meta.get("version", "rhythm")
        self.af_threshold = float(meta.get("af_threshold", 0.5))

    @classmethod
    def load(cls, path=MODEL_PATH, *, verify=True):
        """Return the model at ``path`` after checking it against its ``.sha256`` file."""
        from ml.errors import ModelFileError
        from ml.store import expected_sha256, sha256_of

        path = Path(path)
        if not path.is_file():
            raise ModelFileError(f"The rhythm model {path} is missing. Train it with "
                                 "python -m ml.lab.rhythm_lab (ml/reports/rhythm.md).")
        if verify and sha256_of(path) != expected_sha256(path):
            raise ModelFileError(f"The rhythm model {path} does not match its checksum.")
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files if k != "meta"}
            meta = json.loads(str(data["meta"])) if "meta" in data.files else {}
        return cls(arrays, meta)

    def strip_proba(self, F):
        """Return the 4-class probabilities: the mean of the MLP's and the boosted trees'."""
        F = np.nan_to_num(np.atleast_2d(F))
        p = mlp_forward(self.strip, np.nan_to_num((F - self.strip["mean"]) / self.strip["std"]))
        if self.trees:
            p = 0.5 * (p + gbdt_forward(self.trees, F))
        return p

    def window_af(self, F):
        F = np.atleast_2d(F)
        X = (F - self.window["mean"]) / self.window["std"]
        return mlp_forward(self.window, np.nan_to_num(X))[:, 1]


@lru_cache(maxsize=1)
def get_model():
    """Return the shipped :class:`RhythmModel`, loaded once per process."""
    return RhythmModel.load()


# ----------------------------------------------------------------------------- serving
def window_starts(n_beats, size=WINDOW_BEATS, step=STEP_BEATS):
    """Return the first beat index of each episode window over ``n_beats`` beats."""
    if n_beats <= size:
        return np.array([0])
    starts = np.arange(0, n_beats - size, step)
    return np.append(starts, n_beats - size - 1) if starts[-1] != n_beats - size - 1 else starts


def beat_af_probability(beats, model):
    """Return, per beat, the mean AF probability of the windows that cover it."""
    n = len(beats.r_peaks)
    starts = window_starts(n)
    size = min(WINDOW_BEATS, n - 1)
    p = model.window_af(window_features_batch(beats, starts, size))
    acc, cnt = np.zeros(n), np.zeros(n)
    for s, pv in zip(starts, p):
        acc[s: s + size + 1] += pv
        cnt[s: s + size + 1] += 1
    return acc / np.maximum(cnt, 1)


def episodes_from_beats(r_peaks, fs, is_af, min_s=MIN_EPISODE_S):
    """Return AF episodes ({start_s, end_s, duration_s}) from a per-beat AF flag."""
    out = []
    is_af = np.asarray(is_af, dtype=bool)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], is_af.astype(int), [0]))))
    for a, b in zip(edges[::2], edges[1::2]):
        start, end = r_peaks[a] / fs, r_peaks[b - 1] / fs
        if end - start >= min_s:
            out.append({"start_s": round(float(start), 1), "end_s": round(float(end), 1),
                        "duration_s": round(float(end - start), 1)})
    return out


def analyse_rhythm(cleaned, fs, r_peaks, *, quality_metrics=None, model=None):
    """Return the rhythm verdict {"label", "probability", "probabilities", "episodes", ...}.

    ``cleaned`` is the filtered signal (``ml.preprocess.clean``), ``r_peaks`` its detected beats.
    Return None when there are too few beats for a rhythm. A strip up to STRIP_MAX_S is read
    whole; a longer record in up to 10 evenly spread CHUNK_S chunks (the verdict is the mean of the chunks'
    probabilities, atrial fibrillation when AF episodes cover at least half of it) and its AF
    episodes come from the window model.
    """
    model = model or get_model()
    x = np.asarray(cleaned, dtype=np.float64)
    peaks = np.asarray(r_peaks, dtype=np.int64)
    if peaks.size < MIN_BEATS:
        return None
    duration = x.size / fs
    beats = beat_table(x, fs, peaks)
    if duration <= STRIP_MAX_S:
        probs = model.strip_proba(strip_features(x, fs, peaks, quality_metrics, beats))[0]
        af_beats = None
    else:
        probs = _chunked_proba(x, fs, peaks, model)
        af_beats = beat_af_probability(beats, model) >= model.af_threshold
    label = LABELS[int(np.argmax(probs))]
    episodes = []
    af_s = None
    if af_beats is not None:
        episodes = episodes_from_beats(peaks, fs, af_beats)
        af_s = float(sum(e["duration_s"] for e in episodes))
        if af_s >= 0.5 * duration:
            label = "atrial_fibrillation"
        elif label == "atrial_fibrillation":  # chunks say AF, the episode detector does not
            rest = probs.copy()
            rest[LABELS.index("atrial_fibrillation")] = -1
            label = LABELS[int(np.argmax(rest))]
    elif label == "atrial_fibrillation":
        episodes = [{"start_s": round(peaks[0] / fs, 1), "end_s": round(peaks[-1] / fs, 1),
                     "duration_s": round((peaks[-1] - peaks[0]) / fs, 1)}]
    out = {
        "label": label,
        "probability": round(float(probs[LABELS.index(label)]), 3),
        "probabilities": {k: round(float(v), 3) for k, v in zip(LABELS, probs)},
        "episodes": episodes,
        "model_version": model.version,
    }
    if af_s is not None:
        out["af_seconds"] = round(af_s, 1)
        out["duration_s"] = round(duration, 1)
    out["summary"] = describe(out)
    return out


PLAIN = {
    "normal": "Normal sinus rhythm: a regular rhythm set by the heart's natural pacemaker.",
    "atrial_fibrillation": "Signs of atrial fibrillation: an irregularly irregular rhythm "
                           "without regular P waves. Show this recording to a doctor.",
    "other": "A rhythm other than normal sinus rhythm (for example extra beats, a block, or a "
             "fast or slow rhythm). Worth showing to a doctor.",
    "noisy": "Too noisy to read the rhythm: record again sitting still, with good contact.",
}


def describe(verdict):
    """Return the verdict in plain language (episodes of a long record included)."""
    text = PLAIN[verdict["label"]]
    if verdict.get("af_seconds") and verdict.get("duration_s"):
        n = len(verdict["episodes"])
        af = verdict["af_seconds"]
        amount = f"{af / 60:.0f}" if af >= 90 else f"{af / 60:.1f}"
        text += (f" Atrial fibrillation for {amount} of {verdict['duration_s'] / 60:.0f} minutes "
                 f"({n} episode{'s' if n != 1 else ''}).")
    return text


def noisy_verdict(reason):
    """Return the verdict of a strip the signal-quality gate found unreadable as noise."""
    return {"label": "noisy", "probability": None, "probabilities": {}, "episodes": [],
            "model_version": "quality-gate", "summary": PLAIN["noisy"], "reason": reason}


def _chunked_proba(x, fs, peaks, model, max_chunks=10):
    n = int(len(x) // (CHUNK_S * fs))
    starts = (np.linspace(0, n - 1, min(n, max_chunks)).astype(int) * CHUNK_S * fs).astype(int)
    feats = []
    for a in starts:
        b = a + int(CHUNK_S * fs)
        sel = peaks[(peaks >= a) & (peaks < b)] - a
        if sel.size >= MIN_BEATS:
            feats.append(strip_features(x[a:b], fs, sel))
    if not feats:
        return np.array([0.0, 0.0, 0.0, 1.0])
    return model.strip_proba(np.stack(feats)).mean(axis=0)


def af_beat_mask(r_peaks, fs, rhythm):
    """Return, per beat, whether it lies inside an AF episode of ``rhythm`` (a verdict dict)."""
    t = np.asarray(r_peaks, dtype=np.float64) / fs
    mask = np.zeros(t.size, dtype=bool)
    for e in (rhythm or {}).get("episodes", []):
        mask |= (t >= e["start_s"] - 1.0) & (t <= e["end_s"] + 1.0)
    return mask


NORMAL_SHAPE_CORR = 0.9  # QRS correlation with the record's usual beat that counts as "normal shape"


def normal_shaped_in_af(cleaned, fs, r_peaks, rhythm):
    """Return, per beat, whether it lies inside AF and its QRS has the record's usual shape.

    In atrial fibrillation every RR interval is irregular, so a beat that comes early but looks
    like the usual beat is conducted AF, not a premature atrial contraction.
    """
    x = np.asarray(cleaned, dtype=np.float64)
    peaks = np.asarray(r_peaks, dtype=np.int64)
    inside = af_beat_mask(peaks, fs, rhythm)
    if not inside.any():
        return inside
    a, b = _offsets(QRS_WIN, fs)
    ok = (peaks + a >= 0) & (peaks + b < x.size)
    segs = x[peaks[ok, None] + np.arange(a, b + 1)[None, :]]
    if len(segs) < 3:
        return np.zeros_like(inside)
    corr = np.zeros(peaks.size)
    corr[ok] = _corr_rows(segs, np.median(segs, axis=0))
    return inside & (corr >= NORMAL_SHAPE_CORR)
