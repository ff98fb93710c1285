"""Read a PhysioNet WFDB record (header ``.hea`` plus its signal file(s)) with the ``wfdb`` library."""

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml.errors import InvalidSignalError, MissingFileError, UnsupportedFormatError
from ml.io.leads import UNNAMED_LEADS, choose_lead, standard_leads
from ml.io.recording import MIN_READ_SHARE, Recording, check_fs, check_signal, sex_and_age

DEFAULT_GAIN = 200  # ADC units per physical unit the WFDB format assumes for an uncalibrated signal
_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3, "nv": 1e-6}


# Bits per sample of the WFDB storage formats (format 310/311 pack 3 samples in 4 bytes).
_BITS = {"8": 8, "16": 16, "24": 24, "32": 32, "61": 16, "80": 8, "160": 16, "212": 12, "310": 32 / 3, "311": 32 / 3}
MAX_HEADER_BYTES = 64 * 1024
# The ADC gain field of a signal line: "200", "200(1024)/mV", "-200/mV", "1.5e3(0)".
_GAIN = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


@dataclass
class WfdbHeader:
    """What a WFDB header says, checked against the data file beside it (no sample is read)."""

    record_name: str
    data_files: list
    fs: float
    n_sig: int
    declared_samples: int | None
    available_samples: int | None
    # Channels (0-based) whose header gives a gain of 0: uncalibrated in the WFDB format.
    uncalibrated: tuple = ()

    @property
    def samples(self):
        known = [n for n in (self.declared_samples, self.available_samples) if n is not None]
        return min(known) if known else None


def read_header(path: Path, *, shown: str) -> WfdbHeader:
    """Return the checked header of the WFDB record at ``path``: a bounded read, no samples.

    Raise an ECGInputError naming the offending value for a header no reader should trust
    (an implausible sampling rate, more samples than the data file holds, files elsewhere).
    """
    with path.open("rb") as fh:
        raw = fh.read(MAX_HEADER_BYTES + 1)
    if len(raw) > MAX_HEADER_BYTES:
        raise UnsupportedFormatError(f"{shown} is larger than any WFDB header ({MAX_HEADER_BYTES // 1024} KB at most).")
    text = raw.decode("latin-1")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    record_line = lines[0].split()
    record_name = record_line[0].split("/")[0]
    if "/" in record_line[0]:
        raise UnsupportedFormatError(
            f"{shown} is a multi-segment WFDB record, which is not supported. Upload a single-segment record."
        )
    try:
        n_sig = int(record_line[1])
        # Read the rate from the text: wfdb's own parser turns "1e12" into 1 Hz.
        fs_token = record_line[2].split("/")[0].split("(")[0] if len(record_line) > 2 else "250"
        declared = int(record_line[3]) if len(record_line) > 3 else None
    except (IndexError, ValueError):
        raise UnsupportedFormatError(f"The record line of the WFDB header {shown} is damaged: {lines[0][:80]!r}.") from None
    fs = check_fs(fs_token, origin="in the WFDB header")
    signal_lines = [ln.split() for ln in lines[1:]]
    data_files = sorted({parts[0] for parts in signal_lines})
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
    uncalibrated = _check_gains(signal_lines, shown)
    available = _available_samples(path.parent, signal_lines)
    if declared is not None and available is not None and available < MIN_READ_SHARE * declared:
        raise InvalidSignalError(
            f"The WFDB header {shown} declares {declared:,} samples per signal, but its data file holds "
            f"only about {available:,}: the data file is truncated, or the header is damaged or "
            "belongs to another record.",
            code="truncated",
        )
    return WfdbHeader(record_name, data_files, fs, n_sig, declared, available, uncalibrated)


