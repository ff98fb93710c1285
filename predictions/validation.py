"""Check an upload before anything is stored or queued: web limits here, format rules in ``ml.io``.

This module checks only what the web owns (how many files, how large, not empty) and calls
``ml.io.probe`` once, which reads the first bytes and a bounded header: the request never parses
a whole signal or rasterises a PDF (the worker does, under its limits). The reader's own
plain-language message is what the user sees.
"""

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from ml.errors import ECGInputError
from ml.io import sniff
from predictions.errors import UploadError, upload_too_large
from predictions.files import local_copy

FORMATS = (
    "an ECG picture (PNG, JPEG, WebP, HEIC, BMP, TIFF or a PDF of the report), a WFDB record "
    "(the .hea file with its .dat or .mat file), a CSV file or an EDF/BDF file"
)
SUPPORTED = f"Upload {FORMATS}."
# The file picker's list: every format above (the server sniffs the content whatever the name).
ACCEPT = (".png,.jpg,.jpeg,.webp,.heic,.heif,.bmp,.tif,.tiff,.pdf,.hea,.dat,.mat,.atr,.csv,.txt,.edf,.bdf,"
          "image/*,application/pdf,text/csv")
# Beat annotations that come with a WFDB record (MIT-BIH .atr, ...): the portal finds the beats
# itself, so they are set aside instead of refusing the upload.
WFDB_ANNOTATION_SUFFIXES = {".atr", ".ann", ".qrs", ".ari", ".ecg", ".pu", ".pu0", ".pu1", ".man", ".xws", ".16a"}


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
    if any(Path(_name(f)).suffix.lower() == ".hea" for f in files):
        files = [f for f in files if Path(_name(f)).suffix.lower() not in WFDB_ANNOTATION_SUFFIXES] or files
    if len(files) > 2:
        raise UploadError(
            "too_many_files", "Upload one ECG at a time: one file, or a WFDB .hea file with its .dat file."
        )
    limit = settings.ECG_UPLOAD_MAX_BYTES
    total = sum(f.size or 0 for f in files)
    if total > limit:
        raise upload_too_large(total, limit)
    for f in files:
        # Only a file of no bytes is empty here: ml.io.probe judges the content (an all-zero WFDB
        # .dat is a flat line, a blank text file is empty).
        if not f.size:
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
        return _inspect(files[i], files[1 - i], sniff.WFDB, total, sampling_rate, lead)
    fmt = sniff.EDF if formats[0] == sniff.BDF else formats[0]
    return _inspect(files[0], None, fmt, total, sampling_rate, lead)


def _inspect(main, companion, fmt, total, sampling_rate, lead):
    """Lay the upload out locally and let ``ml.io.probe`` check it (bounded reads only)."""
    from ml.io.probe import probe

    shown = _name(main)
    try:
        with local_copy(file_format=fmt, main=main, companion=companion) as path:
            found = probe(path, fs=sampling_rate, lead=lead or None, filename=shown)
    except ECGInputError as exc:
        raise UploadError(exc.code, str(exc)) from None
    for f in (main, companion):
        if f is not None:
            f.seek(0)
    return InspectedUpload(
        file_format=found.file_format,
        input_kind=found.input_kind,
        main=main,
        companion=companion,
        size_bytes=total,
        sha256=_sha256(main),
        sampling_rate=found.fs,
        duration_s=found.duration_s,
        lead=found.lead,
        notes=list(found.notes),
    )
