"""Read EDF/EDF+ (and BioSemi BDF) files with ``edfio``."""

import re
import warnings
from pathlib import Path

import numpy as np

from ml.errors import InvalidSignalError, UnsupportedFormatError
from ml.io.leads import choose_lead, standard_leads
from ml.io.recording import Recording, check_fs, check_signal

_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3, "nv": 1e-6}
# Labels that are ECG leads; other channels (EEG, SpO2, respiration...) are ignored when any match.
_ECG_LABEL = re.compile(
    r"(ECG|EKG|^ML|^(LEAD\s*)?(I{1,3}|AVR|AVL|AVF|V[1-6]|MLII|ML\d)$)", re.IGNORECASE
)


def open_edf(path: Path, *, shown: str, bdf: bool = False, header_only: bool = False):
    """Return (the edfio file, its signals) of the EDF/EDF+ (or BDF) file at ``path``.

    ``header_only`` reads no samples (the upload probe). Raise an ECGInputError for a damaged
    file or one without signals.
    """
    import edfio

    kind = "BDF" if bdf else "EDF"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            edf = (edfio.read_bdf if bdf else edfio.read_edf)(path, lazy_load_data=header_only)
            signals = list(edf.signals)
    except Exception as exc:  # edfio raises a mix of ValueError/OSError/struct errors on bad files
        raise UnsupportedFormatError(
            f"The {kind} file {shown} could not be read: it is damaged or truncated "
            f"({str(exc).strip()[:160] or type(exc).__name__})."
        ) from None
    if not signals:
        raise InvalidSignalError(f"The {kind} file {shown} contains no signals (only annotations).")
    return edf, signals


def read_edf(path: Path, *, shown: str, lead=None, bdf: bool = False) -> Recording:
    """Return the Recording of the EDF/EDF+ (or BDF) file at ``path``."""
    kind = "BDF" if bdf else "EDF"
    _, signals = open_edf(path, shown=shown, bdf=bdf)

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

    return Recording(signal=signal, fs=fs, lead=labels[idx], kind="signal", notes=notes,
                     n_leads=len(ecg) or 1,
                     leads=standard_leads([s.label.strip() for s in same], column))
