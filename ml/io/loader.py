"""Dispatch an upload to the reader for its format (detected from content)."""

from pathlib import Path

import numpy as np

from ml.errors import EmptyInputError, MissingFileError, SamplingRateError, UnsupportedFormatError
from ml.io import sniff
from ml.io.leads import UNNAMED_LEADS
from ml.io.recording import Recording, check_fs, check_signal

SUPPORTED = ("a WFDB record (.hea with its .dat), a CSV/text file, an EDF file, a picture "
             "(PNG, JPEG, WebP, HEIC, BMP, TIFF) or a PDF of the ECG report")


def load(source, *, fs=None, lead=None, filename=None, corners=None) -> Recording:
    """Return the single-lead :class:`Recording` read from ``source``.

    ``source`` is a path (str or Path) or a numpy array (then ``fs`` is required). ``fs`` is the
    sampling rate the user typed (Hz), used only when the file does not carry one. ``lead`` is the
    lead the user asked for. ``filename`` is the user's original file name, used in messages.
    ``corners``: for a picture, the page's four corners [[x, y] * 4] (top-left, top-right,
    bottom-right, bottom-left, pixels of the picture as displayed) a person marked in the crop
    step; ignored for other formats.
    Raise an :class:`ml.errors.ECGInputError` subclass with a plain-language message when the input
    is not a usable ECG.
    """
    if isinstance(source, (np.ndarray, list, tuple)):
        return _load_array(np.asarray(source), fs=fs, lead=lead)
    if not isinstance(source, (str, Path)):
        raise TypeError(f"source must be a path or a numpy array, not {type(source).__name__}")
    path = Path(source)
    shown = filename or path.name
    if not path.is_file():
        raise MissingFileError(f"The file {shown} could not be found.")
    with path.open("rb") as fh:
        head = fh.read(sniff.SNIFF_BYTES)
    refuse_blank(head, shown=shown)

    fmt = sniff.sniff(head)
    if fmt in sniff.IMAGE_FORMATS or fmt == sniff.PDF:
        from ml.io.image import read_image

        given = {} if corners is None else {"corners": corners}
        return read_image(path, shown=shown, pdf=fmt == sniff.PDF, **given)
    if fmt in (sniff.EDF, sniff.BDF):
        from ml.io.edf import read_edf

        return read_edf(path, shown=shown, lead=lead, bdf=fmt == sniff.BDF)
    if fmt == sniff.WFDB:
        from ml.io.wfdb_record import read_wfdb

        return read_wfdb(path, shown=shown, lead=lead)
    if fmt == sniff.CSV:
        from ml.io.text import read_text

        return read_text(path, shown=shown, fs=fs, lead=lead)

    other = sniff.describe_other(head)
    if other:
        raise UnsupportedFormatError(f"{shown} is {other}, which is not supported. Upload {SUPPORTED}.")
    suffix = Path(shown).suffix.lower()
    if suffix in (".dat", ".atr"):
        raise MissingFileError(
            f"{shown} looks like the data part of a WFDB record. Upload its .hea header file "
            "together with it."
        )
    raise UnsupportedFormatError(f"The file {shown} is not a recognised ECG format. Upload {SUPPORTED}.")


def refuse_blank(head: bytes, *, shown: str):
    """Raise EmptyInputError when a file whose first bytes are ``head`` holds nothing but blanks.

    Only a file's own format can tell zero bytes from samples of zero: a WFDB data file of zeros
    is a flat line (``ml.io.probe``), and is never checked here.
    """
    if not head.strip(b" \t\r\n\x00"):
        raise EmptyInputError(f"The file {shown} is empty. Upload {SUPPORTED}.")


def _load_array(array: np.ndarray, *, fs, lead) -> Recording:
    if fs is None:
        raise SamplingRateError("The sampling rate is needed for a raw array of samples. Give it in Hz.")
    fs = check_fs(fs, origin="given with the array")
    if array.size == 0:
        raise EmptyInputError("The array of samples is empty.")
    if not np.issubdtype(array.dtype, np.number):
        raise UnsupportedFormatError("The array must contain numbers only.")
    notes = []
    label = "channel 1"
    n_leads = 1
    if array.ndim == 2 and min(array.shape) > 1:
        from ml.io.leads import choose_lead

        # Time runs along the longer axis.
        columns = array if array.shape[0] >= array.shape[1] else array.T
        labels = [f"channel {i + 1}" for i in range(columns.shape[1])]
        idx, note = choose_lead(labels, lead)
        array, label, n_leads = columns[:, idx], labels[idx], len(labels)
        notes.append(note)
    elif array.ndim > 2:
        raise UnsupportedFormatError(f"The array has {array.ndim} dimensions; give one lead (1-D).")
    signal = check_signal(array.astype(np.float64, copy=False).ravel(), fs=fs)
    notes.append(f"Sampling rate {fs:g} Hz as given")
    return Recording(signal=signal, fs=fs, lead=label, kind="signal", notes=notes, n_leads=n_leads,
                     leads_unread="" if n_leads == 1 else UNNAMED_LEADS)
