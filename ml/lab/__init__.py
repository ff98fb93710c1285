"""What only training and evaluation need: datasets, protocols, metrics, calibration, the model card.

The worker and the web process never import this package (``ml/tests/test_lab_boundary.py``
checks it): serving is ``ml`` and ``ml.io``; ``ml.lab`` turns data into the files they load
(``ml/models``) and the figures that describe them (``ml/reports``, ``ml/MODEL_CARD.md``).

    make train      # python -m ml.lab.train ..., ml.lab.calibrate, ml.lab.rhythm_lab
    make evaluate   # python -m ml.lab.evaluate_detector, ml.lab.evaluate, ml.lab.rhythm_lab
"""

from pathlib import Path

ML_DIR = Path(__file__).resolve().parent.parent
REPO = ML_DIR.parent
MODELS_DIR = ML_DIR / "models"
REPORTS = ML_DIR / "reports"
CACHE_DIR = REPO / ".cache"
