"""Lay an ECG's files out in a local folder the way the ``ml`` readers expect them.

Storage may be remote (S3), so files are copied through ``storage.open``; a WFDB header is
written under its record name and its samples under the name the header refers to.
"""

import contextlib
import shutil
import tempfile
from pathlib import Path

_EXTENSIONS = {"png": ".png", "jpeg": ".jpg", "webp": ".webp", "heic": ".heic", "bmp": ".bmp", "tiff": ".tif",
               "pdf": ".pdf", "csv": ".csv", "edf": ".edf"}


def wfdb_layout(header_text):
    """Return (record name, data file names) read from a WFDB header's text."""
    lines = [ln.strip() for ln in header_text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return "record", []
    record_name = lines[0].split()[0].split("/")[0]
    data_files = []
    for line in lines[1:]:
        name = line.split()[0]
        if name not in data_files:
            data_files.append(name)
    return record_name, data_files


def _safe_name(name, fallback):
    """Return ``name`` when it is a plain file name, else ``fallback`` (never a path)."""
    name = str(name)
    if not name or name in (".", "..") or Path(name).name != name or "\\" in name:
        return fallback
    return name


def _copy(source, target):
    """Copy a file-like object or bytes to ``target``."""
    with open(target, "wb") as out:
        if isinstance(source, bytes):
            out.write(source)
            return
        if hasattr(source, "seek"):
            source.seek(0)
        if hasattr(source, "chunks"):
            for chunk in source.chunks():
                out.write(chunk)
        else:
            shutil.copyfileobj(source, out, 1024 * 1024)


@contextlib.contextmanager
def local_copy(*, file_format, main, companion=None):
    """Yield the path ``ml.io.load``/``ml.analyse`` should read, in a folder removed afterwards.

    ``main`` and ``companion`` are file-like objects (an upload or ``storage.open``) or bytes.
    Files are copied as they are: reading every format (a PDF's pages included) is ``ml.io``'s job.
    """
    with tempfile.TemporaryDirectory(prefix="ecg-upload-") as tmp:
        folder = Path(tmp)
        if file_format == "wfdb":
            header = folder / "header.tmp"
            _copy(main, header)
            record_name, data_files = wfdb_layout(header.read_text(encoding="latin-1"))
            record_name = _safe_name(record_name, "record")
            path = folder / f"{record_name}.hea"
            header.rename(path)
            if companion is not None:
                # The header names its sample file; write ours under that name even if renamed.
                wanted = [f for f in data_files if f != "-"]
                target = _safe_name(wanted[0], f"{record_name}.dat") if len(wanted) == 1 else f"{record_name}.dat"
                _copy(companion, folder / target)
        else:
            path = folder / f"source{_EXTENSIONS.get(file_format, '')}"
            _copy(main, path)
        yield path


def stored_path(record):
    """Return the local path of ``record``'s stored file when the reader can read it where it
    lies (storage on this disk, one file named with its format's extension), else None: a WFDB
    record's header names its sample file, and remote storage has no path, so those are copied."""
    if record.file_format == "wfdb" or record.companion_file:
        return None
    try:
        path = Path(record.file.path)
    except (NotImplementedError, ValueError):
        return None
    if path.suffix != _EXTENSIONS.get(record.file_format) or not path.is_file():
        return None
    return path


@contextlib.contextmanager
def readable_path(record):
    """Yield a local path ``ml.io.load`` can read ``record`` from: the stored file itself when it
    can (:func:`stored_path`), else a copy laid out by :func:`local_copy`, removed afterwards."""
    stored = stored_path(record)
    if stored is not None:
        yield stored
        return
    with contextlib.ExitStack() as stack:
        main = stack.enter_context(record.file.open("rb"))
        companion = stack.enter_context(record.companion_file.open("rb")) if record.companion_file else None
        yield stack.enter_context(local_copy(file_format=record.file_format, main=main, companion=companion))
