"""Decode the pictures people send (PNG, JPEG, WebP, HEIC, BMP, TIFF, multi-page PDF) into RGB pixels.

One place for the picture rules: which formats are read, the size limits (decompression bombs),
EXIF rotation, transparency and 16-bit images, and which page of a PDF holds the ECG.
"""

import warnings
from pathlib import Path

import numpy as np

from ml.errors import ECGInputError, InvalidSignalError, UnsupportedFormatError

MAX_PIXELS = 40_000_000  # a 600-dpi A4 scan is ~35 MP
MAX_SIDE = 20_000
WORK_WIDTH = 2400  # larger images are reduced to this width first (speed; no ECG detail lost)
WORK_PIXELS = 4_000_000  # and to this many pixels (an A4 page at ~200 dpi): a page reads in ~1 s
PDF_DPI = 200
PDF_MAX_PAGES = 20
_NO_TRACE = "No ECG trace could be found in this image"


def register_heif() -> bool:
    """Let Pillow open HEIC/HEIF photos (iPhone) when pillow-heif is installed; return success."""
    try:
        import pillow_heif
    except ImportError:  # pragma: no cover - optional at runtime
        return False
    pillow_heif.register_heif_opener()
    return True


def decode(path: Path, shown: str, *, pdf: bool = False):
    """Return (float RGB array 0-255 on white, reduced to at most WORK_WIDTH wide; notes)."""
    if pdf:
        return _decode_pdf(path, shown)
    register_heif()
    return _decode_image(path, shown), []


def displayed_size(path: Path, decoded_shape, *, pdf: bool = False):
    """Return (width, height) of the picture at ``path`` as a viewer shows it (EXIF turn applied).

    Coordinates in the full picture are these; ``decoded_shape`` (the array ``decode`` returned)
    is a reduced copy. A PDF page's size is the rendering's (``decoded_shape``).
    """
    h, w = decoded_shape[:2]
    if pdf:
        return w, h
    from PIL import Image

    try:
        with Image.open(path) as img:
            width, height = img.size
            turn = img.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - decoded already; fall back to the decoded size
        return w, h
    return (height, width) if turn in (5, 6, 7, 8) else (width, height)


def _decode_image(source, shown: str) -> np.ndarray:
    from PIL import Image, ImageOps

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as img:
                width, height = img.size
                if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
                    raise InvalidSignalError(
                        f"The image {shown} is too large ({width} x {height} pixels). "
                        f"Upload an image of at most {MAX_PIXELS // 1_000_000} megapixels."
                    )
                if width < 32 or height < 32:
                    raise InvalidSignalError(f"{_NO_TRACE} ({shown} is only {width} x {height} pixels).")
                scale = min(1.0, WORK_WIDTH / width, (WORK_PIXELS / (width * height)) ** 0.5)
                if scale < 1.0:
                    img.draft("RGB", (int(width * scale), int(height * scale)))  # JPEG: decode smaller
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
                scale = min(1.0, WORK_WIDTH / img.width, (WORK_PIXELS / (img.width * img.height)) ** 0.5)
                if scale < 1.0:
                    img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                                     Image.LANCZOS)
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


def _decode_pdf(path: Path, shown: str):
    """Return the page of a PDF that looks most like ECG paper, rendered, and a note naming it."""
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(str(path))
    except pypdfium2.PdfiumError:
        raise UnsupportedFormatError(
            f"The PDF {shown} could not be opened: it is damaged or password-protected.") from None
    try:
        count = len(pdf)
        if count == 0:
            raise InvalidSignalError(f"The PDF {shown} has no pages.")
        best, best_score = 0, -1.0
        if count > 1:
            for i in range(min(count, PDF_MAX_PAGES)):
                page = pdf[i]
                thumb = np.asarray(page.render(scale=40 / 72).to_pil().convert("RGB"), dtype=np.float64)
                page.close()
                score = _ecg_paper_score(thumb)
                if score > best_score:
                    best, best_score = i, score
        page = pdf[best]
        width, height = page.get_size()
        scale = min(PDF_DPI / 72, WORK_WIDTH / max(1.0, width))
        if width * height * scale * scale > MAX_PIXELS:
            raise InvalidSignalError(f"The PDF page of {shown} is too large to be an ECG print-out.")
        rgb = np.asarray(page.render(scale=scale).to_pil().convert("RGB"), dtype=np.float64)
        page.close()
    finally:
        pdf.close()
    note = f"Page {best + 1} of {count} of the PDF was read" + (
        " (the page that looks most like ECG paper)" if count > 1 else "")
    return rgb, [note]


def _ecg_paper_score(rgb: np.ndarray) -> float:
    """Return how much a small page rendering looks like ECG paper (grid tint and thin dark ink)."""
    lum = rgb.mean(axis=2)
    chroma = rgb.max(axis=2) - rgb.min(axis=2)
    tinted = ((chroma > 20) & (lum > 120)).mean()
    dark = (lum < 100).mean()
    return float(tinted + min(dark, 0.05))
