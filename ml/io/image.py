"""Digitise an ECG picture: a single-beat plot, a rhythm strip, a 12-lead report, a scan or a photo.

Pages and strips (``_read_page``): decode any picture format or the ECG page of a PDF
(``ml.io.picture``), level the page (projection-profile deskew, +-15 degrees), flatten uneven
lighting, find the paper grid and its scale (pixels per mm), drop grid, printed lines (the double
line under a header, separators) and text, find the rows of traces, read each row column by
column, measure and cut off the calibration pulse (its height gives mm/mV), check the strip's
length against the grid, and read the bottom row first (usually the 10 s lead II rhythm strip),
resampled to 250 Hz in mV. The strip is returned only when ``ml.io.gate`` finds heartbeats in it;
otherwise the next full row is tried, and when none passes InvalidSignalError says why.

Photos (``_read_photo``): before that reading, ``ml.io.page.flatten`` finds the paper on the table
(or takes the corners a person gave), corrects the perspective, straightens a bent page, evens the
grid's spacing and squares it, and evens the light; the page reading then runs on the flat page.
When the flat page cannot be read, the picture is read as it came; when neither can, the reason
ends with what to change when taking the photo again (``ml.errors.RetakePhotoError``: cut off,
too dark on one half, glare, taken at an angle, blurred). On grey or dark-printed grids the trace
is sought again among only the darkest pixels (``DARKEST_SHARES``).

Every Recording read from a picture carries ``rec.picture`` (``PictureReading``): the page's
corners found or given and the pixel path of the trace the beats were read from, both in pixels of
the picture as displayed (EXIF turn applied, full size), for drawing the reading over the picture.

Plot-sized pictures (``_read_plot``, at most 400 x 300 pixels) are read exactly as the single-beat
image model's training plots were, so that model's inputs do not drift; they then pass the same
kind of evidence check as pages (``_check_plot``: no plot axes; the strip passes ``ml.io.gate`` or
the trace looks like one heartbeat plot, ``ml.io.gate.single_beat_evidence``).
"""

from pathlib import Path

import numpy as np
from scipy import ndimage

from ml.errors import InvalidSignalError, RetakePhotoError
from ml.io import gate, layout, page, picture, report_leads
from ml.io.recording import Recording, check_fs, check_signal

# A picture this small and not wide is a plot (a single beat, or a small strip without paper): it
# is read as the single-beat image model's training plots were (same sizes as ml.analysis).
PLOT_MAX_SIZE = (400, 300)
PLOT_MAX_ASPECT = 2.0
PAGE_FS = 250.0  # strips read from pages and paper are resampled to this rate
# The lead label is printed just after the pulse and often touches the trace: skip 0.2 s past it.
PULSE_MARGIN_MM = 5.0

PAPER_SPEED_MM_S = 25.0
PAPER_GAIN_MM_MV = 10.0
ASSUMED_STRIP_S = 10.0
REPORT_MIN_ROWS = 3  # rows of leads on a page from which it is read as a 12-lead report
# The single-beat plots this product's model was trained on show about 1.2 s around the R peak;
# see docs in ml/io/README or the report: measured from QRS widths against MIT-BIH.
ASSUMED_BEAT_S = 1.2

_NO_TRACE = "No ECG trace could be found in this image"
SHAPE_CAVEAT = ("Beat shapes read from a picture are less exact than from a signal file: blur and JPEG "
                "compression widen the QRS, so treat bundle-branch-block labels with caution")


def read_image(path: Path, *, shown: str, pdf: bool = False, corners=None) -> Recording:
    """Return the Recording digitised from the picture (or the ECG page of the PDF) at ``path``.

    Raise InvalidSignalError with a reason a person can act on when the picture holds no readable
    ECG: nothing is labelled without positive evidence (see ``ml.io.gate``); a photo that could not
    be read raises ``RetakePhotoError`` (an InvalidSignalError) with what to change.

    ``corners``: the page's four corners [[x, y] * 4] (top-left, top-right, bottom-right,
    bottom-left) in pixels of the picture as displayed (EXIF orientation applied, full size), e.g.
    from a crop step; by default they are found (``ml.io.page``). The returned Recording carries
    ``rec.picture`` (a :class:`PictureReading`: page corners found, the trace's pixel path), an
    attribute set here rather than a Recording field.
    """
    rgb, notes = picture.decode(path, shown, pdf=pdf)
    height, width = rgb.shape[:2]
    full = picture.displayed_size(path, rgb.shape, pdf=pdf)
    if (corners is None and width <= PLOT_MAX_SIZE[0] and height <= PLOT_MAX_SIZE[1]
            and width <= PLOT_MAX_ASPECT * height):
        rec = _read_plot(rgb, shown)
        _check_plot(rec, rgb, shown)
        rec.picture = PictureReading(size=full)
    else:
        rec = _read_photo(rgb, shown, corners=corners, full=full)
    rec.notes[:0] = notes
    return rec


