"""Read EDF/EDF+ (and BioSemi BDF) files with ``edfio``.

The fixed header is also read here, field by field (EDF specification, Kemp et al. 1992): it says
how many data records the file should hold, which edfio silently corrects to what it finds. A file
holding less than its header declares is truncated: refused when less than half is there
(:data:`ml.io.recording.MIN_READ_SHARE`), else read in part and marked partial
(``Recording.declared_s``).
"""

import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml.errors import InvalidSignalError, UnsupportedFormatError
from ml.io.leads import UNNAMED_LEADS, choose_lead, standard_leads
from ml.io.recording import MAX_AGE, MIN_READ_SHARE, Recording, check_fs, check_signal

_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3, "nv": 1e-6}
# Labels that are ECG leads; other channels (EEG, SpO2, respiration...) are ignored when any match.
_ECG_LABEL = re.compile(
    r"(ECG|EKG|^ML|^(LEAD\s*)?(I{1,3}|AVR|AVL|AVF|V[1-6]|MLII|ML\d)$)", re.IGNORECASE
)
# Bytes of the fixed header, and of each signal's header fields before "samples per data record"
# (label 16, transducer 80, dimension 8, physical min/max 8+8, digital min/max 8+8, prefilter 80).
_FIXED_BYTES = 256
_SIGNAL_FIELDS_BEFORE_SAMPLES = 16 + 80 + 8 * 5 + 80
MAX_SIGNALS = 4096  # a header declaring more is damaged (16 MB of header)


@dataclass
class EdfLayout:
    """What an EDF/BDF header declares, checked against the file's size (no sample is read)."""

    header: bytes  # the whole header: fixed part and one 256-byte block per signal
    declared_records: int | None  # None: -1, "unknown" (allowed while recording)
    available_records: int  # whole data records the file holds
    record_s: float  # duration of one data record

    @property
    def available_s(self) -> float:
        return self.available_records * self.record_s

    @property
    def declared_s(self) -> float | None:
        return None if self.declared_records is None else self.declared_records * self.record_s

    @property
    def truncated(self) -> bool:
        return self.declared_records is not None and self.available_records < self.declared_records


def read_layout(path: Path, *, shown: str, bdf: bool = False) -> EdfLayout:
    """Return the :class:`EdfLayout` of the EDF (or BDF) file at ``path``: a bounded read.

    Raise an ECGInputError for a damaged header, a file without samples, or one truncated to
    less than :data:`MIN_READ_SHARE` of what its header declares.
    """
    kind = "BDF" if bdf else "EDF"
    size = path.stat().st_size
    with path.open("rb") as fh:
        fixed = fh.read(_FIXED_BYTES)
        try:
            declared = int(fixed[236:244].strip())
            record_s = float(fixed[244:252].strip())
            n_signals = int(fixed[252:256].strip())
        except ValueError:
            raise UnsupportedFormatError(f"The {kind} file {shown} could not be read: its header is damaged.") from None
        if not 0 < n_signals <= MAX_SIGNALS:
            raise UnsupportedFormatError(
                f"The {kind} file {shown} could not be read: its header declares {n_signals} signals."
            )
        header = fixed + fh.read(_FIXED_BYTES * n_signals)
    if len(header) < _FIXED_BYTES * (n_signals + 1):
        raise UnsupportedFormatError(
            f"The {kind} file {shown} could not be read: it is damaged or truncated (it ends inside its header)."
        )
    at = _FIXED_BYTES + _SIGNAL_FIELDS_BEFORE_SAMPLES * n_signals
    try:
        per_record = sum(int(header[at + 8 * i: at + 8 * i + 8].strip()) for i in range(n_signals))
    except ValueError:
        raise UnsupportedFormatError(f"The {kind} file {shown} could not be read: its header is damaged.") from None
    record_bytes = per_record * (3 if bdf else 2)
    available = (size - len(header)) // record_bytes if record_bytes > 0 else 0
    layout = EdfLayout(header, declared if declared >= 0 else None, max(available, 0), record_s)
    if layout.available_records == 0:
        raise InvalidSignalError(f"The {kind} file {shown} contains no samples: it ends after its header.")
    if layout.declared_records and layout.available_records < MIN_READ_SHARE * layout.declared_records:
        raise InvalidSignalError(
            f"The {kind} file {shown} is truncated: its header declares {layout.declared_s:g} s of recording, "
            f"but the file holds only {layout.available_s:g} s. Upload the complete file.",
            code="truncated",
        )
    return layout


