"""Check an upload cheaply, before it is stored: the format from its first bytes and a bounded
read of its header; never the whole file (a WFDB data file is scanned only up to its first byte
that is not zero: an all-zero one is a flat line).

The web request calls :func:`probe` once; the worker later reads the file in full with
:func:`ml.io.load`, under its time and memory limits. So a 20 MB CSV or a 1,000-page PDF never
holds a web worker, yet an upload that is plainly not an ECG (an unknown format, a damaged image
header, a WFDB header without its data, a CSV whose first lines are not numbers, an implausible
sampling rate) is refused at once, with the same plain-language message the reader would give.
"""

import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from ml.errors import InvalidSignalError, MissingFileError, UnsupportedFormatError
from ml.io import sniff
from ml.io.loader import SUPPORTED, refuse_blank

# The leading part of a text file that is parsed at upload time (the worker reads the rest).
TEXT_PROBE_BYTES = 256 * 1024
MIN_IMAGE_SIDE = 32


@dataclass
class Probe:
    """What the cheap checks learnt about an upload."""

    file_format: str  # a sniff format: png, jpeg, webp, heic, bmp, tiff, pdf, wfdb, csv, edf
    input_kind: str  # "image" | "signal"
    fs: float | None = None
    duration_s: float | None = None
    lead: str = ""
    notes: list = field(default_factory=list)


def probe(path, *, fs=None, lead=None, filename=None) -> Probe:
    """Return the :class:`Probe` of the upload at ``path`` (a WFDB header with its data beside it).

    Raise an :class:`ml.errors.ECGInputError` with a message for a person when the upload is
    plainly unusable. Reads at most a header and :data:`TEXT_PROBE_BYTES` of text.
    """
    path = Path(path)
    shown = filename or path.name
    with path.open("rb") as fh:
        head = fh.read(sniff.SNIFF_BYTES)
    refuse_blank(head, shown=shown)
    fmt = sniff.sniff(head)
    if fmt in sniff.IMAGE_FORMATS:
        return _probe_image(path, fmt, shown)
    if fmt == sniff.PDF:
        return _probe_pdf(path, shown)
    if fmt in (sniff.EDF, sniff.BDF):
        return _probe_edf(path, shown, bdf=fmt == sniff.BDF)
    if fmt == sniff.WFDB:
        return _probe_wfdb(path, shown)
    if fmt == sniff.CSV:
        return _probe_text(path, shown, fs=fs, lead=lead)
    other = sniff.describe_other(head)
    if other:
        raise UnsupportedFormatError(f"{shown} is {other}, which is not supported. Upload {SUPPORTED}.")
    if Path(shown).suffix.lower() in (".dat", ".atr"):
        raise MissingFileError(
            f"{shown} looks like the data part of a WFDB record. Upload its .hea header file together with it."
        )
    raise UnsupportedFormatError(f"{shown} is not a recognised ECG file. Upload {SUPPORTED}.")


def _probe_image(path, fmt, shown):
    from PIL import Image, UnidentifiedImageError

    from ml.io.picture import MAX_PIXELS, MAX_SIDE, register_heif

    register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                width, height = img.size
                _check_dimensions(width, height, shown, max_pixels=MAX_PIXELS, max_side=MAX_SIDE)
                img.verify()  # walks the file's structure (PNG chunks and CRCs) without decoding pixels
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidSignalError(
            f"{shown} decodes to far more pixels than any ECG image; it was refused as a possible decompression bomb.",
            code="decompression_bomb",
        ) from None
    except InvalidSignalError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise UnsupportedFormatError(
            f"{shown} is damaged or truncated and cannot be read as an image.", code="corrupt_image"
        ) from None
    return Probe(file_format=fmt, input_kind="image", notes=[f"Image of {width} x {height} pixels"])


def _check_dimensions(width, height, shown, *, max_pixels, max_side):
    from PIL import Image

    if width * height > (Image.MAX_IMAGE_PIXELS or max_pixels * 4):
        raise InvalidSignalError(
            f"{shown} declares {width} x {height} pixels, far more than any ECG image; it was refused "
            "as a possible decompression bomb.",
            code="decompression_bomb",
        )
    if width > max_side or height > max_side or width * height > max_pixels:
        raise InvalidSignalError(
            f"{shown} is {width} x {height} pixels; images up to {max_side} pixels a side and "
            f"{max_pixels // 1_000_000} megapixels are accepted. Scale it down and upload it again.",
            code="image_too_large",
        )
    if width < MIN_IMAGE_SIDE or height < MIN_IMAGE_SIDE:
        raise InvalidSignalError(
            f"{shown} is only {width} x {height} pixels, too small to show an ECG.", code="image_too_small"
        )