def detect_corners(path: Path, *, shown: str = "picture", pdf: bool = False):
    """Return the page's corners [[x, y] * 4] (TL, TR, BR, BL) found in the picture, or None.

    In pixels of the picture as displayed (EXIF orientation applied, full size): what a crop step
    prefills before the person adjusts them and sends them back as ``read_image(corners=...)``.
    None when the page fills the picture or its edges are not seen (then the whole picture).
    """
    rgb, _ = picture.decode(path, shown, pdf=pdf)
    full = picture.displayed_size(path, rgb.shape, pdf=pdf)
    small, f = page._reduced(rgb.astype(np.float32))
    found = page.find_corners(small)
    if found is None:
        return None
    to_full = np.array([full[0] / rgb.shape[1], full[1] / rgb.shape[0]]) / f
    return [[round(float(x), 1), round(float(y), 1)] for x, y in found[0] * to_full]


class PictureReading:
    """Where the ECG was found in the uploaded picture, for drawing it over the picture.

    Coordinates are pixels of the picture as displayed (EXIF orientation applied), full size
    (``size`` = (width, height)). ``corners``: the page found or given, [[x, y] * 4] top-left,
    top-right, bottom-right, bottom-left, or None (the whole picture was read as the page).
    ``trace``: the pixel path of the trace the beats were read from, [[x, y], ...] left to right
    (at most ~2,000 points), or None. ``page``: the ``ml.io.page.PageInfo`` facts as a dict.
    """

    def __init__(self, size, corners=None, trace=None, page=None):
        self.size = tuple(int(v) for v in size)
        self.corners = corners
        self.trace = trace
        self.page = page or {}

    def to_dict(self):
        return {"size": list(self.size), "corners": self.corners, "trace": self.trace, "page": self.page}


def _read_photo(rgb, shown, *, corners, full):
    """Return the Recording of a page picture: found and flattened first, then read (``_read_page``).

    When the flattened page cannot be read the picture is read as it came (today's reading, for
    pictures whose page finding misled); when neither can, the reason says what to change.
    """
    height, width = rgb.shape[:2]
    to_full = np.array([full[0] / width, full[1] / height])
    given = None if corners is None else np.asarray(corners, np.float64).reshape(4, 2) / to_full
    flat, info = page.flatten(rgb, given)
    trace_out = {}
    try:
        rec = _read_page(flat, shown, trace_out)
        rec.notes[1:1] = info.notes
        where = info
    except InvalidSignalError as exc:
        first = exc
        if given is not None:
            raise _with_advice(first, info, flat, shown) from None
        if not info.found and not info.notes:  # the picture was not changed: nothing else to try
            raise _with_advice(first, info, flat, shown) from None
        try:
            trace_out = {}
            rec = _read_page(rgb, shown, trace_out)
            where = None
        except InvalidSignalError:
            raise _with_advice(first, info, flat, shown) from None
    rec.picture = PictureReading(
        size=full,
        corners=None if where is None or where.corners is None else
        [[round(float(x), 1), round(float(y), 1)] for x, y in np.asarray(where.corners) * to_full],
        trace=_trace_path(trace_out, where, to_full),
        page={} if where is None else where.to_dict())
    return rec


def _trace_path(trace_out, info, to_full, max_points=2000):
    """Return the read trace as [[x, y], ...] in full-picture pixels, or None."""
    if "trace" not in trace_out:
        return None
    ys = trace_out["trace"]
    xs = np.flatnonzero(~np.isnan(ys))
    if xs.size < 2:
        return None
    step = max(1, int(np.ceil(xs.size / max_points)))
    xs = xs[::step]
    pts = np.stack([xs.astype(np.float64), ys[xs]], axis=1)
    if trace_out.get("angle"):
        import cv2

        m, _ = layout.rotation(trace_out["shape"], trace_out["angle"])
        inv = cv2.invertAffineTransform(m)
        pts = np.c_[pts, np.ones(len(pts))] @ inv.T
    if info is not None:
        pts = info.to_picture(pts)
    pts = pts * to_full
    return [[round(float(x), 1), round(float(y), 1)] for x, y in pts]


