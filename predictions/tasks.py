"""Celery tasks: analyse one prediction's ECG; re-queue stale predictions.

Thin by design: load the row, call ``ml``, save through a service. The worker's main process
imports TensorFlow and Keras before it forks (``worker_init``: imports only, so the children share
them instead of each importing its own); the models are loaded once per worker child
(``worker_process_init``), never in the parent before the fork. The web never imports them.
"""

import logging
import shutil
import tempfile
import threading
import time
from pathlib import Path

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_init, worker_process_init, worker_ready
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, InterfaceError, OperationalError
from django.utils.module_loading import import_string

from ml.errors import ECGInputError
from predictions.claims import analysis_claim
from predictions.files import readable_path
from predictions.models import Prediction

logger = logging.getLogger(__name__)

# Worth another try: the database or broker blinked, a file store timed out.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, ConnectionError, TimeoutError)
# Never worth another try: the database (or a model constraint) refuses what would be saved.
UNSAVABLE_ERRORS = (DataError, IntegrityError, ValidationError)


def get_analyser():
    """Return the analysis function (``ml.analyse`` unless settings name another)."""
    return import_string(settings.PREDICTIONS_ANALYSER)


@worker_init.connect
def preimport(**kwargs):
    """Import ``PREDICTIONS_WORKER_PREIMPORT`` (TensorFlow through Keras, the analysis) in the
    worker's main process, before its pool forks.

    Each child used to import TensorFlow itself: two children on two cores took the same 5-7 s of
    CPU twice at every start, and each held its own copy of the modules' memory. Importing starts
    no thread (one BLAS thread a process, ``ecgportal/__init__.py``) and creates no TensorFlow
    context, so forking afterwards is safe; loading a model is not, and stays in the child. The
    imported objects are then frozen out of the garbage collector, whose passes in the children
    would otherwise write to (and so copy) the pages they share. Measured with 2 children after 40
    uploads, the worker's three processes' PSS: 1,110 MiB with each child importing its own,
    1,006 imported here, 921-935 imported here and frozen. A module that fails to import here is
    logged and left to the child, which reports it on its first task.
    """
    import gc
    import importlib

    started = time.monotonic()
    names = [name for name in settings.PREDICTIONS_WORKER_PREIMPORT if name]
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:
            logger.exception("Could not import %s before forking the worker's children", name)
    gc.collect()
    gc.freeze()  # the children's collections leave these objects, and the pages they share, alone
    logger.info("Imported %s before the fork in %d ms", ", ".join(names) or "nothing", _ms(started))


@worker_process_init.connect
def warm_model(**kwargs):
    """Start loading the model in this worker child, in the background, once, after the fork.

    Celery kills a child that has not reported up within ``worker_proc_alive_timeout``, and
    this signal runs before the child reports: loading TensorFlow and the model here (5-13 s on
    a busy host) would have every replacement child killed, forever. So the child reports up at
    once; the load runs in a thread, and the first task waits for it on the store's lock.
    """
    thread = threading.Thread(target=_load_model, name="ecg-model-warmup", daemon=True)
    thread.start()
    return thread


def _load_model():
    try:
        started = time.monotonic()
        classifier = import_string(settings.PREDICTIONS_MODEL_WARMUP)()
        logger.info("ECG model %s loaded in worker child in %d ms", classifier.version, _ms(started))
    except Exception:  # the first task reports a broken model; the child must still start
        logger.exception("Could not preload the ECG model in this worker child")


@worker_ready.connect
def sweep_on_start(sender=None, **kwargs):
    """Re-queue predictions a previous worker left behind (runs in a child, not the parent), and
    remove the temporary folders of analyses killed mid-way."""
    remove_stale_temp_dirs()
    requeue_stale.delay()


@shared_task(
    bind=True,
    name="predictions.analyse",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=3,
)
def analyse_prediction(self, prediction_id):
    """Analyse the ECG of prediction ``prediction_id`` and store the outcome; safe to run twice.

    claim -> start -> open -> analyse -> complete. The claim (predictions.claims) tells the sweep
    a live worker is on it, and skips a second delivery while the first still runs. Every
    outcome, saving included, ends the prediction: a value the database refuses fails it at once
    with a reason instead of leaving it "running".
    """
    with analysis_claim(prediction_id) as claimed:
        if not claimed:
            return "skipped"
        return _analyse(self, prediction_id)


