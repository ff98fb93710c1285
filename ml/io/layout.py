"""Page geometry of an ECG picture: tilt, printed lines, rows of traces, the calibration pulse.

OpenCV does the pixel work (rotation, morphological line finding); the decisions are small and
stated here. All lengths are in millimetres of paper, converted with the grid's pixels per mm.
"""

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.signal import find_peaks

MAX_SKEW_DEG = 15.0
LEVEL_BELOW_DEG = 0.2  # smaller tilts are left alone (the column reader tolerates them)
H_LINE_MM = 40.0  # a straight horizontal run this long is a printed line, not a trace
V_LINE_MM = 30.0
ROW_MIN_GAP_MM = 8.0
PULSE_WIDTH_MM = (3.5, 12.0)  # 0.2 s = 5 mm at 25 mm/s
PULSE_SEARCH_MM = 30.0
STANDARD_GAINS = (2.5, 5.0, 10.0, 20.0)


def estimate_skew(dark: np.ndarray) -> float:
    """Return the rotation (degrees, counter-clockwise) that makes the page's lines horizontal.

    Projection profile: rotated so that grid lines and trace baselines are level, the row sums of
    the dark pixels are sharpest. Searched in +-15 degrees, 1 degree then 0.1 degree steps.
    """
    import cv2

    h, w = dark.shape
    f = min(1.0, 700.0 / max(h, w))
    small = cv2.resize(dark.astype(np.float32), (max(8, int(w * f)), max(8, int(h * f))),
                       interpolation=cv2.INTER_AREA)
    sh, sw = small.shape
    centre = (sw / 2.0, sh / 2.0)

    def score(angle):
        m = cv2.getRotationMatrix2D(centre, float(angle), 1.0)
        r = cv2.warpAffine(small, m, (sw, sh), flags=cv2.INTER_LINEAR, borderValue=0.0)
        return float(np.sum(np.diff(r.sum(axis=1)) ** 2) + np.sum(np.diff(r.sum(axis=0)) ** 2))

    coarse = np.arange(-MAX_SKEW_DEG, MAX_SKEW_DEG + 0.01, 1.0)
    best = float(coarse[int(np.argmax([score(a) for a in coarse]))])
    fine = np.arange(best - 0.9, best + 0.91, 0.1)
    return float(fine[int(np.argmax([score(a) for a in fine]))])


def rotation(shape, angle: float):
    """Return (2x3 affine matrix, (width, height)) of ``rotate``: picture pixels -> rotated pixels."""
    import cv2

    h, w = shape[:2]
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
    m[0, 2] += nw / 2.0 - w / 2.0
    m[1, 2] += nh / 2.0 - h / 2.0
    return m, (nw, nh)


def rotate(rgb: np.ndarray, angle: float) -> np.ndarray:
    """Return ``rgb`` rotated by ``angle`` degrees counter-clockwise, canvas enlarged, white fill."""
    import cv2

    m, (nw, nh) = rotation(rgb.shape, angle)
    out = cv2.warpAffine(rgb.astype(np.float32), m, (nw, nh), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=(255, 255, 255))
    return out.astype(np.float64)


def straight_lines(mask: np.ndarray, h_len: int, v_len: int):
    """Return (horizontal, vertical) masks of straight printed lines at least that many pixels long."""
    import cv2

    m = mask.astype(np.uint8)
    hk = cv2.getStructuringElement(cv2.MORPH_RECT, (max(3, int(h_len)), 1))
    vk = cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(3, int(v_len))))
    horiz = cv2.morphologyEx(m, cv2.MORPH_OPEN, hk)
    vert = cv2.morphologyEx(m, cv2.MORPH_OPEN, vk)
    return horiz.astype(bool), vert.astype(bool)


def dilate(mask: np.ndarray) -> np.ndarray:
    """Return ``mask`` grown by one pixel in every direction."""
    import cv2

    return cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0