def _with_advice(exc, info, flat, shown):
    """Return a RetakePhotoError: ``exc``'s reason and what to change when taking the photo again."""
    # No page and no ECG paper: not a photo of an ECG, no advice on retaking it. A reason that
    # speaks of the grid's scale had found a grid (a dotted one, by its spectrum) all the same.
    if not info.found and "paper grid's scale" not in str(exc) and not _shows_paper_grid(flat):
        return exc
    advice = list(info.advice)
    text = str(exc).rstrip(".")
    # Blur in millimetres of paper: a page found is about 280 mm wide, a picture of one ~270 mm.
    if page.blur_mm(flat, flat.shape[1] / (280.0 if info.found else 270.0)) > page.BLURRED_MM:
        advice.insert(0, "the photo is too blurred: hold the phone still and let it focus")
        text = f"{_NO_TRACE}: {shown} is too blurred to read"
    if not advice:
        for keys, what in RETAKE:
            if any(k in text for k in ((keys,) if isinstance(keys, str) else keys)):
                advice.append(what)
                break
    if not advice:
        return exc
    return RetakePhotoError(f"{text}. To read it, take the photo again: {'; '.join(advice)}.",
                            advice=advice)


def _shows_paper_grid(rgb) -> bool:
    """Return True when a regular ECG paper grid is visible in ``rgb`` (large pictures at half size)."""
    small = rgb[::2, ::2] if rgb.shape[1] > 1600 else rgb
    lum, chroma = _lum_chroma(small)
    return _paper_grid(small, lum, chroma, _ink(lum))[0] is not None


def _check_plot(rec, rgb, shown):
    """Refuse a plot-sized picture unless its trace shows positive evidence of an ECG.

    Small pictures get the same checks as pages: on paper (a grid) the strip must pass
    ``ml.io.gate``; without paper a chart with plot axes is refused, and the trace must either pass
    the gate as a strip or look like one heartbeat plot (one dominant sharp complex, or the few
    waves of a fibrillation beat plot), never a periodic wave or a wandering line.
    """
    lum, chroma = _lum_chroma(rgb)
    ink = _ink(lum)
    strong, _ = _trace_mask(ink, chroma, lum, np.zeros(lum.shape, bool))
    h, w = strong.shape
    horiz, vert = layout.straight_lines(strong, w / 3, 0.5 * h)
    if _looks_like_chart(horiz, vert):
        raise InvalidSignalError(
            "This looks like a chart, not an ECG: it has plot axes and no ECG paper grid. "
            "Upload a photo or scan of the ECG print-out, or the ECG file itself.")
    reason, _ = gate.ecg_evidence(rec.signal, rec.fs, calibrated=rec.scale_known)
    if reason is None:
        return
    if rec.scale_known:
        raise InvalidSignalError(f"No ECG trace could be read, so no beats were labelled: {reason}.")
    why = gate.single_beat_evidence(rec.signal)
    if why is not None:
        raise InvalidSignalError(f"No ECG trace could be read, so no beats were labelled: {why}.")


# When a page cannot be read, the trace is sought again among only the darkest pixels: on grey or
# dark-printed grids (photos, faxes) the grid lines are as dark as the trace's faint strokes and
# join it into "large dark areas". The trace is a few per cent of a page; the grid, tens.
DARKEST_SHARES = (0.04, 0.02, 0.01)
MASK_PROBLEMS = ("large dark areas", "mostly dark", "texture or noise", "no continuous line")
# What to change when a photo of ECG paper could not be read and no sharper reason was found.
RETAKE = (
    ("scale could not be read", "photograph the whole page, flat and from straight above, so that "
                                "complete rows of the grid are in the picture"),
    (MASK_PROBLEMS, "the trace could not be told apart from the grid: take the photo in bright, even "
                    "light, in focus, with the page filling the picture"),
    ("does not look like an ECG", "no clear heartbeats were found in the trace: make sure the whole "
                                  "page is in the photo, sharp and evenly lit"),
    (("counted twice", "were lost in reading", "counted as a heartbeat"),
     "the trace could not be followed beat by beat: take the photo in focus and in even light, "
     "close enough that the page fills the picture"),
)


