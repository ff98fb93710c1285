"""Digitise an ECG image: a single-beat plot, a rhythm strip, or a scan/photo of a paper ECG.

Steps: decode safely (size limits against decompression bombs), flatten uneven lighting, drop
coloured and light grid lines, keep the one long thin dark curve (the trace), read it column by
column, and calibrate it from the paper grid when one is found (25 mm/s, 10 mm/mV) or else from
assumptions that the notes state. Anything without such a curve (a photo, a blank page, noise)
raises InvalidSignalError.
"""

import warnings
from pathlib import Path

import numpy as np
from scipy import ndimage

from ml.errors import ECGInputError, InvalidSignalError, UnsupportedFormatError
from ml.io.recording import Recording, check_fs, check_signal

MAX_PIXELS = 40_000_000  # a 600-dpi A4 scan is ~35 MP
MAX_SIDE = 20_000
WORK_WIDTH = 2400  # larger images are reduced to this width first (speed; no ECG detail lost)

PAPER_SPEED_MM_S = 25.0
PAPER_GAIN_MM_MV = 10.0
ASSUMED_STRIP_S = 10.0
# The single-beat plots this product's model was trained on show about 1.2 s around the R peak;
# see docs in ml/io/README or the report: measured from QRS widths against MIT-BIH.
ASSUMED_BEAT_S = 1.2

_NO_TRACE = "No ECG trace could be found in this image"


def read_image(path: Path, *, shown: str) -> Recording:
    """Return the Recording digitised from the PNG/JPEG image at ``path``."""
    rgb = _decode(path, shown)
    height, width = rgb.shape[:2]
    lum = rgb @ np.array([0.299, 0.587, 0.114])
    chroma = rgb.max(axis=2) - rgb.min(axis=2)

    if np.ptp(lum) < 20:
        raise InvalidSignalError(f"{_NO_TRACE} ({shown} is blank or uniform).")
    ink = _ink(lum)
    grid_px_per_mm, grid_mask = _paper_grid(rgb, lum, chroma, ink)
    strong, weak = _trace_mask(ink, chroma, lum, grid_mask)
    rows, thickness, trace_notes = _follow_trace(strong, weak, shown)

    cols = np.flatnonzero(~np.isnan(rows))
    first, last = cols[0], cols[-1]
    rows = rows[first : last + 1]
    gaps = np.isnan(rows)
    notes = list(trace_notes)
    if gaps.any():
        idx = np.arange(rows.size)
        rows[gaps] = np.interp(idx[gaps], idx[~gaps], rows[~gaps])
        if gaps.mean() > 0.05:
            notes.append(f"{gaps.mean():.0%} of the trace was hidden (gaps, grid or text) and was interpolated")

    span_px = rows.size
    single_beat = grid_px_per_mm is None and _looks_like_single_beat(rows, width, height, thickness)
    if grid_px_per_mm is not None:
        px_per_s = PAPER_SPEED_MM_S * grid_px_per_mm
        signal = (np.median(rows) - rows) / (PAPER_GAIN_MM_MV * grid_px_per_mm)
        kind = "image-strip"
        notes.insert(0, "Trace digitised from an image of ECG paper")
        notes.append(
            f"Time and amplitude calibrated from the paper grid ({grid_px_per_mm:.1f} pixels per mm), "
            f"assuming the standard {PAPER_SPEED_MM_S:g} mm/s and {PAPER_GAIN_MM_MV:g} mm/mV"
        )
    elif single_beat:
        px_per_s = span_px / ASSUMED_BEAT_S
        signal = (np.median(rows) - rows) / (height / 4.0)
        kind = "image-beat"
        notes.insert(0, "Single heartbeat digitised from an image; amplitude in arbitrary units")
        notes.append(f"Assumed the beat plot spans {ASSUMED_BEAT_S:g} s (the image has no time scale)")
    else:
        px_per_s = span_px / ASSUMED_STRIP_S
        signal = (np.median(rows) - rows) / (height / 4.0)
        kind = "image-strip"
        notes.insert(0, "Trace digitised from an image; amplitude in arbitrary units")
        notes.append(
            f"No paper grid was found, so the strip is assumed to last {ASSUMED_STRIP_S:g} s "
            "(the usual rhythm-strip length); heart rates scale with this assumption"
        )

    signal, fs = _to_rate(signal, px_per_s)
    fs = check_fs(fs, origin="estimated from the image")
    if np.ptp(signal) < 1e-9 or np.ptp(rows) < 2:
        raise InvalidSignalError(f"{_NO_TRACE}: {shown} shows only a flat line.")
    if kind == "image-strip":
        signal = check_signal(signal, fs=fs)
    notes.append(f"Sampling rate {fs:g} Hz derived from the image resolution")
    return Recording(signal=signal, fs=fs, lead="image", kind=kind, notes=notes)


