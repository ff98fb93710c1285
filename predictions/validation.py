"""Check an upload before anything is stored or queued.

Format comes from content (the first bytes), never from the file name. Images are checked from
their header before any pixel is decoded (decompression bombs), signals are read once with the
TensorFlow-free ``ml.io.load`` so a malformed CSV or an incomplete WFDB pair is refused here
with the reader's own plain-language message.
"""

import hashlib
import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from PIL import Image, UnidentifiedImageError

from ml.errors import ECGInputError
from ml.io import sniff
from predictions.errors import UploadError
from predictions.files import local_copy, pdf_first_page_png

SUPPORTED = (
    "Upload an ECG image (PNG, JPEG or a one-page PDF), a WFDB record (the .hea file and its .dat "
    "file together), a CSV file or an EDF file."
)


@dataclass
class InspectedUpload:
    """What the checks learnt about an accepted upload."""

    file_format: str
    input_kind: str
    main: object
    companion: object = None
    size_bytes: int = 0
    sha256: str = ""
    sampling_rate: float | None = None
    duration_s: float | None = None
    lead: str = ""
    notes: list = field(default_factory=list)


def _head(upload, n=sniff.SNIFF_BYTES):
    upload.seek(0)
    head = upload.read(n)
    upload.seek(0)
    return head


def _sha256(upload):
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks() if hasattr(upload, "chunks") else iter(lambda: upload.read(1 << 20), b""):
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def _name(upload):
    return Path(getattr(upload, "name", "") or "upload").name


def inspect_upload(files, *, sampling_rate=None, lead=None):
    """Return an :class:`InspectedUpload` for ``files`` (one file, or a WFDB header and its data).

    Raise :class:`UploadError` with a code and a message for a person when the upload is unusable.
    """
    files = [f for f in (files or []) if f is not None]
    if not files:
        raise UploadError("missing_file", f"No file was uploaded. {SUPPORTED}")
    if len(files) > 2:
        raise UploadError(
            "too_many_files", "Upload one ECG at a time: one file, or a WFDB .hea file with its .dat file."
        )
    limit = settings.ECG_UPLOAD_MAX_BYTES
    total = sum(f.size or 0 for f in files)
    if total > limit:
        raise UploadError(
            "too_large",
            f"The upload is {total / 1_048_576:.1f} MB; the limit is {limit / 1_048_576:.0f} MB.",
        )
    for f in files:
        if not f.size or not _head(f, 4096).strip(b" \t\r\n\x00"):
            raise UploadError("empty", f"The file {_name(f)} is empty. {SUPPORTED}")

    heads = [_head(f) for f in files]
    formats = [sniff.sniff(h) for h in heads]
    if len(files) == 2:
        if formats.count(sniff.WFDB) != 1:
            raise UploadError(
                "too_many_files",
                "Two files can only be a WFDB record: its .hea header and its .dat file. "
                "Upload other ECGs one at a time.",
            )
        i = formats.index(sniff.WFDB)
        main, companion = files[i], files[1 - i]
        return _inspect_signal(main, companion, "wfdb", total, sampling_rate, lead)

    main, fmt, head = files[0], formats[0], heads[0]
    if fmt in (sniff.PNG, sniff.JPEG):
        return _inspect_image(main, fmt, total)
    if head.startswith(b"%PDF"):
        return _inspect_pdf(main, total)
    if fmt == sniff.BDF:
        fmt = "edf"
    if fmt in (sniff.EDF, sniff.WFDB, sniff.CSV):
        return _inspect_signal(main, None, fmt, total, sampling_rate, lead)
    other = sniff.describe_other(head)
    if other:
        raise UploadError("unsupported_format", f"{_name(main)} is {other}, which is not supported. {SUPPORTED}")
    if _name(main).lower().endswith(".dat"):
        raise UploadError(
            "missing_file",
            f"{_name(main)} looks like the data part of a WFDB record. Upload its .hea header file together with it.",
        )
    raise UploadError("unsupported_format", f"{_name(main)} is not a recognised ECG file. {SUPPORTED}")


def _check_dimensions(width, height, shown):
    max_side = settings.ECG_IMAGE_MAX_SIDE
    min_side = settings.ECG_IMAGE_MIN_SIDE
    max_pixels = settings.ECG_IMAGE_MAX_PIXELS
    if width * height > Image.MAX_IMAGE_PIXELS:
        raise UploadError(
            "decompression_bomb",
            f"{shown} declares {width} x {height} pixels, far more than any ECG image; it was refused "
            "as a possible decompression bomb.",
        )
    if width > max_side or height > max_side or width * height > max_pixels:
        raise UploadError(
            "image_too_large",
            f"{shown} is {width} x {height} pixels; images up to {max_side} pixels a side and "
            f"{max_pixels // 1_000_000} megapixels are accepted. Scale it down and upload it again.",
        )
    if width < min_side or height < min_side:
        raise UploadError(
            "image_too_small", f"{shown} is only {width} x {height} pixels, too small to show an ECG."
        )


def _open_image_checked(fileobj, shown):
    """Open, size-check and fully decode an image; return its size."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(fileobj) as img:
                width, height = img.size
                _check_dimensions(width, height, shown)
                img.load()  # decode every pixel: catches truncated and corrupt files
    except UploadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadError(
            "decompression_bomb",
            f"{shown} decodes to far more pixels than any ECG image; it was refused as a possible decompression bomb.",
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise UploadError("corrupt_image", f"{shown} is damaged or truncated and cannot be read as an image.") from None
    return width, height


def _inspect_image(upload, fmt, total):
    shown = _name(upload)
    upload.seek(0)
    width, height = _open_image_checked(upload, shown)
    upload.seek(0)
    return InspectedUpload(
        file_format="png" if fmt == sniff.PNG else "jpeg",
        input_kind="image",
        main=upload,
        size_bytes=total,
        sha256=_sha256(upload),
        notes=[f"Image of {width} x {height} pixels"],
    )


def _inspect_pdf(upload, total):
    shown = _name(upload)
    upload.seek(0)
    data = b"".join(upload.chunks()) if hasattr(upload, "chunks") else upload.read()
    png = pdf_first_page_png(data, max_pixels=settings.ECG_IMAGE_MAX_PIXELS)
    width, height = _open_image_checked(io.BytesIO(png), shown)
    upload.seek(0)
    return InspectedUpload(
        file_format="pdf",
        input_kind="image",
        main=upload,
        size_bytes=total,
        sha256=_sha256(upload),
        notes=[f"First PDF page rendered at {width} x {height} pixels"],
    )


def _inspect_signal(main, companion, fmt, total, sampling_rate, lead):
    from ml.io import load

    shown = _name(main)
    try:
        with local_copy(file_format=fmt, main=main, companion=companion) as path:
            recording = load(path, fs=sampling_rate, lead=lead or None, filename=shown)
    except ECGInputError as exc:
        raise UploadError(exc.code, str(exc)) from None
    for f in (main, companion):
        if f is not None:
            f.seek(0)
    return InspectedUpload(
        file_format=fmt,
        input_kind="signal",
        main=main,
        companion=companion,
        size_bytes=total,
        sha256=_sha256(main),
        sampling_rate=recording.fs,
        duration_s=recording.duration_s,
        lead=recording.lead,
        notes=list(recording.notes),
    )