def _read_page(rgb: np.ndarray, shown: str, trace_out: dict | None = None) -> Recording:
    """Return the rhythm strip of a page, report or strip picture, checked to be an ECG.

    ``trace_out``, when given, receives where the strip was read: "trace" (its row in every
    column of the levelled page, NaN where absent), "angle" and "shape" of the levelling turn.
    """
    try:
        return _read_page_once(rgb, shown, trace_out, None)
    except InvalidSignalError as exc:
        first = exc
    if not any(m in str(first) for m in MASK_PROBLEMS + (gate.NOT_ECG,)):
        raise first  # blank, or a grid scale that disagrees with the strip: the mask is not at fault
    for share in DARKEST_SHARES:
        try:
            rec = _read_page_once(rgb, shown, trace_out, share)
        except InvalidSignalError:
            continue
        rec.notes.insert(1, f"The trace was told from a dark paper grid by keeping the darkest "
                            f"{share:.0%} of the page")
        return rec
    # Last, the other way: a faint trace (light grey print, a small picture's anti-aliased line)
    # keeps every dark grey pixel, its breaks bridged.
    try:
        rec = _read_page_once(rgb, shown, trace_out, None, faint=True)
    except InvalidSignalError:
        raise first from None
    rec.notes.insert(1, "The trace is printed faint: it was told from the grid by its grey colour "
                        "rather than its darkness, and its breaks at the grid's lines were bridged")
    return rec


def _read_page_once(rgb, shown, trace_out, darkest_share, *, faint=False):
    lum, chroma = _lum_chroma(rgb)
    if np.ptp(lum) < 20:
        raise InvalidSignalError(f"{_NO_TRACE} ({shown} is blank or uniform).")
    ink = _ink(lum)
    notes = []
    angle = layout.estimate_skew(ink > 0.08)
    if abs(angle) >= layout.LEVEL_BELOW_DEG:
        if trace_out is not None:
            trace_out.update(angle=angle, shape=rgb.shape)
        rgb = layout.rotate(rgb, angle)
        lum, chroma = _lum_chroma(rgb)
        ink = _ink(lum)
        notes.append(f"The picture was turned {abs(angle):.1f} degrees to level the ECG")
    px_per_mm, grid_mask = _paper_grid(rgb, lum, chroma, ink)
    if faint and px_per_mm is None:
        # A faint trace is told from the grid by its colour: without a grid, faint ink is anything.
        raise InvalidSignalError(f"{_NO_TRACE} (no paper grid to tell a faint trace from in {shown}).")
    strong, weak = _trace_mask(ink, chroma, lum, grid_mask, darkest_share=darkest_share, faint=faint)
    # The grid's spectrum names the 1-mm spacing without the autocorrelation's doubts (1-mm lines
    # 2-4 pixels apart alias into beats; a faint 1-mm grid reads as its 2-mm repeat): it wins.
    comb_mm = _grid_comb_px_per_mm(lum, chroma, ink)
    if comb_mm is not None and (px_per_mm is None or abs(np.log(comb_mm / px_per_mm)) > np.log(GRID_AGREE)):
        notes.append(f"The grid's spacing was read from its 1-mm and 5-mm lines' spectrum "
                     f"({comb_mm:.2f} pixels per mm)")
        px_per_mm = comb_mm
    return _read_at_scale(rgb, lum, strong, weak, px_per_mm, notes, shown, trace_out, bridge=faint)


def _read_at_scale(rgb, lum, strong, weak, px_per_mm, notes, shown, trace_out, *, bridge=False):
    """Return the Recording of a levelled page read at ``px_per_mm`` (None: no grid).

    ``bridge``: join the trace across gaps up to ``BRIDGE_MM`` wide (a faint trace loses its
    pixels where the grid's lines cross it).
    """
    height, width = strong.shape
    mm = px_per_mm or width / 270.0  # no grid: a page or strip is roughly 270 mm wide
    horiz, vert = layout.straight_lines(
        strong, layout.H_LINE_MM * mm if px_per_mm else width / 4, layout.V_LINE_MM * mm if px_per_mm else 0.6 * height)
    if px_per_mm is None and _looks_like_chart(horiz, vert):
        raise InvalidSignalError(
            "This looks like a chart, not an ECG: it has plot axes and no ECG paper grid. "
            "Upload a photo or scan of the ECG print-out, or the ECG file itself.")
    lines = layout.dilate(horiz | vert)
    strong, weak = strong & ~lines, weak & ~lines

    rows = _read_rows(strong, weak, mm, shown, lum, bridge_mm=BRIDGE_MM if bridge else 0.0)
    order = _rows_to_try(rows)
    first_reason = None
    for rank, i in enumerate(order):
        y, trace, _ = rows[i]
        row_mm, scale_note = _checked_scale(trace, px_per_mm, mm, len(rows), width)
        if px_per_mm and row_mm is None:
            first_reason = first_reason or scale_note
            continue
        rec_signal, fs, row_notes = _row_signal(trace, row_mm, mm)
        if scale_note:
            row_notes.insert(0, scale_note)
        # A row other than the usual strip (a 3x4 row changes lead every 2.5 s) must also show no
        # beat lost or added in an otherwise regular rhythm; the strip keeps its own pauses.
        reason, _ = gate.ecg_evidence(rec_signal, fs, calibrated=px_per_mm is not None,
                                      lost_beats=bridge or rank > 0)
        if reason is None:
            where = _row_name(i, len(rows))
            out = [("Trace digitised from an image of ECG paper" if px_per_mm else
                    "Trace digitised from an image; amplitude in arbitrary units")] + notes
            out.append(f"{len(rows)} ECG row(s) found; beats are read from {where}")
            if rank > 0:
                out.append(f"The usual strip was not readable ({first_reason}); {where} was used instead")
            out += row_notes
            out.append(f"Resampled to {fs:g} Hz")
            leads, lead_notes = report_leads.read_report_leads(
                rows, strong, signal_row=i, signal=rec_signal, fs=fs, px_per_mm=row_mm)
            out += lead_notes
            out.append(SHAPE_CAVEAT)
            unread = "" if leads else (report_leads.not_read_reason(lead_notes)
                                       or "the page's 12 leads could not be read apart")
            if trace_out is not None:
                trace_out["trace"] = trace
            # Three rows or more: a 12-lead report (3x4 + rhythm strip, 6x2, 12x1).
            return Recording(signal=check_signal(rec_signal, fs=fs), fs=fs, lead=f"image, {where}",
                             kind="image-strip", notes=out,
                             n_leads=12 if len(rows) >= REPORT_MIN_ROWS else 1, leads=leads, leads_unread=unread,
                             scale_known=px_per_mm is not None)
        first_reason = first_reason or reason
    raise InvalidSignalError(f"No ECG trace could be read, so no beats were labelled: {first_reason}.")


