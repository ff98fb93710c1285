"""The uploaded picture shown back with what was read on it (issue 20: "show what was read").

An ECG picture's result carries where its trace was read (``summary["picture"]``, from
``ml.io.image.PictureReading``: the picture's size as displayed, the page's corners, the trace's
pixel path). The result page draws that path over the picture (``static/predictions/overlay.js``)
so a person or a doctor sees at a glance whether the reading followed the printed line; the PDF
carries the same drawing (:func:`overlay_png`). Browsers cannot show every uploaded format (HEIC,
TIFF, a PDF page), so the picture is served as a JPEG rendition (:func:`rendition_jpeg`), decoded
by the reader's own ``ml.io.picture.decode``: the same turn (EXIF) and the same page of a PDF.
"""

import io

from ml.io import sniff
from predictions.files import readable_path

RENDITION_WIDTH = 1600  # px: sharp on a wide screen, small to send
OVERLAY_COLOUR = (213, 0, 0)
CORNER_COLOUR = (21, 101, 192)
PICTURE_FORMATS = (*sniff.IMAGE_FORMATS, sniff.PDF)


def picture_reading(prediction):
    """Return the stored picture reading of ``prediction`` with a trace to draw, or None."""
    picture = (prediction.summary or {}).get("picture") if prediction is not None else None
    if not picture or not picture.get("size") or not (picture.get("trace") or picture.get("corners")):
        return None
    return picture


# Consecutive trace points further apart than this share of the picture's width are a gap (the
# trace was not seen there), drawn as a break, not a straight line across.
GAP_SHARE = 0.03


def trace_segments(picture):
    """Return the picture's trace path split at its gaps: a list of [[x, y], ...] pieces."""
    gap = GAP_SHARE * float(picture["size"][0])
    pieces, piece, last = [], [], None
    for point in picture.get("trace") or []:
        if point is None or (last is not None and abs(point[0] - last[0]) > gap):
            if piece:
                pieces.append(piece)
            piece = []
        if point is not None:
            piece.append(point)
        last = point
    if piece:
        pieces.append(piece)
    return pieces


# The crop step sends a copy of the photo reduced in the browser; larger is not a reduced copy.
PAGE_PROBE_MAX_BYTES = 2 * 1024 * 1024


class NotAPicture(ValueError):
    """The bytes sent to find a page in are not a picture this can read."""


def find_page(data: bytes):
    """Return the page's corners [[x, y] * 4] (TL, TR, BR, BL, pixels of the picture in ``data``
    as displayed) found by the reader's own ``ml.io.page.find_corners``, or None when no page edge
    is seen. Raise :class:`NotAPicture` for bytes that are no picture or too large."""
    import numpy as np
    from PIL import Image, ImageOps, UnidentifiedImageError

    from ml.io import page

    if len(data) > PAGE_PROBE_MAX_BYTES:
        raise NotAPicture(f"Send a copy of at most {PAGE_PROBE_MAX_BYTES // (1024 * 1024)} MB.")
    try:
        with Image.open(io.BytesIO(data)) as img:
            img = ImageOps.exif_transpose(img).convert("RGB")
            if max(img.size) > page.DETECT_SIDE:
                f = page.DETECT_SIDE / max(img.size)
                shown, img = img.size, img.resize((max(8, round(img.width * f)), max(8, round(img.height * f))))
            else:
                shown = img.size
            small = np.asarray(img, dtype=np.float32)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise NotAPicture("This is not a picture that can be read.") from None
    found = page.find_corners(small)
    if found is None:
        return None
    scale = shown[0] / small.shape[1]
    return [[round(float(x) * scale, 1), round(float(y) * scale, 1)] for x, y in found[0]]


def _decoded(record):
    """Return the picture of ``record`` as an RGB uint8 array (reduced, as the reader decoded it)."""
    import numpy as np

    from ml.io.picture import decode

    with readable_path(record) as path:
        rgb, _ = decode(path, record.original_filename, pdf=record.file_format == sniff.PDF)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def _resized(rgb, width):
    from PIL import Image

    img = Image.fromarray(rgb)
    if img.width > width:
        img = img.resize((width, max(1, round(img.height * width / img.width))), Image.LANCZOS)
    return img


def rendition_jpeg(record) -> bytes | None:
    """Return a JPEG of the uploaded picture at most :data:`RENDITION_WIDTH` wide, or None when
    the record is not a picture."""
    if record.file_format not in PICTURE_FORMATS:
        return None
    out = io.BytesIO()
    _resized(_decoded(record), RENDITION_WIDTH).save(out, format="JPEG", quality=85)
    return out.getvalue()


def overlay_png(record, picture, *, width=1200) -> bytes | None:
    """Return a PNG of the picture with the trace read (red) and the page found (blue) drawn over it."""
    if record.file_format not in PICTURE_FORMATS or picture is None:
        return None
    from PIL import ImageDraw

    img = _resized(_decoded(record), width).convert("RGB")
    scale = img.width / float(picture["size"][0])
    draw = ImageDraw.Draw(img)
    corners = picture.get("corners")
    if corners:
        points = [(x * scale, y * scale) for x, y in corners]
        draw.line(points + points[:1], fill=CORNER_COLOUR, width=3)
    for segment in trace_segments(picture):
        if len(segment) > 1:
            draw.line([(x * scale, y * scale) for x, y in segment], fill=OVERLAY_COLOUR, width=2)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()