def open_edf(path: Path, *, shown: str, bdf: bool = False, header_only: bool = False):
    """Return (the edfio signals, the :class:`EdfLayout`) of the EDF/EDF+ (or BDF) file at ``path``.

    ``header_only`` reads no samples (the upload probe): edfio is given the header alone. Raise an
    ECGInputError for a damaged or truncated file, or one without signals.
    """
    import edfio

    kind = "BDF" if bdf else "EDF"
    layout = read_layout(path, shown=shown, bdf=bdf)
    source = io.BytesIO(layout.header) if header_only else path
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # edfio warns of a truncated file; the layout says it
            signals = list((edfio.read_bdf(source) if bdf else edfio.read_edf(source)).signals)
    except Exception as exc:  # edfio raises a mix of ValueError/OSError/struct errors on bad files
        raise UnsupportedFormatError(
            f"The {kind} file {shown} could not be read: it is damaged or truncated "
            f"({str(exc).strip()[:160] or type(exc).__name__})."
        ) from None
    if not signals:
        raise InvalidSignalError(f"The {kind} file {shown} contains no signals (only annotations).")
    return signals, layout


def read_edf(path: Path, *, shown: str, lead=None, bdf: bool = False) -> Recording:
    """Return the Recording of the EDF/EDF+ (or BDF) file at ``path``."""
    kind = "BDF" if bdf else "EDF"
    signals, layout = open_edf(path, shown=shown, bdf=bdf)

    ecg = [s for s in signals if _ECG_LABEL.search(s.label.strip())]
    candidates = ecg or signals
    labels = [s.label.strip() or f"signal {i + 1}" for i, s in enumerate(candidates)]
    idx, lead_note = choose_lead(labels, lead)
    chosen = candidates[idx]
    notes = [lead_note]
    if not ecg and len(signals) > 1:
        notes.append("No channel is labelled as ECG; the choice above may not be an ECG lead")
    fs = check_fs(chosen.sampling_frequency, origin=f"in the {kind} header")
    x = np.asarray(chosen.data, dtype=np.float64)
    unit = chosen.physical_dimension.strip()
    factor = _TO_MV.get(unit.lower())
    if factor is None:
        notes.append(f"Amplitude unit '{unit or 'none'}' is not a voltage; values used as they are")
    elif factor != 1.0:
        x = x * factor
        notes.append(f"Amplitude converted from {unit} to mV")
    notes.append(f"Sampling rate {fs:g} Hz taken from the {kind} header")
    signal = check_signal(x, fs=fs)
    # The other leads join the 12-lead reading only at the same rate and length as the chosen one.
    same = [s for s in candidates if s.sampling_frequency == chosen.sampling_frequency and len(s.data) == len(x)]

    def column(i):
        factor = _TO_MV.get(same[i].physical_dimension.strip().lower()) or 1.0
        return np.asarray(same[i].data, dtype=np.float64) * factor

    sex, age = _sex_and_age(layout)
    leads = standard_leads([s.label.strip() for s in same], column)
    unread = "" if leads else (
        UNNAMED_LEADS if len(same) == len(candidates) else
        "its leads are not all recorded at the same sampling rate and length, so they could not be read together")
    return Recording(signal=signal, fs=fs, lead=labels[idx], kind="signal", notes=notes,
                     n_leads=len(ecg) or 1, leads=leads, leads_unread=unread,
                     declared_s=layout.declared_s if layout.truncated else None,
                     sex=sex, age=age)


def _sex_and_age(layout: EdfLayout) -> tuple[str | None, float | None]:
    """Return (sex, age in years at the recording) from an EDF+ header's patient field
    ("code sex birthdate name"), or None for what it leaves out ("X") or plain EDF."""
    import edfio

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            edf = edfio.read_edf(io.BytesIO(layout.header))
            patient = edf.patient
            sex = patient.sex if patient.sex in ("F", "M") else None
            born, day = patient.birthdate, edf.startdate
    except Exception:  # not EDF+, or anonymised ("X") fields: edfio raises on either
        return None, None
    age = (day - born).days / 365.25 if born and day and day >= born else None
    return sex, (age if age is not None and age <= MAX_AGE else None)