def _lum_chroma(rgb):
    """Return (luminance, chroma = max - min channel); per-channel ops (a reduce over axis 2 is slow)."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    lum = 0.299 * r + 0.587 * g + 0.114 * b
    return lum, np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)


def _looks_like_chart(horiz, vert) -> bool:
    """Return True when long axis lines cross at a corner, as in a plotted chart."""
    h_len = horiz.sum(axis=1).max() / horiz.shape[1]
    v_len = vert.sum(axis=0).max() / vert.shape[0]
    return bool(h_len > 0.4 and v_len > 0.3)


BRIDGE_MM = 1.0  # a faint trace is broken where each 1-mm grid line crosses it


def _read_rows(strong, weak, mm, shown, lum, *, bridge_mm=0.0):
    """Return [(baseline row, trace rows per column (NaN where absent))] of every readable ECG row."""
    height, width = strong.shape
    found = layout.baselines(strong, mm)
    # Thin scanned traces break into pieces at steep QRS strokes: bridge one-pixel gaps.
    import cv2

    weak = cv2.morphologyEx((weak | strong).astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)) > 0
    if bridge_mm:
        reach = max(3, int(np.ceil(bridge_mm * mm)) + 2)
        weak |= cv2.morphologyEx(weak.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, reach), np.uint8)) > 0
    for attempt in range(2):  # again with bands from the readable rows only
        rows = []
        for y, (top, bottom) in zip(found, layout.bands(found, height, mm)):
            try:
                # A row of a 3x4 report is four separate 2.5 s leads: each is a fifth of the width.
                trace, thick, _ = _follow_trace(strong[top:bottom], weak[top:bottom], shown,
                                            min_main=0.12, min_covered=0.3, follow_trend=True)
            except InvalidSignalError:
                continue
            rows.append((y, trace + top, thick))
        if not rows or len(rows) == len(found):
            break
        found = [r[0] for r in rows]
    if rows:
        return rows
    if _too_blurry(lum):
        raise InvalidSignalError(
            f"{_NO_TRACE}: {shown} is too blurry to read. Take the picture again in focus, "
            "flat and in good light.")
    _follow_trace(strong, weak, shown)  # raises with the specific reason
    raise InvalidSignalError(f"{_NO_TRACE} ({shown} has no ECG rows running across it).")


def _rows_to_try(rows):
    """Return row indices in the order to try: the rhythm strip first, then the other long rows."""
    spans = np.array([np.count_nonzero(~np.isnan(r[1])) for r in rows], dtype=float)
    full = [i for i in range(len(rows)) if spans[i] >= 0.6 * spans.max()]
    # 3x4 + rhythm strip(s): the bottom row; 6x2 / 12x1 (every row full): the second row, lead II.
    first = full[1] if len(full) >= 6 else full[-1]
    return [first] + [i for i in reversed(full) if i != first]


def _span(trace, mm):
    """Return the columns of the longest stretch of a row's trace without a gap over 5 mm."""
    cols = np.flatnonzero(~np.isnan(trace))
    pieces = np.split(cols, np.flatnonzero(np.diff(cols) > 5.0 * mm) + 1)
    return max(pieces, key=lambda c: c[-1] - c[0])


