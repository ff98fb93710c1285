"""Read a PhysioNet WFDB record (header ``.hea`` plus its signal file(s)) with the ``wfdb`` library."""

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ml.errors import InvalidSignalError, MissingFileError, UnsupportedFormatError
from ml.io.leads import choose_lead
from ml.io.recording import Recording, check_fs, check_signal

_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3, "nv": 1e-6}


def read_wfdb(path: Path, *, shown: str, lead=None) -> Recording:
    """Return the Recording of the WFDB record whose header is at ``path``."""
    import wfdb

    text = path.read_text(encoding="latin-1")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    record_line = lines[0].split()
    record_name = record_line[0].split("/")[0]
    if "/" in record_line[0]:
        raise UnsupportedFormatError(
            f"{shown} is a multi-segment WFDB record, which is not supported. Upload a single-segment record."
        )
    data_files = sorted({ln.split()[0] for ln in lines[1:]})
    if any(Path(f).name != f or f in (".", "..") for f in data_files):
        raise UnsupportedFormatError(f"{shown} names data files in other folders; that is not supported.")
    missing = [f for f in data_files if f != "-" and not (path.parent / f).is_file()]
    if missing:
        raise MissingFileError(
            f"The WFDB header {shown} refers to {', '.join(missing)}, which was not uploaded with it. "
            "Upload the .hea file and its .dat file together."
        )
    if any(f == "-" for f in data_files):
        raise UnsupportedFormatError(f"{shown} expects its samples on standard input; that is not supported.")

    # wfdb finds the header by record name; give it one when the stored file has another name.
    with tempfile.TemporaryDirectory(prefix="ecg-wfdb-") as tmp:
        base = path.parent
        if path.name != f"{record_name}.hea":
            base = Path(tmp)
            shutil.copyfile(path, base / f"{record_name}.hea")
            for f in data_files:
                os.symlink((path.parent / f).resolve(), base / f)
        try:
            record = wfdb.rdrecord(str(base / record_name), physical=True)
        except (ValueError, IndexError, KeyError, OSError, TypeError) as exc:
            raise UnsupportedFormatError(
                f"The WFDB record {shown} could not be read: its header or data file is damaged or "
                f"truncated ({_short(exc)})."
            ) from None

    signals = record.p_signal
    if signals is None or signals.size == 0:
        raise InvalidSignalError(f"The WFDB record {shown} contains no samples.")
    expected = record.sig_len
    notes = []
    fs = check_fs(record.fs, origin="in the WFDB header")
    labels = [str(n) for n in (record.sig_name or [f"signal {i + 1}" for i in range(signals.shape[1])])]
    idx, lead_note = choose_lead(labels, lead)
    notes.append(lead_note)
    x = np.asarray(signals[:, idx], dtype=np.float64)
    unit = (record.units or ["mV"] * len(labels))[idx] or "mV"
    factor = _TO_MV.get(unit.strip().lower())
    if factor is None:
        notes.append(f"Amplitude unit '{unit}' is not a voltage; values used as they are")
    elif factor != 1.0:
        x = x * factor
        notes.append(f"Amplitude converted from {unit} to mV")
    notes.append(f"Sampling rate {fs:g} Hz taken from the WFDB header")
    if expected and len(x) < expected:
        notes.append(f"Only {len(x)} of the {expected} samples in the header were found")
    signal = check_signal(x, fs=fs)
    return Recording(signal=signal, fs=fs, lead=labels[idx], kind="signal", notes=notes)


def _short(exc: Exception) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return msg[:160]
