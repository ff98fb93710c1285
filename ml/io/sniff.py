"""Tell the format of an upload from its first bytes, never from its file name."""

import re

PNG = "png"
JPEG = "jpeg"
EDF = "edf"
BDF = "bdf"
WFDB = "wfdb"
CSV = "csv"
WEBP = "webp"
HEIC = "heic"
BMP = "bmp"
TIFF = "tiff"
PDF = "pdf"
# Pictures ml.io.image reads (a PDF is rasterised first; see ml.io.picture).
IMAGE_FORMATS = (PNG, JPEG, WEBP, HEIC, BMP, TIFF)

# Formats we recognise only to say clearly that they are not supported.
_OTHER_MAGIC = (
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive (or a Word/Excel file)"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document"),
)

# WFDB record line: name[/segments] nsig [fs[/counterfreq][(base)] [nsamp [time [date]]]]
_RECORD_LINE = re.compile(r"^[A-Za-z0-9_\-~]+(/\d+)?\s+\d+(\s+[0-9.eE+\-]+(/[0-9.eE+\-]+)?(\([^)]*\))?)?(\s+\d+)?")
# WFDB signal line starts with a file name (e.g. "100.dat 212 200 ...").
_SIGNAL_LINE = re.compile(r"^\S*[A-Za-z~_]\S*\s+\d+")

SNIFF_BYTES = 8192


def sniff(head: bytes) -> str | None:
    """Return the format of a file whose first bytes are ``head``, or None when unknown.

    Raises nothing; the caller decides what an unknown format means.
    """
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return WEBP
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"hevc"):
        return HEIC
    if head.startswith(b"BM") and len(head) >= 26 and head[14:18] in (b"\x0c\x00\x00\x00", b"(\x00\x00\x00", b"@\x00\x00\x00", b"l\x00\x00\x00", b"|\x00\x00\x00"):
        return BMP
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return TIFF
    if head.startswith(b"%PDF"):
        return PDF
    # EDF/EDF+ version field: "0" followed by seven spaces.
    if head.startswith(b"0       ") and len(head) >= 256:
        return EDF
    if head.startswith(b"\xffBIOSEMI") and len(head) >= 256:
        return BDF
    text = _as_text(head)
    if text is None:
        return None
    if _looks_like_wfdb_header(text):
        return WFDB
    if _looks_like_csv(text):
        return CSV
    return None


def describe_other(head: bytes) -> str | None:
    """Return a phrase naming a known but unsupported format ("a PDF document"), or None."""
    for magic, phrase in _OTHER_MAGIC:
        if head.startswith(magic):
            return phrase
    return None


def _as_text(head: bytes) -> str | None:
    if b"\x00" in head:
        return None
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the sniff window is still text.
        if exc.start < len(head) - 4:
            try:
                text = head.decode("latin-1")
            except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes everything
                return None
            if _control_ratio(text) > 0.01:
                return None
        else:
            text = head[: exc.start].decode("utf-8-sig")
    if _control_ratio(text) > 0.01:
        return None
    return text


def _control_ratio(text: str) -> float:
    if not text:
        return 0.0
    bad = sum(1 for ch in text if (ord(ch) < 32 and ch not in "\r\n\t\f") or 0x7F <= ord(ch) < 0xA0)
    return bad / len(text)


def _looks_like_wfdb_header(text: str) -> bool:
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if not lines or not _RECORD_LINE.match(lines[0]):
        return False
    try:
        nsig = int(lines[0].split()[1])
    except (IndexError, ValueError):
        return False
    if nsig == 0:
        return len(lines) == 1
    # Signal lines start with a file name; a row of numbers (a CSV) does not.
    return len(lines) > 1 and bool(_SIGNAL_LINE.match(lines[1]))


def _looks_like_csv(text: str) -> bool:
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return False
    # At least one line (after any header) must be mostly numbers.
    for line in lines[:20]:
        tokens = [t for t in re.split(r"[,;\t ]+", line.strip()) if t]
        numeric = sum(1 for t in tokens if _is_number(t.strip("'\"")))
        if tokens and numeric >= max(1, len(tokens) // 2):
            return True
    return False


def _is_number(token: str) -> bool:
    try:
        float(token.replace(",", "."))
    except ValueError:
        return bool(re.fullmatch(r"\d+:\d{2}(:\d{2})?(\.\d+)?", token))
    return True
