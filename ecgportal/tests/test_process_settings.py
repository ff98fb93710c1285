"""Process-wide settings every portal process gets at import (ecgportal/__init__.py) and the
worker's imports before its fork (predictions.tasks.preimport): one thread each for the numeric
libraries, and nothing imported before the fork that makes forking unsafe."""

import os
import subprocess
import sys

from django.conf import settings

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(code, **env):
    full = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    full.update(DJANGO_SETTINGS_MODULE="ecgportal.settings.test", TF_CPP_MIN_LOG_LEVEL="3", **env)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=full, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip().splitlines()[-1]


def test_importing_the_portal_sets_one_blas_thread_unless_the_deployment_says_otherwise():
    code = "import ecgportal, os; print(os.environ['OPENBLAS_NUM_THREADS'], os.environ['OMP_NUM_THREADS'])"
    assert _run(code) == "1 1"
    assert _run(code, OPENBLAS_NUM_THREADS="4") == "4 1"


def test_the_worker_s_imports_before_the_fork_start_no_thread_and_no_tensorflow_context():
    """What the Celery main process imports before forking (PREDICTIONS_WORKER_PREIMPORT) must
    leave it with one thread and no TensorFlow runtime: a thread or a context would not survive
    the fork into the children."""
    modules = settings.PREDICTIONS_WORKER_PREIMPORT
    assert "keras" in modules  # TensorFlow comes with it: the import the children no longer repeat
    code = (
        "import django, importlib, os, sys; django.setup();"
        f"[importlib.import_module(m) for m in {list(modules)!r}];"
        "from tensorflow.python.eager import context;"
        "print(len(os.listdir('/proc/self/task')), context.context()._initialized, 'tensorflow' in sys.modules)"
    )
    assert _run(code) == "1 False True"


def test_a_module_that_fails_to_import_before_the_fork_is_logged_not_fatal(settings, caplog, monkeypatch):
    import gc

    from predictions import tasks

    frozen = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))  # not this test process's objects
    settings.PREDICTIONS_WORKER_PREIMPORT = ["json", "no_such_module_here"]
    tasks.preimport()
    assert "no_such_module_here" in caplog.text and "json" in sys.modules
    assert frozen == [True]  # what was imported is kept out of the children's collections
