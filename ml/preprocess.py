"""Turn an ECG signal and its R peaks into the model's inputs.

:func:`beat_features` is the one preprocessing path shared by training (``ml.lab.dataset``) and
serving (``ml.analysis``), so the two cannot drift apart. Per beat it returns

* a 32x32 time-frequency image: the magnitude of a Morlet (Gabor) wavelet transform of the
  cleaned, resampled signal, 32 log-spaced frequencies (2-45 Hz) x 32 time steps spanning
  0.25 s before to 0.44 s after the R peak; a second channel holds the same image minus the
  record's median beat image, so morphology is also seen relative to this patient's usual beat
  (what lets the model generalise to patients it never saw);
* a rhythm-context vector of RR-interval features (pre/post RR, their ratios to the local and
  the record mean RR, and how irregular the local rhythm is), the information that tells a
  premature beat from a normal one, and a short RR in atrial fibrillation from a premature beat.

The wavelet transform is a fixed linear map, precomputed once as a matrix, so a batch of beats
costs one matrix product: fast enough for whole 30-minute records in well under a second.

:func:`image_beat_features` is the one path for single-beat plots (training in
``ml.lab.image_dataset``, serving in ``ml.analysis``): the same wavelet scalogram, taken over the
whole digitised trace, beside the coarse trace shape (a plot has no time scale and no rhythm).
"""

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np
from scipy import signal as sps

MODEL_FS = 180.0  # Hz; every input is resampled to this rate
IMAGE_SIZE = 32
IMAGE_CHANNELS = 2  # the beat's scalogram, and its difference from the record's median beat
IMAGE_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, IMAGE_CHANNELS)
FREQS_HZ = np.geomspace(2.0, 45.0, IMAGE_SIZE)
# Beat window at MODEL_FS: image columns at R-45 .. R+79 samples (step 4): -0.25 s .. +0.44 s.
_PRE = 45
_STEP = 4
# Longer segment read around each R so every wavelet kernel fits inside it.
_SEG_BEFORE = 110
_SEG_LEN = 256
_MAX_SIGMA_S = 0.12  # cap the kernel width so low frequencies do not reach past the segment
_N_CYCLES = 5.0
_REFINE_S = 0.05  # snap each R peak to the largest |amplitude| within +-50 ms

CONTEXT_NAMES = (
    "pre_rr_s",
    "post_rr_s",
    "pre_rr_to_local",
    "post_rr_to_local",
    "pre_rr_to_record",
    "post_rr_to_record",
    "local_to_record",
    "post_to_pre",
    "local_irregularity",
)
N_CONTEXT = len(CONTEXT_NAMES)
NEUTRAL_RR_S = 0.8  # 75 bpm, used when a beat has no neighbours (single-beat image)
_LOCAL_BEATS = 10  # beats either side for the local mean RR


@dataclass
class BeatFeatures:
    """Model inputs for a run of beats, aligned with ``r_peaks``."""

    images: np.ndarray  # (n, 32, 32, 2) float32
    context: np.ndarray  # (n, N_CONTEXT) float32
    r_peaks: np.ndarray  # (n,) int, sample indices at the input rate
    fs: float  # input rate


@lru_cache(maxsize=64)
def _butter_sos(order, cutoff, btype, fs):
    return sps.butter(order, cutoff, btype=btype, fs=fs, output="sos")


def butter_sos(order, cutoff, btype, fs):
    """Return ``scipy.signal.butter(order, cutoff, btype, fs=fs, output="sos")``, designed once.

    The same few filters are designed for every upload (each rate meets the same bands), and the
    design cost about 1 ms each: several per single-beat plot, more than its model call.
    """
    cutoff = tuple(float(c) for c in cutoff) if np.ndim(cutoff) else float(cutoff)
    # A copy: scipy's filters take the coefficients as writable buffers.
    return _butter_sos(int(order), cutoff, btype, float(fs)).copy()


def clean(signal, fs):
    """Return the signal with baseline wander (< 0.5 Hz) and high-frequency noise (> 40 Hz) removed."""
    x = np.asarray(signal, dtype=np.float64)
    high = min(40.0, 0.45 * fs)
    sos = butter_sos(2, [0.5, high], "bandpass", fs)
    padlen = min(len(x) - 1, int(3 * fs))
    if padlen < 1:
        return x - x.mean()
    return sps.sosfiltfilt(sos, x, padlen=padlen)