def baselines(mask: np.ndarray, px_per_mm: float) -> list[int]:
    """Return the image rows (top to bottom) where a trace runs across the picture."""
    band = max(3, int(round(3.0 * px_per_mm)))
    covered = ndimage.maximum_filter1d(mask.astype(np.uint8), size=band, axis=0).mean(axis=1)
    covered = ndimage.uniform_filter1d(covered, size=max(1, band // 2))
    peaks, _ = find_peaks(covered, height=0.2, distance=max(2, int(ROW_MIN_GAP_MM * px_per_mm)),
                          prominence=0.05)
    return [int(p) for p in peaks]


def bands(rows: list[int], height: int, px_per_mm: float, reach_mm: float = 30.0):
    """Return (top, bottom) pixel rows of the band each baseline's trace may occupy."""
    reach = int(reach_mm * px_per_mm)
    out = []
    for i, y in enumerate(rows):
        top = (rows[i - 1] + y) // 2 if i > 0 else max(0, y - reach)
        bottom = (y + rows[i + 1]) // 2 if i + 1 < len(rows) else min(height, y + reach)
        out.append((max(0, top), min(height, bottom)))
    return out


@dataclass
class Pulse:
    """A calibration pulse found at one end of a trace (columns, height in mm, gain in mm/mV)."""

    start: int
    end: int
    height_mm: float
    gain_mm_mv: float
    side: str


def find_pulse(rows: np.ndarray, px_per_mm: float) -> Pulse | None:
    """Return the calibration pulse at the start or end of a trace (``rows``: pixel row per column).

    A pulse is a flat-topped step of 5, 10 or 20 mm (0.5, 1 or 2 mV), 2.5-12 mm wide, within the
    first or last 30 mm: no QRS complex is flat for a tenth of a second.
    """
    y = np.median(rows) - rows
    n = y.size
    win = min(n // 2, int(PULSE_SEARCH_MM * px_per_mm))
    for side in ("start", "end"):
        seg = y[:win] if side == "start" else y[n - win:][::-1]
        if seg.size < 4:
            continue
        # Runs raised over 3 mm; a QRS complex in the window is a narrow run and is skipped.
        lab, count = ndimage.label(seg >= 3.0 * px_per_mm)
        for k in range(1, count + 1):
            idx = np.flatnonzero(lab == k)
            width_mm = idx.size / px_per_mm
            if not (PULSE_WIDTH_MM[0] <= width_mm <= PULSE_WIDTH_MM[1]):
                continue
            core = seg[idx[idx.size // 5: max(idx.size // 5 + 1, 4 * idx.size // 5)]]
            height = float(np.median(core))
            if np.ptp(core) > max(2.0, 0.1 * height):
                continue  # not flat on top (a wide PVC slopes down from its peak)
            height_mm = height / px_per_mm
            gain = min(STANDARD_GAINS, key=lambda g: abs(np.log(height_mm / g)))
            if abs(np.log(height_mm / gain)) > np.log(1.3):
                continue
            # Extend to the foot of both edges: a pulse's edges are vertical (a QRS or a PVC rises
            # over tens of milliseconds, a millimetre or more).
            a, b = int(idx[0]), int(idx[-1])
            while a > 0 and seg[a - 1] > 0.15 * height:
                a -= 1
            while b + 1 < seg.size and seg[b + 1] > 0.15 * height:
                b += 1
            steep = max(2.0, 0.6 * px_per_mm)
            rise = np.count_nonzero((seg[a: idx[0] + 1] > 0.15 * height) & (seg[a: idx[0] + 1] < 0.85 * height))
            fall = np.count_nonzero((seg[idx[-1]: b + 1] > 0.15 * height) & (seg[idx[-1]: b + 1] < 0.85 * height))
            if rise > steep or fall > steep:
                continue
            if side == "end":
                a, b = n - 1 - b, n - 1 - a
            return Pulse(a, b, round(height_mm, 2), gain, side)
    return None
