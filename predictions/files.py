"""Lay an ECG's files out in a local folder the way the ``ml`` readers expect them.

Storage may be remote (S3), so files are copied through ``storage.open``; a WFDB header is
written under its record name and its samples under the name the header refers to.
"""

import contextlib
import shutil
import tempfile
from pathlib import Path

import pypdfium2
from predictions.errors import UploadError

PDF_DPI = 150
_EXTENSIONS = {"png": ".png", "jpeg": ".jpg", "pdf": ".png", "csv": ".csv", "edf": ".edf"}


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
    A PDF is rasterised to PNG (its first page) on the way.
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
        elif file_format == "pdf":
            path = folder / "page.png"
            data = _read_all(main)
            path.write_bytes(pdf_first_page_png(data))
        else:
            path = folder / f"source{_EXTENSIONS.get(file_format, '')}"
            _copy(main, path)
        yield path


def _read_all(source):
    if isinstance(source, bytes):
        return source
    if hasattr(source, "seek"):
        source.seek(0)
    if hasattr(source, "chunks"):
        return b"".join(source.chunks())
    return source.read()


def pdf_first_page_png(data, *, max_pixels=40_000_000):
    """Return the first page of the PDF ``data`` rendered to PNG bytes at ``PDF_DPI``.

    Raise UploadError when the PDF cannot be read, has no page, or its page is absurdly large.
    """
    import io

    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError:
        raise UploadError(
            "corrupt_pdf", "The PDF could not be opened: it is damaged or password-protected."
        ) from None
    try:
        if len(pdf) == 0:
            raise UploadError("corrupt_pdf", "The PDF has no pages.")
        page = pdf[0]
        width, height = page.get_size()
        scale = PDF_DPI / 72
        if width * height * scale * scale > max_pixels or max(width, height) * scale > 20_000:
            raise UploadError(
                "image_too_large",
                f"The PDF page is {width / 72:.0f} x {height / 72:.0f} inches, too large to be an ECG print-out.",
            )
        bitmap = page.render(scale=scale, grayscale=True)
        image = bitmap.to_pil()
        out = io.BytesIO()
        image.save(out, format="PNG")
        page.close()
        return out.getvalue()
    finally:
        pdf.close()