def _probe_pdf(path, shown):
    import pypdfium2

    from ml.io.picture import PDF_MAX_PAGES

    try:
        pdf = pypdfium2.PdfDocument(str(path))
    except pypdfium2.PdfiumError:
        raise UnsupportedFormatError(
            f"The PDF {shown} could not be opened: it is damaged or password-protected.", code="corrupt_pdf"
        ) from None
    try:
        count = len(pdf)
        if count == 0:
            raise UnsupportedFormatError(f"The PDF {shown} has no pages.", code="corrupt_pdf")
        if count > PDF_MAX_PAGES:
            raise UnsupportedFormatError(
                f"The PDF {shown} has {count} pages; an ECG report has a few. Upload the pages with "
                f"the ECG (at most {PDF_MAX_PAGES}).",
                code="too_many_pages",
            )
        width, height = pdf[0].get_size()
        if max(width, height) > 72 * 60:  # points: 60 inches
            raise InvalidSignalError(
                f"The PDF page is {width / 72:.0f} x {height / 72:.0f} inches, too large to be an ECG print-out.",
                code="image_too_large",
            )
    finally:
        pdf.close()
    pages = "1 page" if count == 1 else f"{count} pages"
    return Probe(file_format=sniff.PDF, input_kind="image", notes=[f"PDF of {pages}"])


def _probe_wfdb(path, shown):
    from ml.io.recording import FLAT_LINE
    from ml.io.wfdb_record import read_header

    header = read_header(path, shown=shown)
    if all(_all_zero(path.parent / f) for f in header.data_files):
        raise InvalidSignalError(f"{FLAT_LINE} (every sample in {', '.join(header.data_files)} is zero).")
    duration = header.samples / header.fs if header.samples else None
    notes = [f"Sampling rate {header.fs:g} Hz taken from the WFDB header"]
    return Probe(file_format=sniff.WFDB, input_kind="signal", fs=header.fs, duration_s=duration, notes=notes)


def _all_zero(path, chunk=1 << 20):
    """Return True when every byte of the file at ``path`` is zero (read until the first that is not)."""
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            if block.count(0) != len(block):
                return False
    return True


def _probe_edf(path, shown, *, bdf):
    from ml.io.edf import open_edf
    from ml.io.recording import check_fs

    kind = "BDF" if bdf else "EDF"
    signals, layout = open_edf(path, shown=shown, bdf=bdf, header_only=True)
    rates = sorted({check_fs(s.sampling_frequency, origin=f"in the {kind} header") for s in signals})
    return Probe(
        file_format=sniff.EDF,
        input_kind="signal",
        fs=rates[-1] if len(rates) == 1 else None,
        duration_s=layout.available_s,
        notes=[f"{kind} file with {len(signals)} signal(s)"],
    )


def _probe_text(path, shown, *, fs, lead):
    """Parse the leading :data:`TEXT_PROBE_BYTES` of a text file the way the worker will parse all of it."""
    from ml.io.text import read_text

    size = path.stat().st_size
    with path.open("rb") as fh:
        part = fh.read(TEXT_PROBE_BYTES)
    whole = size <= TEXT_PROBE_BYTES
    if not whole:
        part = part[: part.rfind(b"\n") + 1] or part  # whole lines only
    with tempfile.TemporaryDirectory(prefix="ecg-probe-") as tmp:
        sample = Path(tmp) / "head.csv"
        sample.write_bytes(part)
        recording = read_text(sample, shown=shown, fs=fs, lead=lead)
    notes = list(recording.notes)
    if not whole:
        notes.append(f"The first {recording.duration_s:.0f} s were checked at upload; the rest is read by the analysis")
    return Probe(
        file_format=sniff.CSV,
        input_kind="signal",
        fs=recording.fs,
        duration_s=recording.duration_s if whole else None,
        lead=recording.lead,
        notes=notes,
    )
