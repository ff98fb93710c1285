"""ECG beat classification: load an ECG, find its beats, classify each with a CNN.

``import ml`` stays light (no TensorFlow, no SciPy): the web process imports ``ml.classes`` and
``ml.errors`` only. ``analyse`` and ``AnalysisResult`` are resolved on first use, and TensorFlow
is imported only when a model is loaded.
"""

from ml.classes import BEAT_CLASSES
from ml.errors import ECGInputError

__all__ = ["analyse", "AnalysisResult", "ECGInputError", "BEAT_CLASSES"]


def __getattr__(name):
    if name in ("analyse", "AnalysisResult"):
        from ml import analysis

        return getattr(analysis, name)
    raise AttributeError(f"module 'ml' has no attribute {name!r}")
