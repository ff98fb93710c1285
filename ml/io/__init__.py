"""Read an uploaded ECG in any supported format into one :class:`Recording`.

Supported: WFDB (``.hea`` + ``.dat``), CSV/text, EDF/EDF+, numpy arrays, and images (PNG/JPEG)
of a single-beat plot or of a rhythm strip / paper ECG, which are digitised.
"""

from ml.io.loader import load
from ml.io.recording import Recording

__all__ = ["load", "Recording"]