def resample(signal, fs, target_fs=MODEL_FS):
    """Return ``signal`` resampled from ``fs`` to ``target_fs`` (polyphase, anti-aliased)."""
    if abs(fs - target_fs) < 1e-9:
        return np.asarray(signal, dtype=np.float64)
    ratio = Fraction(target_fs / fs).limit_denominator(1000)
    return sps.resample_poly(signal, ratio.numerator, ratio.denominator)


@lru_cache(maxsize=4)
def _wavelet_matrix(first_center=_SEG_BEFORE - _PRE, step=_STEP):
    """Return the (segment, 2*freq*time) float32 matrix mapping a segment to its scalogram.

    Image column ``j`` is centred on segment sample ``first_center + step * j``.
    """
    t = np.arange(_SEG_LEN)
    centers = first_center + step * np.arange(IMAGE_SIZE)
    kernels = np.zeros((_SEG_LEN, IMAGE_SIZE, IMAGE_SIZE), dtype=np.complex128)
    for i, f in enumerate(FREQS_HZ):
        sigma = min(_N_CYCLES / (2 * np.pi * f), _MAX_SIGMA_S) * MODEL_FS
        for j, c in enumerate(centers):
            d = t - c
            g = np.exp(-0.5 * (d / sigma) ** 2)
            g[np.abs(d) > 3 * sigma] = 0.0
            # Unit gain for a sinusoid at f, so rows are comparable across frequencies.
            kernels[:, IMAGE_SIZE - 1 - i, j] = g * np.exp(-2j * np.pi * f * d / MODEL_FS) / g.sum()
    flat = kernels.reshape(_SEG_LEN, IMAGE_SIZE * IMAGE_SIZE)
    # Real and imaginary parts side by side: one float32 GEMM instead of a complex one.
    return np.concatenate([flat.real, flat.imag], axis=1).astype(np.float32)


def _scalograms(segments, **matrix_args):
    """Return the (n, 32, 32) log-magnitude scalograms of (n, _SEG_LEN) segments."""
    proj = np.asarray(segments, dtype=np.float32) @ _wavelet_matrix(**matrix_args)
    half = IMAGE_SIZE * IMAGE_SIZE
    mags = np.hypot(proj[:, :half], proj[:, half:])
    return np.log1p(8.0 * mags).reshape(len(segments), IMAGE_SIZE, IMAGE_SIZE).astype(np.float32)


def _refine(x, peaks):
    """Snap peaks to the nearest |max| so annotated and detected R peaks land on the same sample."""
    half = int(round(_REFINE_S * MODEL_FS))
    offsets = np.arange(-half, half + 1)
    idx = np.clip(peaks[:, None] + offsets[None, :], 0, len(x) - 1)
    return idx[np.arange(len(peaks)), np.argmax(np.abs(x[idx]), axis=1)]


def rr_context(r_peaks, fs, *, single_beat=False):
    """Return the (n, N_CONTEXT) rhythm-context features for beats at ``r_peaks`` (samples at ``fs``)."""
    n = len(r_peaks)
    if single_beat or n < 2:
        rr = np.full(n, NEUTRAL_RR_S)  # a regular rhythm at 75 bpm: ratios 1, irregularity 0
        return np.column_stack([rr, rr] + [np.ones(n)] * (N_CONTEXT - 3) + [np.zeros(n)]
                               ).astype(np.float32)
    rr = np.clip(np.diff(np.asarray(r_peaks, dtype=np.float64)) / fs, 0.15, 3.0)
    pre = np.concatenate([[rr[0]], rr])
    post = np.concatenate([rr, [rr[-1]]])
    record_mean = rr.mean()
    # Centred moving mean of RR over about 2*_LOCAL_BEATS beats, shrinking at the edges.
    csum = np.concatenate([[0.0], np.cumsum(pre)])
    lo = np.clip(np.arange(n) - _LOCAL_BEATS, 0, n)
    hi = np.clip(np.arange(n) + _LOCAL_BEATS + 1, 0, n)
    local = (csum[hi] - csum[lo]) / (hi - lo)
    # Irregularity of the surrounding rhythm: median |successive RR difference| over the same
    # window, relative to the local mean. High in atrial fibrillation, where a short RR is not
    # premature; a median, so one isolated ectopic beat does not raise it.
    diffs = np.abs(np.diff(pre, prepend=pre[0]))
    padded = np.pad(diffs, _LOCAL_BEATS, constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * _LOCAL_BEATS + 1)
    irregular = np.nanmedian(windows, axis=1) / local
    feats = np.column_stack(
        [pre, post, pre / local, post / local, pre / record_mean, post / record_mean,
         local / record_mean, post / pre, irregular]
    )
    return np.clip(feats, 0.0, 5.0).astype(np.float32)