def _checked_scale(trace, px_per_mm, mm, n_rows, width):
    """Return (pixels per mm for this row or None when unsure, note) after checking the strip length.

    A report's full-width row lasts 10 s at 25 mm/s. A grid read at twice or five times its real
    spacing (faint 1-mm lines, a coarse scan) would halve or multiply every heart rate: such a
    factor is corrected, any other disagreement makes the reading inconclusive.
    """
    if not px_per_mm:
        return None, None
    cols = _span(trace, mm)
    seconds = (cols[-1] - cols[0]) / (PAPER_SPEED_MM_S * px_per_mm)
    full_width = (cols[-1] - cols[0]) >= 0.75 * width
    if n_rows >= 2 and full_width:
        ratio = seconds / ASSUMED_STRIP_S
        for k in (1.0, 0.5, 2.0, 0.2, 5.0):
            if abs(np.log(ratio / k)) < np.log(1.08):
                if k == 1.0:
                    return px_per_mm, None
                fixed = px_per_mm * k
                return fixed, (f"The grid spacing was first read as {px_per_mm:.1f} pixels per mm, which "
                               f"would make this full-width row last {seconds:.1f} s; corrected to "
                               f"{fixed:.1f} pixels per mm (a report row lasts 10 s)")
        return None, (f"the paper grid's scale could not be read reliably (the strip would last "
                      f"{seconds:.1f} s; a report row lasts 10 s)")
    longest = ASSUMED_STRIP_S * 1.08 if n_rows >= 2 else 13.0  # a report row lasts at most 10 s
    if not (2.0 <= seconds <= longest):
        return None, (f"the paper grid's scale could not be read reliably (the strip would last "
                      f"{seconds:.1f} s)")
    return px_per_mm, None


# Past the end of a trace the column reader may pick up the grid's vertical lines or text: the
# "trace" then jumps up and down every column or two. A heartbeat's strokes go up and down once per
# wave: over a few millimetres, the path a trace travels is at most a few times its height range.
ZIGZAG_WINDOW_MM = 3.0
ZIGZAG_MIN_RANGE_MM = 2.0
ZIGZAG_PATH = 5.0  # path travelled / height range within the window: a zigzag, not a wave
ZIGZAG_END_SHARE = 0.25  # only the first or last quarter of a row is trimmed


def _trim_ragged_ends(rows, mm):
    """Return (rows without a zigzagging start or end, number of columns cut)."""
    n = rows.size
    win = max(3, int(round(ZIGZAG_WINDOW_MM * mm)))
    if n < 4 * win:
        return rows, 0
    filled = rows.copy()
    gaps = np.isnan(filled)
    if gaps.all():
        return rows, 0
    if gaps.any():
        idx = np.arange(n)
        filled[gaps] = np.interp(idx[gaps], idx[~gaps], filled[~gaps])
    path = ndimage.uniform_filter1d(np.r_[0.0, np.abs(np.diff(filled))], size=win) * win
    span = ndimage.maximum_filter1d(filled, size=win) - ndimage.minimum_filter1d(filled, size=win)
    ragged = (span > ZIGZAG_MIN_RANGE_MM * mm) & (path > ZIGZAG_PATH * span)
    # Only a zigzag that runs off an end of the row is cut (a steep QRS read column by column may
    # zigzag for a few columns inside the row).
    lab, _ = ndimage.label(ndimage.binary_closing(ragged, structure=np.ones(win, bool)) | ragged)
    start, end = 0, n
    # The windows are centred: a zigzag begins up to half a window before its first flagged column.
    if lab[0] and win <= np.flatnonzero(lab == lab[0])[-1] < ZIGZAG_END_SHARE * n:
        start = int(np.flatnonzero(lab == lab[0])[-1]) + 1 + win // 2
    if lab[-1] and n - win >= np.flatnonzero(lab == lab[-1])[0] > (1 - ZIGZAG_END_SHARE) * n:
        end = int(np.flatnonzero(lab == lab[-1])[0]) - win // 2
    if (start, end) == (0, n):
        return rows, 0
    return rows[start:end], n - (end - start)


def _row_name(i, n):
    if n == 1:
        return "the strip"
    if i == n - 1:
        return f"the bottom row (row {n} of {n}, usually the lead II rhythm strip)"
    return f"row {i + 1} of {n}"


