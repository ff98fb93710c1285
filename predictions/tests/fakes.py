"""Stand-ins for the worker's analysis: the real ``ml`` pipeline with a TensorFlow-free classifier.

Point ``PREDICTIONS_ANALYSER`` at one of these (setting or environment variable).
"""

import os
import time

import numpy as np

from ml.classes import CODES


class StubClassifier:
    """Label every beat normal (95 %), except every fifth beat: a premature ventricular one (55 %)."""

    version = "stub-1"

    def predict(self, images, context):
        n = len(images)
        probs = np.full((n, len(CODES)), 0.05 / (len(CODES) - 1))
        probs[:, CODES.index("N")] = 0.95
        for i in range(4, n, 5):
            probs[i] = 0.45 / (len(CODES) - 1)
            probs[i, CODES.index("V")] = 0.55
        return probs


def stub_analyse(source, **kwargs):
    """Return ``ml.analyse`` of ``source`` with the stub classifier (no TensorFlow)."""
    from ml import analyse

    return analyse(source, classifier=StubClassifier(), **kwargs)


def slow_real_analyse(source, **kwargs):
    """Wait ECG_TEST_ANALYSE_DELAY seconds, then run the real ``ml.analyse`` (to kill a worker mid-task).

    The marker file ECG_TEST_STARTED_FILE, when set, is written when the task starts; with
    ECG_TEST_DELAY_ONCE only the first start waits.
    """
    from ml import analyse

    marker = os.environ.get("ECG_TEST_STARTED_FILE")
    started_before = bool(marker) and os.path.exists(marker)
    if marker:
        with open(marker, "a") as fh:
            fh.write(f"{os.getpid()}\n")
    if not (started_before and os.environ.get("ECG_TEST_DELAY_ONCE")):
        time.sleep(float(os.environ.get("ECG_TEST_ANALYSE_DELAY", "0")))
    return analyse(source, **kwargs)


def broken_analyse(source, **kwargs):
    raise RuntimeError("simulated bug in the analysis")


def slow_model_warmup():
    """Load the real model after ECG_TEST_LOAD_DELAY seconds: a child on a busy host (5-13 s seen)."""
    from ml import store

    time.sleep(float(os.environ.get("ECG_TEST_LOAD_DELAY", "8")))
    return store.get_classifier()


def nan_analyse(source, **kwargs):
    """Return the stub result with a NaN heart rate (what a broken gain once produced)."""
    result = stub_analyse(source, **kwargs)
    result.heart_rate_bpm = {**(result.heart_rate_bpm or {}), "mean": float("nan")}
    return result


def too_slow_analyse(source, **kwargs):
    """Behave as an analysis stopped by Celery's soft time limit."""
    from celery.exceptions import SoftTimeLimitExceeded

    raise SoftTimeLimitExceeded()


def slow_stub_analyse(source, **kwargs):
    """Wait ECG_TEST_ANALYSE_DELAY seconds (default 2), then return ``stub_analyse``."""
    time.sleep(float(os.environ.get("ECG_TEST_ANALYSE_DELAY", "2")))
    return stub_analyse(source, **kwargs)


SEEN_STAGES = []


def stage_spying_analyse(source, *, progress=None, **kwargs):
    """Run ``stub_analyse`` and record, after each reported stage, what the result page would show."""
    from predictions.models import Prediction
    from predictions.selectors import prediction_stage

    def spy(stage):
        progress(stage)
        SEEN_STAGES.append(prediction_stage(prediction=Prediction.objects.get(status="running")))

    return stub_analyse(source, progress=spy, **kwargs)