def beat_features(signal, fs, r_peaks, *, single_beat=False, cleaned=False):
    """Return :class:`BeatFeatures` for every R peak in ``r_peaks`` (sample indices at ``fs``).

    ``signal`` is the raw single-lead ECG in mV; it is cleaned here unless ``cleaned`` is true.
    ``single_beat`` marks a signal holding one beat and no rhythm (a single-beat image): its
    context is neutral (RR 0.8 s, all ratios 1).
    """
    fs = float(fs)
    r_peaks = np.asarray(r_peaks, dtype=np.int64).reshape(-1)
    x = np.asarray(signal, dtype=np.float64) if cleaned else clean(signal, fs)
    x = resample(x, fs)
    n = len(r_peaks)
    if n == 0:
        return BeatFeatures(
            np.zeros((0,) + IMAGE_SHAPE, np.float32), np.zeros((0, N_CONTEXT), np.float32),
            r_peaks, fs,
        )
    peaks = np.clip(np.round(r_peaks * (MODEL_FS / fs)).astype(np.int64), 0, len(x) - 1)
    peaks = _refine(x, peaks)
    # Amplitude scale of the record: median |R|, so gains (mV, ADC units, pixels) do not matter.
    scale = np.median(np.abs(x[peaks]))
    if not np.isfinite(scale) or scale <= 1e-9:
        scale = max(np.max(np.abs(x)), 1e-9)
    xp = np.pad(x / scale, (_SEG_LEN, _SEG_LEN))
    starts = peaks + _SEG_LEN - _SEG_BEFORE
    segments = xp[starts[:, None] + np.arange(_SEG_LEN)[None, :]].astype(np.float32)
    scalograms = _scalograms(segments)
    if single_beat:
        relative = np.zeros_like(scalograms)  # no other beats to compare with
    else:
        relative = scalograms - np.median(scalograms, axis=0, keepdims=True)
    images = np.stack([scalograms, relative], axis=-1)
    context = rr_context(r_peaks, fs, single_beat=single_beat)
    return BeatFeatures(images, context, r_peaks, fs)


# --- single-beat images ---------------------------------------------------------------------------
# A single-beat plot has no time scale, no amplitude scale and no rhythm, so it gets its own input:
# the whole digitised trace, stretched to a fixed nominal span, as the same kind of 32x32 wavelet
# scalogram, beside the coarse trace shape. The image-beat model (ml/models/ecg_cnn_image.keras) is
# trained on exactly this function's output.
BEAT_TRACE_SAMPLES = 128  # the trace is resampled to this many samples at MODEL_FS (~0.71 s)
BEAT_IMAGE_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)
N_TRACE_CONTEXT = 32  # the trace itself at 32 points, for the dense branch


def image_beat_features(trace):
    """Return (image (32, 32, 1), context (N_TRACE_CONTEXT,)) for one digitised single-beat plot.

    ``trace`` is the signal ``ml.io.load`` read from the plot, at any rate: it is taken as one
    beat spanning the plot, resampled to :data:`BEAT_TRACE_SAMPLES`, centred on its median and
    scaled to a peak |amplitude| of 1 (the plots carry no mV scale). The scalogram columns span
    the whole trace; the context holds the normalised trace at 32 evenly spaced points.
    """
    x = np.asarray(trace, dtype=np.float64).ravel()
    if x.size < 2:
        x = np.zeros(2)
    pos = np.linspace(0.0, x.size - 1.0, BEAT_TRACE_SAMPLES)
    x = np.interp(pos, np.arange(x.size), x)
    x = x - np.median(x)
    peak = np.max(np.abs(x))
    x = x / peak if peak > 1e-9 else x
    pad_before = (_SEG_LEN - BEAT_TRACE_SAMPLES) // 2
    # Edge padding: the plot's ends continue flat rather than dropping to zero.
    segment = np.pad(x, (pad_before, _SEG_LEN - BEAT_TRACE_SAMPLES - pad_before), mode="edge")
    step = BEAT_TRACE_SAMPLES // IMAGE_SIZE
    image = _scalograms(segment[None, :], first_center=pad_before + step // 2, step=step)[0]
    context = x[np.linspace(0, BEAT_TRACE_SAMPLES - 1, N_TRACE_CONTEXT).round().astype(int)]
    return image[..., None], context.astype(np.float32)
