"""Real and deliberately broken ECG files for the tests, written on the fly (never stored in the repo)."""

import io
import struct
import zlib
from pathlib import Path

import numpy as np

from ml.classes import BY_SYMBOL


def mitdb_excerpt(data_dir, out_dir, *, record="119", start_s=60, seconds=30, name=None):
    """Write ``seconds`` of an MIT-BIH record as a WFDB pair; return (hea, dat, reference beats).

    Reference beats are (sample index within the excerpt, class code) from the annotations.
    """
    import wfdb

    fs = 360
    a, b = int(start_s * fs), int((start_s + seconds) * fs)
    rec = wfdb.rdrecord(str(Path(data_dir) / "mitdb" / record), sampfrom=a, sampto=b)
    name = name or f"x{record}"
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp(
        name,
        fs=rec.fs,
        units=rec.units,
        sig_name=rec.sig_name,
        p_signal=rec.p_signal,
        fmt=["212"] * rec.n_sig,
        write_dir=str(out_dir),
    )
    ann = wfdb.rdann(str(Path(data_dir) / "mitdb" / record), "atr", sampfrom=a, sampto=b)
    reference = [(int(s) - a, BY_SYMBOL[sym].code) for s, sym in zip(ann.sample, ann.symbol) if sym in BY_SYMBOL]
    return out_dir / f"{name}.hea", out_dir / f"{name}.dat", reference


def mitdb_csv(data_dir, *, record="119", start_s=60, seconds=20, with_time=True):
    """Return CSV bytes of an MIT-BIH excerpt (MLII), with or without a time column."""
    import wfdb

    fs = 360
    rec = wfdb.rdrecord(
        str(Path(data_dir) / "mitdb" / record), sampfrom=int(start_s * fs), sampto=int((start_s + seconds) * fs), channels=[0]
    )
    x = rec.p_signal[:, 0]
    if with_time:
        rows = ["time_s,MLII"] + [f"{i / fs:.6f},{v:.4f}" for i, v in enumerate(x)]
    else:
        rows = ["MLII"] + [f"{v:.4f}" for v in x]
    return ("\n".join(rows) + "\n").encode()


def mitdb_edf(data_dir, *, record="119", start_s=60, seconds=20):
    """Return EDF bytes of an MIT-BIH excerpt (MLII)."""
    import edfio
    import wfdb

    fs = 360
    rec = wfdb.rdrecord(
        str(Path(data_dir) / "mitdb" / record), sampfrom=int(start_s * fs), sampto=int((start_s + seconds) * fs), channels=[0]
    )
    signal = edfio.EdfSignal(rec.p_signal[:, 0], sampling_frequency=fs, label="ECG MLII", physical_dimension="mV")
    edf = edfio.Edf([signal])
    out = io.BytesIO()
    edf.write(out)
    return out.getvalue()


def beat_image(data_dir, *, klass="Premature Ventricular Contractions", index=5):
    """Return (name, bytes) of a real single-beat image from the image data set."""
    folder = Path(data_dir) / "ecg-images" / "train" / klass
    path = sorted(folder.glob("*.png"))[index]
    return path.name, path.read_bytes()


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_declaring(width, height, *, bit_depth=1, compress_rows=True):
    """Return a valid PNG of ``width`` x ``height`` white-free pixels, built without allocating them.

    With ``compress_rows`` the IDAT really decodes to that many pixels (a decompression bomb).
    """
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    row = b"\x00" * (1 + (width * bit_depth + 7) // 8)
    comp = zlib.compressobj(9)
    if compress_rows:
        parts = [comp.compress(row * min(height, 256)) for _ in range(height // 256)]
        parts.append(comp.compress(row * (height % 256)))
    else:
        parts = [comp.compress(row)]
    idat = b"".join(parts) + comp.flush()
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def plain_png(width=300, height=200):
    from PIL import Image

    out = io.BytesIO()
    img = Image.new("L", (width, height), 255)
    # a crude zig-zag so it is not blank
    for x in range(width):
        img.putpixel((x, int(height / 2 + (height / 4) * np.sin(x / 10))), 0)
    img.save(out, format="PNG")
    return out.getvalue()


def pdf_with_page(png_data=None):
    """Return a one-page PDF (ReportLab) showing ``png_data`` (default: a plain test image)."""
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=(400, 300))
    c.drawImage(ImageReader(io.BytesIO(png_data or plain_png())), 10, 10, width=380, height=280)
    c.showPage()
    c.save()
    return out.getvalue()