def _check_gains(signal_lines, shown):
    """Return the channels (0-based) whose ADC gain is 0; raise InvalidSignalError naming the first
    channel whose gain is negative.

    In the WFDB format a gain of 0 (or none) means the signal is uncalibrated, and 200 ADC units
    per physical unit may be assumed, which wfdb does (PhysioNet's header specification; 25 of
    the 58 Supraventricular Arrhythmia records are written so). A negative gain is no calibration
    a recorder writes: the amplitude is unknown and the signal may be upside down.
    """
    uncalibrated = []
    for i, parts in enumerate(signal_lines):
        match = _GAIN.match(parts[2]) if len(parts) > 2 else None
        if match is None or float(match.group(0)) > 0:
            continue
        if float(match.group(0)) == 0:
            uncalibrated.append(i)
            continue
        name = " ".join(parts[8:]) if len(parts) > 8 else ""
        channel = f"channel {i + 1} ({name})" if name else f"channel {i + 1}"
        raise InvalidSignalError(
            f"The WFDB header {shown} gives {channel} a gain of {float(match.group(0)):g}: the gain (ADC units "
            "per millivolt) must be positive, so the amplitude of this signal is unknown. The header is "
            "damaged or was written by hand; export the record again.",
            code="bad_gain",
        )
    return tuple(uncalibrated)


def _available_samples(folder, signal_lines):
    """Return how many samples per signal the data files can hold, or None when unknown."""
    bits_per_frame = {}
    for parts in signal_lines:
        fmt = parts[1].split("x")[0].split(":")[0].split("+")[0] if len(parts) > 1 else ""
        if fmt not in _BITS:
            return None
        bits_per_frame[parts[0]] = bits_per_frame.get(parts[0], 0) + _BITS[fmt]
    counts = [int((folder / name).stat().st_size * 8 // bits) for name, bits in bits_per_frame.items() if bits]
    return min(counts) if counts else None


def read_wfdb(path: Path, *, shown: str, lead=None) -> Recording:
    """Return the Recording of the WFDB record whose header is at ``path``."""
    import wfdb

    header = read_header(path, shown=shown)
    record_name, data_files = header.record_name, header.data_files

    # wfdb finds the header by record name; give it one when the stored file has another name.
    with tempfile.TemporaryDirectory(prefix="ecg-wfdb-") as tmp:
        base = path.parent
        if path.name != f"{record_name}.hea":
            base = Path(tmp)
            shutil.copyfile(path, base / f"{record_name}.hea")
            for f in data_files:
                os.symlink((path.parent / f).resolve(), base / f)
        try:
            record = wfdb.rdrecord(str(base / record_name), physical=True, sampto=header.samples)
        except (ValueError, IndexError, KeyError, OSError, TypeError) as exc:
            raise UnsupportedFormatError(
                f"The WFDB record {shown} could not be read: its header or data file is damaged or "
                f"truncated ({_short(exc)})."
            ) from None

    signals = record.p_signal
    if signals is None or signals.size == 0:
        raise InvalidSignalError(f"The WFDB record {shown} contains no samples.")
    expected = header.declared_samples
    notes = []
    fs = header.fs
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
    if idx in header.uncalibrated:
        notes.append(f"The header marks {labels[idx]} as uncalibrated (gain 0): its amplitude assumes the "
                     f"WFDB default of {DEFAULT_GAIN} ADC units per mV, so voltages are approximate")
    signal = check_signal(x, fs=fs)
    units = record.units or ["mV"] * len(labels)

    def column(i):
        return signals[:, i] * (_TO_MV.get((units[i] or "mV").strip().lower()) or 1.0)

    leads = _finite(standard_leads(labels, column))
    unread = "" if leads else UNNAMED_LEADS
    if leads and header.uncalibrated:
        # Voltage criteria and ST levels need millivolts: no 12-lead reading on assumed gains.
        leads = None
        unread = ("some of its leads are uncalibrated (gain 0 in the file's header), so no voltage or ST "
                  "level could be measured in millivolts")
        notes.append("Some leads are uncalibrated (gain 0 in the header), so the 12-lead measurements "
                     "(voltages, ST levels) were not made")
    sex, age = sex_and_age(record.comments)
    return Recording(signal=signal, fs=fs, lead=labels[idx], kind="signal", notes=notes,
                     n_leads=len(labels), leads=leads, leads_unread=unread,
                     declared_s=expected / fs if expected and len(x) < expected else None,
                     sex=sex, age=age)


def _short(exc: Exception) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return msg[:160]


def _finite(leads):
    """Return ``leads`` with non-finite samples (gaps) set to 0, or None."""
    return None if leads is None else {k: np.nan_to_num(v) for k, v in leads.items()}