def _row_signal(trace, px_per_mm, mm):
    """Return (signal in mV, fs, notes) of one row: calibration pulse removed, fixed rate."""
    # Keep the longest stretch without a gap over 5 mm: specks beyond the trace's end are not ECG.
    cols = _span(trace, mm)
    rows = trace[cols[0]: cols[-1] + 1].copy()
    notes = []
    rows, trimmed = _trim_ragged_ends(rows, mm)
    if trimmed:
        notes.append(f"{trimmed / (PAPER_SPEED_MM_S * mm):.1f} s at the row's end(s) zigzagged column by "
                     "column (grid lines or text beyond the trace) and were left out")
    gaps = np.isnan(rows)
    if gaps.any():
        idx = np.arange(rows.size)
        rows[gaps] = np.interp(idx[gaps], idx[~gaps], rows[~gaps])
        if gaps.mean() > 0.05:
            notes.append(f"{gaps.mean():.0%} of the trace was hidden (gaps, grid or text) and was interpolated")
    if px_per_mm:
        px_per_s = PAPER_SPEED_MM_S * px_per_mm
        mm = px_per_mm
    else:
        px_per_s = rows.size / ASSUMED_STRIP_S
        mm = px_per_s / PAPER_SPEED_MM_S
    gain = PAPER_GAIN_MM_MV
    pulse = layout.find_pulse(rows, mm)
    if pulse is not None:
        margin = int(round(PULSE_MARGIN_MM * mm))
        rows = rows[pulse.end + margin:] if pulse.side == "start" else rows[: max(1, pulse.start - margin)]
        if px_per_mm:
            gain = pulse.gain_mm_mv
        notes.append(f"Calibration pulse found ({pulse.height_mm:.1f} mm high: {gain:g} mm/mV) and "
                     "left out of the beats")
    else:
        notes.append("No calibration pulse was found; the standard 10 mm/mV was assumed")
    signal = (np.median(rows) - rows) / (gain * mm)
    if px_per_mm:
        notes.append(f"Time and amplitude calibrated from the paper grid ({px_per_mm:.1f} pixels per mm), "
                     f"assuming the standard {PAPER_SPEED_MM_S:g} mm/s")
    else:
        notes.append(f"No paper grid was found, so the strip is assumed to last {ASSUMED_STRIP_S:g} s "
                     "(the usual rhythm-strip length); heart rates scale with this assumption")
    t = np.arange(rows.size) / px_per_s
    n_out = max(2, int(np.floor(t[-1] * PAGE_FS)) + 1)
    out = np.interp(np.arange(n_out) / PAGE_FS, t, signal)
    return out, PAGE_FS, notes


def _too_blurry(lum) -> bool:
    """Return True when no edge in the picture is sharp (the steepest edges are soft ramps)."""
    gy, gx = np.gradient(lum)
    steep = np.percentile(np.hypot(gx, gy), 99.8)
    return bool(steep < 0.06 * max(np.ptp(lum), 1.0))

def _read_plot(rgb: np.ndarray, shown: str) -> Recording:
    """Return the Recording of a plot-sized picture (a single-beat plot or a small strip).

    Kept exactly as the single-beat image model's training traces were read (ml.lab.image_dataset).
    """
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
    return Recording(signal=signal, fs=fs, lead="image", kind=kind, notes=notes,
                     scale_known=grid_px_per_mm is not None)


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


# The grid's spectrum (``_grid_comb``): ECG paper's heavy 5-mm lines and the four fine lines
# between them make a comb of harmonics of the 5-mm spacing, the fifth (the 1-mm lines) standing out.
COMB_MIN_LEVEL = 4.0  # each of the first four harmonics this many times the spectrum's median
COMB_FIFTH = 1.2  # the fifth harmonic this much above the fourth and sixth
COMB_CONTRAST = 3.0  # each harmonic this many times the spectrum halfway to its neighbours
COMB_MIN_SQUARES = 10  # a grid shows at least this many 5-mm squares across
GRID_AGREE = 1.05  # two readings of the grid's spacing within 5 % agree


