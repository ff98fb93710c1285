"""Read an uploaded ECG in any supported format into one :class:`Recording`.

Supported: WFDB (``.hea`` + ``.dat``), CSV/text, EDF/EDF+, numpy arrays, and pictures (PNG, JPEG,
WebP, HEIC, BMP, TIFF, or the ECG page of a PDF) of a single-beat plot, a rhythm strip or a 12-lead
report, which are digitised (``ml.io.image``).
"""

from ml.io.loader import load
from ml.io.recording import Recording

__all__ = ["load", "Recording"]
