"""A stand-in analysis the recovery tests point a real worker at (PREDICTIONS_ANALYSER)."""

import os
import time

from predictions.tests.fakes import stub_analyse


def held_stub_analyse(source, **kwargs):
    """Note this process's pid in ECG_TEST_STARTED_FILE, wait while ECG_TEST_HOLD_FILE exists, then
    return ``stub_analyse``: the test kills the worker while the analysis is held."""
    started = os.environ.get("ECG_TEST_STARTED_FILE")
    if started:
        with open(started, "a") as fh:
            fh.write(f"{os.getpid()}\n")
    hold = os.environ.get("ECG_TEST_HOLD_FILE")
    while hold and os.path.exists(hold):
        time.sleep(0.1)
    return stub_analyse(source, **kwargs)