def _grid_comb(profile: np.ndarray):
    """Return the 5-mm period (pixels) of an ECG grid's line profile from its spectrum, or None.

    The spacing is sought as the fundamental of a comb: the strongest spectral line is the k-th
    harmonic (k = 1..5) of the 5-mm spacing; the k accepted is the one whose first four harmonics
    all stand out from the spectrum and whose fifth (the 1-mm lines) stands above its neighbours.
    Unlike the autocorrelation's first repeat (``_grid_period``), this holds for 1-mm lines only
    2-4 pixels apart, which alias into beats in a small picture. None when no such comb is seen
    (a grid of one line spacing, or no grid).
    """
    p = profile - ndimage.uniform_filter1d(profile, size=max(5, profile.size // 20))
    n = p.size
    if n < 64 or np.std(p) == 0:
        return None
    pad = 8 * n
    spec = np.abs(np.fft.rfft(p * np.hanning(n), n=pad))
    freq = np.fft.rfftfreq(pad)
    search = (freq >= 6.0 / n) & (freq <= 1.0 / 2.2)
    if not search.any():
        return None
    floor = float(np.median(spec[search])) or 1e-12
    f_top = float(freq[np.flatnonzero(search)[np.argmax(spec[search])]])

    def level(f, reduce=np.max):
        if f >= 0.5:
            return None
        c, w = int(round(f * pad)), max(2, int(round(0.02 * f * pad)))
        return float(reduce(spec[max(0, c - w): c + w + 1]))

    for k in (5, 4, 3, 2, 1):
        f0 = f_top / k
        if 1.0 / f0 > n / COMB_MIN_SQUARES:
            continue
        h = [level(j * f0) for j in range(1, 7)]
        if any(v is None or v < COMB_MIN_LEVEL * floor for v in h[:4]) or h[4] is None:
            continue
        # A comb: each harmonic stands above the spectrum halfway to its neighbours (a page's
        # rows and traces fill the low frequencies evenly, with no such teeth).
        valleys = [level((j + 0.5) * f0, np.median) for j in range(0, 5)]
        if any(h[j] < COMB_CONTRAST * max(valleys[j], valleys[j + 1]) for j in range(4)):
            continue
        if h[4] > COMB_FIFTH * max(h[3], h[5] or 0.0):
            return 1.0 / f0
    return None


def _grid_comb_px_per_mm(lum, chroma, ink):
    """Return pixels per mm from the grid's comb (``_grid_comb``) when both axes agree, else None."""
    lines = np.minimum(ink, 0.5) + chroma / 255.0
    px = _grid_comb(lines.mean(axis=0))
    py = _grid_comb(lines.mean(axis=1))
    if px is None or py is None or abs(np.log(px / py)) > np.log(GRID_AGREE):
        return None
    return (px + py) / 10.0


# A faint trace (light grey print, a low-resolution picture's anti-aliased line) is as light as
# the text is dark: the darkness threshold between them would drop the trace, so a faint pass
# keeps every dark pixel that is not grid-coloured.
FAINT_INK = 0.2


def _trace_mask(ink, chroma, lum, grid_mask, *, darkest_share=None, faint=False):
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
    thr = FAINT_INK if faint else max(FAINT_INK, _otsu(values))
    if darkest_share:
        thr = max(thr, float(np.quantile(ink[::2, ::2], 1.0 - darkest_share)))
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


def _follow_trace(strong: np.ndarray, weak: np.ndarray, shown: str, *, min_main: float = 0.25,
                  min_covered: float = 0.4, follow_trend: bool = False):
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
    if coverage[best] < min_main * width:
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
    if covered.sum() < min_covered * width:
        raise InvalidSignalError(f"{_NO_TRACE} ({shown} has no continuous line running across it).")
    # Noise and textures: the curve holds little of the image's dark ink.
    if main[strong].mean() < 0.3 and dark_fraction > 0.01:
        raise InvalidSignalError(f"{_NO_TRACE} ({shown} looks like texture or noise, not a trace).")

    rows = np.full(width, np.nan)
    has = main.any(axis=0)
    tops = np.argmax(main, axis=0)
    bottoms = height - 1 - np.argmax(main[::-1], axis=0)
    line = max(1.0, float(np.median((bottoms - tops + 1)[has])))
    prev = prev2 = None
    for col in np.flatnonzero(has):
        top, bottom = float(tops[col]), float(bottoms[col])
        if bottom - top + 1 <= 1.5 * line + 1 or prev is None:
            value = (top + bottom) / 2.0
        elif follow_trend and prev2 is not None and top < prev < bottom and prev != prev2:
            # The column holds both strokes of a narrow spike: keep going the way the trace went,
            # or the apex reads as a notch (an M-shaped R wave at ~100-150 dpi).
            value = top + (line - 1) / 2.0 if prev < prev2 else bottom - (line - 1) / 2.0
        elif abs(bottom - prev) > abs(top - prev):
            value = bottom - (line - 1) / 2.0  # a steep stroke reaching down to ``bottom``
        else:
            value = top + (line - 1) / 2.0
        rows[col] = value
        prev2, prev = prev, value
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