# --- decoding ---------------------------------------------------------------------------------


def _decode(path: Path, shown: str) -> np.ndarray:
    """Return the image as a float RGB array (0-255) on white, reduced to at most WORK_WIDTH wide."""
    from PIL import Image, ImageOps

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                width, height = img.size
                if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
                    raise InvalidSignalError(
                        f"The image {shown} is too large ({width} x {height} pixels). "
                        f"Upload an image of at most {MAX_PIXELS // 1_000_000} megapixels."
                    )
                if width < 32 or height < 32:
                    raise InvalidSignalError(f"{_NO_TRACE} ({shown} is only {width} x {height} pixels).")
                if width > WORK_WIDTH:
                    img.draft("RGB", (WORK_WIDTH, WORK_WIDTH * height // width))  # JPEG: decode smaller
                img.load()
                img = ImageOps.exif_transpose(img)
                if img.mode in ("RGBA", "LA", "P", "PA") or "transparency" in img.info:
                    rgba = img.convert("RGBA")
                    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                    img = Image.alpha_composite(white, rgba)
                if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
                    arr = np.asarray(img, dtype=np.float64)
                    arr = 255.0 * (arr - arr.min()) / max(1e-9, np.ptp(arr))
                    img = Image.fromarray(arr.astype(np.uint8))
                img = img.convert("RGB")
                if img.width > WORK_WIDTH:
                    img = img.resize((WORK_WIDTH, max(1, round(img.height * WORK_WIDTH / img.width))), Image.LANCZOS)
                return np.asarray(img, dtype=np.float64)
    except ECGInputError:
        raise  # our own size checks (ECGInputError is a ValueError: keep it out of the clause below)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidSignalError(
            f"The image {shown} is too large to open safely. Upload an image of at most "
            f"{MAX_PIXELS // 1_000_000} megapixels."
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnsupportedFormatError(
            f"The image {shown} could not be read: it is damaged or incomplete ({str(exc)[:120]})."
        ) from None


# --- separating the trace from paper, grid and lighting ----------------------------------------


def _ink(lum: np.ndarray) -> np.ndarray:
    """Return darkness relative to the local paper colour (0 = paper, 1 = black)."""
    # Paper brightness: a large-scale maximum filter follows uneven lighting in photos.
    size = max(15, min(lum.shape) // 8)
    small = lum[::4, ::4]
    paper = ndimage.maximum_filter(small, size=max(3, size // 4))
    paper = ndimage.uniform_filter(paper, size=max(3, size // 4))
    paper = np.kron(paper, np.ones((4, 4)))[: lum.shape[0], : lum.shape[1]]
    paper = np.maximum(paper, lum)
    return np.clip((paper - lum) / np.maximum(paper, 1.0), 0.0, 1.0)


def _paper_grid(rgb, lum, chroma, ink):
    """Return (pixels per mm, grid-line mask) when a regular ECG grid is visible, else (None, mask)."""
    # Grid lines: coloured (red/pink/orange/green/blue tints) or faint grey, never the darkest ink.
    coloured = (chroma > 30) & (ink < 0.85)
    faint = (ink > 0.04) & (ink < 0.45) & (chroma <= 30)
    candidate = coloured | faint
    if candidate.mean() < 0.01:
        return None, np.zeros_like(candidate)
    # Square paper: the x and y spacings agree (within 15 %). Photos: sensor noise makes the binary
    # mask cover the paper, so the grey levels are tried next.
    for lines in (candidate, np.minimum(ink, 0.5) + chroma / 255.0):
        px_x = _grid_period(lines.mean(axis=0))
        px_y = _grid_period(lines.mean(axis=1))
        if px_x and px_y and abs(px_x[0] - px_y[0]) <= 0.15 * max(px_x[0], px_y[0]):
            break
    else:
        return None, np.zeros_like(candidate)
    period = (px_x[0] + px_y[0]) / 2
    big = px_x[1] or px_y[1]
    width = lum.shape[1]
    if big:
        px_per_mm = period / 5.0  # the period found is the 5-mm square; the 1-mm lines are emphasised
        if px_x[2] or px_y[2]:
            px_per_mm = period  # the period found is the 1-mm square, every 5th line heavier
    else:
        # Only one line spacing is visible: 1 mm or 5 mm? A strip is ~250 mm (10 s) wide.
        small_guess, big_guess = width / 250.0, width / 50.0
        px_per_mm = period if abs(np.log(period / small_guess)) < abs(np.log(period / big_guess)) else period / 5.0
    return px_per_mm, candidate


def _grid_period(profile: np.ndarray):
    """Return (period px, looks_like_5mm, has_5x_emphasis) of a periodic line profile, or None."""
    p = profile - ndimage.uniform_filter1d(profile, size=max(5, profile.size // 20))
    n = p.size
    if n < 64 or np.std(p) == 0:
        return None
    spec = np.abs(np.fft.rfft(p * np.hanning(n), n=2 * n)) ** 2
    ac = np.fft.irfft(spec)[:n]
    ac = ac / ac[0]
    lo, hi = 3, n // 6
    if hi <= lo + 2:
        return None
    seg = ac[lo:hi]
    peaks = np.flatnonzero((seg[1:-1] > seg[:-2]) & (seg[1:-1] >= seg[2:])) + 1
    peaks = peaks[seg[peaks] > 0.25]
    if peaks.size == 0:
        return None
    lag = int(peaks[0] + lo)  # the first strong repeat: the finest visible line spacing
    # Regular: the repeat holds at 2x and 3x the lag.
    for k in (2, 3):
        if k * lag < n and ac[k * lag - 1 : k * lag + 2].max() < 0.15:
            return None
    # Refine to sub-pixel at doubling multiples of the period. Each search window stays narrower
    # than the period: a wider one lands on a neighbouring repeat (often the heavier 5-mm line) and
    # skews the period by 10-25 %, so the x and y periods disagree and the grid is missed.
    period, unc, mult = float(lag), 0.5, 2
    while mult <= 64 and mult * (period + unc) + 2 < n // 3:
        lo_i = max(1, int(np.floor(mult * (period - unc))))
        hi_i = int(np.ceil(mult * (period + unc)))
        k = lo_i + int(np.argmax(ac[lo_i : hi_i + 1]))
        frac = 0.0
        if lo_i < k < hi_i:  # parabolic interpolation of the peak
            a, b, c = ac[k - 1], ac[k], ac[k + 1]
            denom = a - 2 * b + c
            frac = 0.5 * (a - c) / denom if denom < 0 else 0.0
        period = (k + frac) / mult
        unc = max(0.5 / mult, 0.05 * period / mult) + 0.5 / mult
        mult *= 2

    def level(m):
        i = int(round(m * period))
        return ac[max(0, i - 1) : i + 2].max() if i + 2 <= n else -1.0

    emphasis5 = 5 * period < n - 2 and level(5) > level(4) + 0.05
    return period, False, bool(emphasis5)


def _trace_mask(ink, chroma, lum, grid_mask):
    """Return (strong, weak) masks of dark, uncoloured pixels: the pen/printer trace.

    ``weak`` also holds the faint anti-aliased pixels of steep strokes, kept only where they touch
    ``strong`` pixels (hysteresis thresholding).
    """
    dark = ink > 0.15
    # Dark but strongly coloured pixels are heavy grid lines (a dark-blue pen trace is kept).
    grid_coloured = (chroma > 60) & (lum > 60)
    if grid_mask.any():
        # On found paper, also drop pixels tinted like the grid for their darkness. JPEG halves the
        # colour resolution, so thin red lines keep only chroma 40-60 and would otherwise join the
        # trace where it crosses them (the whole grid then reads as one "trace").
        grid_coloured |= grid_mask & (lum > 60) & (chroma > 0.3 * np.maximum(255.0 - lum, 1.0))
    values = ink[dark & ~grid_coloured]
    if values.size == 0:
        empty = np.zeros_like(dark)
        return empty, empty
    # Otsu between the trace and any remaining faint structure (light grid, shadows).
    thr = max(0.2, _otsu(values))
    strong = (ink > thr) & ~grid_coloured
    # Faint pixels count only beside dark ones: blurred grid lines of a photo must not join the trace.
    weak = (ink > max(0.1, 0.5 * thr)) & ~grid_coloured & ndimage.binary_dilation(strong, iterations=2)
    return strong, weak


def _otsu(values: np.ndarray) -> float:
    hist, edges = np.histogram(values, bins=64, range=(0.0, 1.0))
    w = np.cumsum(hist)
    m = np.cumsum(hist * edges[:-1])
    total, mtotal = w[-1], m[-1]
    between = np.zeros_like(w, dtype=np.float64)
    valid = (w > 0) & (w < total)
    wb, wf = w[valid], total - w[valid]
    between[valid] = (m[valid] * total - mtotal * wb) ** 2 / (wb * wf)
    return float(edges[int(np.argmax(between)) + 1])


# --- following the trace -------------------------------------------------------------------------


def _follow_trace(strong: np.ndarray, weak: np.ndarray, shown: str):
    """Return (row of the trace in every column, NaN where absent; line thickness px; notes).

    Keep the connected curve that spans the most columns, plus pieces of it broken off in columns it
    misses; read each column's pixel run, taking the run's far end when the trace moves steeply
    (so R peaks keep their height).
    """
    height, width = strong.shape
    dark_fraction = strong.mean()
    if dark_fraction < 0.0005:
        raise InvalidSignalError(f"{_NO_TRACE} (no dark line in {shown}).")
    if dark_fraction > 0.2:
        raise InvalidSignalError(f"{_NO_TRACE} ({shown} is mostly dark, like a photo, not a thin trace).")

    labels, count = ndimage.label(weak, structure=np.ones((3, 3), bool))
    seeded = np.zeros(count + 1, dtype=bool)
    seeded[np.unique(labels[strong])] = True
    seeded[0] = False
    labels = np.where(seeded[labels], labels, 0)
    cols_by_label = np.zeros((count + 1, width), dtype=bool)
    r, c = np.nonzero(labels)
    cols_by_label[labels[r, c], c] = True
    coverage = cols_by_label.sum(axis=1)
    order = np.argsort(coverage)[::-1]
    best = int(order[0])
    if coverage[best] < 0.25 * width:
        raise InvalidSignalError(f"{_NO_TRACE} ({shown} has no continuous line running across it).")

    notes = []
    chosen = [best]
    covered = cols_by_label[best].copy()
    for lab in order[1:]:
        if coverage[lab] < 2:
            break
        overlap = (cols_by_label[lab] & covered).sum() / coverage[lab]
        if overlap < 0.3:
            chosen.append(int(lab))
            covered |= cols_by_label[lab]
        elif coverage[lab] > 0.5 * coverage[best] and len(notes) == 0:
            notes.append("Several traces are drawn in the image; the longest one was used")
    main = np.isin(labels, chosen)
    pixels = int(main.sum())
    thickness = pixels / max(1, covered.sum())
    # A trace is thin: a few pixels per column on average (QRS strokes included).
    if thickness > max(6.0, 0.08 * height):
        raise InvalidSignalError(f"{_NO_TRACE} ({shown} contains large dark areas rather than a thin line).")
    if covered.sum() < 0.4 * width:
        raise InvalidSignalError(f"{_NO_TRACE} ({shown} has no continuous line running across it).")
    # Noise and textures: the curve holds little of the image's dark ink.
    if main[strong].mean() < 0.3 and dark_fraction > 0.01:
        raise InvalidSignalError(f"{_NO_TRACE} ({shown} looks like texture or noise, not a trace).")

    rows = np.full(width, np.nan)
    has = main.any(axis=0)
    tops = np.argmax(main, axis=0)
    bottoms = height - 1 - np.argmax(main[::-1], axis=0)
    line = max(1.0, float(np.median((bottoms - tops + 1)[has])))
    prev = None
    for col in np.flatnonzero(has):
        top, bottom = float(tops[col]), float(bottoms[col])
        if bottom - top + 1 <= 1.5 * line + 1 or prev is None:
            value = (top + bottom) / 2.0
        elif abs(bottom - prev) > abs(top - prev):
            value = bottom - (line - 1) / 2.0  # a steep stroke reaching down to ``bottom``
        else:
            value = top + (line - 1) / 2.0
        rows[col] = value
        prev = value
    return rows, line, notes


def _looks_like_single_beat(rows, width, height, thickness) -> bool:
    """Return True for a plot of one beat (one tall spike), False for a strip of several beats."""
    if width > 3.0 * height or rows.size > 1200:
        return False
    y = np.median(rows) - rows
    span = np.ptp(y)
    if span == 0:
        return False
    from scipy.signal import find_peaks

    up, _ = find_peaks(y, prominence=0.5 * span, distance=max(1, rows.size // 10))
    down, _ = find_peaks(-y, prominence=0.5 * span, distance=max(1, rows.size // 10))
    return max(up.size, down.size) <= 1


def _to_rate(signal: np.ndarray, px_per_s: float):
    """Return (signal, fs) with one sample per column, resampled into 100..1000 Hz when needed."""
    from scipy.signal import resample_poly

    fs = float(px_per_s)
    if fs < 100:
        up = int(np.ceil(100 / fs))
        return resample_poly(signal, up, 1), round(fs * up, 3)
    if fs > 1000:
        down = int(np.ceil(fs / 1000))
        return resample_poly(signal, 1, down), round(fs / down, 3)
    return signal.astype(np.float64), round(fs, 3)