def _analyse(task, prediction_id):
    from predictions import services  # loaded with Django's apps, after this module

    prediction = services.prediction_start(prediction_id=prediction_id, task_id=task.request.id or "")
    if prediction is None:
        return "skipped"
    record = prediction.record  # loaded with its owner by prediction_start
    started = time.monotonic()
    try:
        owner = record.owner

        def analyse(path):
            return get_analyser()(
                path, fs=record.sampling_rate, lead=record.lead or None, filename=record.original_filename,
                progress=lambda stage: services.prediction_report_stage(prediction_id=prediction_id, stage=stage),
                sex=owner.sex or None, age=owner.age_on(record.recorded_on or record.created_at.date()),
                corners=record.page_corners,
            )

        with readable_path(record) as path:  # the stored file itself when on this disk, else a copy
            result = analyse(path)
        services.prediction_report_stage(prediction_id=prediction_id, stage=Prediction.Stage.SAVING)
        if result.status != "ok":
            services.prediction_mark_inconclusive(
                prediction_id=prediction_id, reason=result.reason, result=result, duration_ms=_ms(started)
            )
            return "inconclusive"
        # No trace picture here: the page draws the stored signal, the PDF draws it on demand.
        services.prediction_complete(prediction_id=prediction_id, result=result, duration_ms=_ms(started))
        return Prediction.Status.DONE
    except ECGInputError as exc:
        # Not our fault: the file is not a usable ECG. Say why, do not retry.
        services.prediction_mark_inconclusive(
            prediction_id=prediction_id, reason=str(exc), code=exc.code, duration_ms=_ms(started)
        )
        return "inconclusive"
    except SoftTimeLimitExceeded:
        # The whole file is read here, not in the web request: one too large to read in time is
        # the input's limit, said plainly, not a crash.
        services.prediction_mark_inconclusive(
            prediction_id=prediction_id,
            code="too_large",
            reason=(
                f"Too large to read: reading and analysing this file took more than "
                f"{settings.CELERY_TASK_SOFT_TIME_LIMIT} s and was stopped. Upload a shorter excerpt "
                "(up to a few hours of signal) or a smaller picture."
            ),
            duration_ms=_ms(started),
        )
        return "inconclusive"
    except TRANSIENT_ERRORS:
        if task.request.retries >= task.max_retries:
            services.prediction_fail(
                prediction_id=prediction_id, code="unavailable", message="A service was unavailable. Try re-running."
            )
            return "failed"
        raise
    except UNSAVABLE_ERRORS:
        logger.exception("The result of prediction %s could not be saved", prediction_id)
        services.prediction_fail(
            prediction_id=prediction_id,
            code="unsavable_result",
            message="The analysis produced values that could not be stored. Try re-running it later.",
        )
        return "failed"
    except Exception:
        logger.exception("Analysis of prediction %s failed", prediction_id)
        services.prediction_fail(
            prediction_id=prediction_id,
            code="internal_error",
            message="The analysis failed because of an error on our side. Try re-running it later.",
        )
        return "failed"


@shared_task(name="predictions.requeue_stale", ignore_result=True)
def requeue_stale():
    """Send again the predictions no worker is working on: unsent, lost or orphaned (celery beat
    runs it every few seconds; see ``services.prediction_requeue_stale``)."""
    from predictions import services

    return services.prediction_requeue_stale()


def remove_stale_temp_dirs(*, older_than_s=None, root=None):
    """Delete ``ecg-*`` temporary folders older than the task's hard time limit; return how many.

    A killed analysis cannot clean up after itself. No task runs longer than the hard limit, so
    an older folder belongs to no running task, whichever worker on this host made it.
    """
    limit = older_than_s if older_than_s is not None else settings.CELERY_TASK_TIME_LIMIT + 60
    root = Path(root or tempfile.gettempdir())
    removed = 0
    for folder in root.glob("ecg-*"):
        try:
            if folder.is_dir() and not folder.is_symlink() and time.time() - folder.stat().st_mtime > limit:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        except OSError:
            continue
    if removed:
        logger.info("Removed %d temporary folder(s) left by killed analyses", removed)
    return removed


def _ms(started):
    return int((time.monotonic() - started) * 1000)
