"""Writes for ECG records and predictions. Every function is keyword-only and named <entity>_<action>.

Life of a prediction: ``prediction_request`` (pending, task sent on commit) -> ``prediction_start``
(running) -> ``prediction_complete`` | ``prediction_mark_inconclusive`` | ``prediction_fail``.
Each transition locks the row, so a redelivered or duplicated task finishes a prediction once.
"""

import io
import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerOperationalError

from notifications.services import prediction_finished_notify
from predictions.errors import UploadError
from predictions.models import BeatCount, ECGRecord, Prediction, PredictionImage, Review
from predictions.tasks import analyse_prediction as analyse_prediction_task
from predictions.validation import inspect_upload

logger = logging.getLogger(__name__)

# Sending a task failed because the broker (Redis) is unreachable.
BROKER_ERRORS = (BrokerOperationalError, ConnectionError, TimeoutError, OSError)


def _now():
    return timezone.now()


def _enqueue(prediction_id):
    """Send the analysis task for ``prediction_id`` (called after the transaction commits).

    When the broker is down the prediction stays pending, already saved; the stale sweep
    (``prediction_requeue_stale``) sends it once the broker is back. The upload never fails for it.
    """
    if settings.PREDICTIONS_IN_PROCESS_THREAD:
        _run_in_thread(prediction_id)
        return
    try:
        result = analyse_prediction_task.apply_async(args=[prediction_id])
    except BROKER_ERRORS:
        logger.warning("Broker unavailable: prediction %s stays pending until the sweep sends it", prediction_id,
                       exc_info=True)
        return
    Prediction.objects.filter(pk=prediction_id, status=Prediction.Status.PENDING).update(
        task_id=result.id or ""
    )


def _run_in_thread(prediction_id):
    """Run the analysis beside the web request (the embedded default, no broker): the upload
    answers at once and the result page follows the progress, as with a worker."""
    import threading

    from django.db import connections

    def run():
        try:
            analyse_prediction_task.apply(args=[prediction_id])
        finally:
            connections.close_all()  # this thread's own database connection

    threading.Thread(target=run, name=f"analyse-{prediction_id}", daemon=True).start()


def _delete_files(names):
    """Delete stored files, logging (not raising) when one is already gone."""
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:  # a missing file must not block deleting the rest
            logger.warning("Could not delete stored file %s", name, exc_info=True)


# --- records --------------------------------------------------------------------------------


def ecg_record_create(
    *, owner, files, recorded_on=None, lead="", sampling_rate=None, note="", request_prediction=True
):
    """Check the upload, store it privately, create the record and (by default) request a prediction.

    ``files`` is one uploaded file, or a WFDB header and its data file. Raise UploadError, storing
    nothing, when the upload is unusable.
    """
    inspected = inspect_upload(files, sampling_rate=sampling_rate, lead=lead)
    record = ECGRecord(
        owner=owner,
        original_filename=getattr(inspected.main, "name", "upload")[-255:],
        companion_filename=(getattr(inspected.companion, "name", "") or "")[-255:],
        input_kind=inspected.input_kind,
        file_format=inspected.file_format,
        size_bytes=inspected.size_bytes,
        sha256=inspected.sha256,
        recorded_on=recorded_on,
        lead=lead or "",
        sampling_rate=sampling_rate,
        note=note or "",
    )
    stored = []
    try:
        record.file.save("source", inspected.main, save=False)
        stored.append(record.file.name)
        if inspected.companion is not None:
            record.companion_file.save("source.dat", inspected.companion, save=False)
            stored.append(record.companion_file.name)
        record.full_clean()
        with transaction.atomic():
            record.save()
            if request_prediction:
                prediction_request(record=record)
    except ValidationError as exc:
        _delete_files(stored)
        raise UploadError("invalid_metadata", "; ".join(exc.messages), field="__all__") from None
    except BaseException:
        _delete_files(stored)
        raise
    return record


def ecg_record_delete(*, record):
    """Delete ``record``, its predictions, reviews and every stored file."""
    names = record.file_names()
    with transaction.atomic():
        record.delete()
        # Files go only once the rows are gone for good.
        transaction.on_commit(lambda: _delete_files(names))


def ecg_record_purge_for_user(*, user):
    """Delete every ECG record ``user`` owns, with their predictions and files (account deletion)."""
    count = 0
    for record in ECGRecord.objects.filter(owner=user):
        ecg_record_delete(record=record)
        count += 1
    return count


# --- predictions ----------------------------------------------------------------------------


def prediction_request(*, record):
    """Create the record's current Prediction (pending) and send it to a worker once committed."""
    now = _now()
    with transaction.atomic():
        ECGRecord.objects.select_for_update().filter(pk=record.pk).first()
        Prediction.objects.filter(record=record, is_current=True).update(is_current=False)
        prediction = Prediction.objects.create(record=record, created_at=now, queued_at=now)
        transaction.on_commit(lambda: _enqueue(prediction.pk), robust=True)
    return prediction


def prediction_rerun(*, record):
    """Analyse ``record`` again with the current model; the earlier result stays in its history."""
    current = record.current_prediction
    if current is not None and not current.is_finished:
        return current
    return prediction_request(record=record)


def prediction_start(*, prediction_id, task_id=""):
    """Mark the prediction running and return it; return None when there is nothing to do.

    Nothing to do: it is finished (a redelivered task after completion), it is being run by
    another live task, or it is gone (record deleted). A task redelivered after its worker died
    (same task id) takes the row over. Gives up (failed) after PREDICTIONS_MAX_ATTEMPTS starts.
    """
    now = _now()
    with transaction.atomic():
        prediction = Prediction.objects.select_for_update().filter(pk=prediction_id).first()
        if prediction is None or prediction.is_finished:
            return None
        if prediction.status == Prediction.Status.RUNNING and prediction.task_id != task_id:
            lost_after = timedelta(seconds=settings.PREDICTIONS_STALE_RUNNING_S)
            if prediction.started_at and prediction.started_at > now - lost_after:
                return None
        if prediction.attempts >= settings.PREDICTIONS_MAX_ATTEMPTS:
            _finish(
                prediction,
                status=Prediction.Status.FAILED,
                error_code="too_many_attempts",
                error_message="The analysis was interrupted too many times. Try re-running it later.",
            )
            return None
        prediction.status = Prediction.Status.RUNNING
        prediction.started_at = now
        prediction.attempts += 1
        if task_id:
            prediction.task_id = task_id
        prediction.save(update_fields=["status", "started_at", "attempts", "task_id"])
    return prediction


def prediction_report_stage(*, prediction_id, stage):
    """Record which step a running analysis is at (one UPDATE; the result page shows it)."""
    Prediction.objects.filter(pk=prediction_id, status=Prediction.Status.RUNNING).update(stage=stage)


def _finish(prediction, *, status, **fields):
    now = _now()
    prediction.status = status
    prediction.stage = ""
    prediction.finished_at = now
    if prediction.started_at is None or prediction.started_at > now:
        prediction.started_at = now
    for name, value in fields.items():
        setattr(prediction, name, value)
    prediction.full_clean(exclude=["record"])
    prediction.save()


def _lock_unfinished(prediction_id):
    prediction = Prediction.objects.select_for_update().filter(pk=prediction_id).first()
    if prediction is None or prediction.is_finished:
        return None
    return prediction


def prediction_complete(*, prediction_id, result, duration_ms=None):
    """Store a successful analysis: summary, per-beat arrays, class counts and images.

    ``result`` is an ``ml`` AnalysisResult. Return the prediction, or None when it was already
    finished (a duplicate delivery) or deleted meanwhile.
    """
    counts = {code: int(n) for code, n in (result.counts or {}).items() if int(n) > 0}
    beats = _compact_beats(result)
    summary = _summary(result.to_dict())  # the JSON form, without the per-beat arrays
    reading = result.assessment or {}
    # One heart rate everywhere: the assessment's (ml.assessment).
    hr = (reading.get("measurements") or {}).get("heart_rate_bpm")
    images = []
    with transaction.atomic():
        prediction = _lock_unfinished(prediction_id)
        if prediction is None:
            return None
        try:
            _save_signal(prediction, result)
            for rep in result.representatives:
                images.extend(_save_representative(prediction, rep))
            _finish(
                prediction,
                status=Prediction.Status.DONE,
                model_version=str(result.model_version or "unknown")[:64],
                summary=summary,
                assessment=reading,
                level=reading.get("level") or "",
                beats=beats,
                beat_total=len(beats["labels"]),
                heart_rate_bpm=float(hr) if hr is not None else None,
                confidence=_clip01(result.confidence),
                duration_ms=duration_ms,
            )
            BeatCount.objects.bulk_create(
                [BeatCount(prediction=prediction, code=code, count=n) for code, n in sorted(counts.items())]
            )
        except BaseException:
            _delete_files([img.file.name for img in images if img.file] + [prediction.signal.name] * bool(prediction.signal))
            raise
        transaction.on_commit(lambda: prediction_finished_notify(prediction_id=prediction.pk), robust=True)
    return prediction


def prediction_mark_inconclusive(*, prediction_id, reason, code="inconclusive", result=None, duration_ms=None):
    """Finish the prediction as inconclusive: the input could not be read as a usable ECG."""
    from ml.assessment import inconclusive

    data = result.to_dict() if result is not None else {}
    reason = (reason or "The ECG could not be read.")[:4000]
    reading = data.get("assessment") or {}
    if reading.get("level") != Prediction.Level.INCONCLUSIVE:
        reading = inconclusive(reason).to_dict()
    with transaction.atomic():
        prediction = _lock_unfinished(prediction_id)
        if prediction is None:
            return None
        _finish(
            prediction,
            status=Prediction.Status.INCONCLUSIVE,
            inconclusive_reason=reason,
            error_code=code or "inconclusive",
            model_version=str(data.get("model_version") or "")[:64],
            summary=_summary(data) if data else {},
            assessment=reading,
            level=Prediction.Level.INCONCLUSIVE,
            duration_ms=duration_ms,
        )
        transaction.on_commit(lambda: prediction_finished_notify(prediction_id=prediction.pk), robust=True)
    return prediction


def prediction_fail(*, prediction_id, code, message):
    """Finish the prediction as failed (our fault, not the input's) with a message for the user."""
    with transaction.atomic():
        prediction = _lock_unfinished(prediction_id)
        if prediction is None:
            return None
        _finish(prediction, status=Prediction.Status.FAILED, error_code=code[:64], error_message=message)
    return prediction


def prediction_requeue_stale(*, now=None):
    """Send again the predictions no worker is working on; return how many were sent.

    Stale: pending and not picked up for PREDICTIONS_STALE_PENDING_S (the message was lost), or
    running for longer than PREDICTIONS_STALE_RUNNING_S (its worker died).
    """
    now = now or _now()
    pending_before = now - timedelta(seconds=settings.PREDICTIONS_STALE_PENDING_S)
    running_before = now - timedelta(seconds=settings.PREDICTIONS_STALE_RUNNING_S)
    ids = []
    with transaction.atomic():
        stale = Prediction.objects.select_for_update(skip_locked=True).filter(
            Q(status=Prediction.Status.PENDING, queued_at__lt=pending_before)
            | Q(status=Prediction.Status.RUNNING, started_at__lt=running_before)
        )
        for prediction in stale:
            if prediction.attempts >= settings.PREDICTIONS_MAX_ATTEMPTS:
                _finish(
                    prediction,
                    status=Prediction.Status.FAILED,
                    error_code="too_many_attempts",
                    error_message="The analysis was interrupted too many times. Try re-running it later.",
                )
                continue
            prediction.status = Prediction.Status.PENDING
            prediction.started_at = None
            prediction.queued_at = now
            prediction.save(update_fields=["status", "started_at", "queued_at"])
            ids.append(prediction.pk)
        for pk in ids:
            transaction.on_commit(lambda pk=pk: _enqueue(pk), robust=True)
    if ids:
        logger.info("Re-queued %d stale prediction(s): %s", len(ids), ids)
    return len(ids)


# --- reviews ----------------------------------------------------------------------------------


def review_create(*, prediction, doctor, verdict, note="", beat_index=None, corrected_code=""):
    """Record a doctor's review of ``prediction``; the caller has checked the doctor may review."""
    if beat_index is not None and prediction.beat_total is not None and beat_index >= prediction.beat_total:
        raise ValidationError({"beat_index": f"This result has {prediction.beat_total} beats (0-{prediction.beat_total - 1})."})
    review = Review(
        prediction=prediction,
        doctor=doctor,
        doctor_name=(doctor.get_full_name() or doctor.email)[:200],
        verdict=verdict,
        note=note or "",
        beat_index=beat_index,
        corrected_code=corrected_code or "",
    )
    review.full_clean()
    review.save()
    return review


# --- helpers ----------------------------------------------------------------------------------

# Heavy arrays go to ``beats`` (compact) or an image, never into ``summary``.
_SUMMARY_SKIP = {"r_peaks", "labels", "probabilities", "trace", "beat_probabilities", "assessment"}


def _summary(data):
    return {k: v for k, v in data.items() if k not in _SUMMARY_SKIP}


def _clip01(value):
    if value is None:
        return None
    return min(1.0, max(0.0, float(value)))


def _compact_beats(result):
    """Return {r_peaks, labels, confidence}: one entry per beat, the probability of its chosen label."""
    return {
        "r_peaks": [int(x) for x in result.r_peaks],
        "labels": [str(x) for x in result.labels],
        "confidence": [round(float(max(p)), 4) for p in result.probabilities],  # each beat's class probabilities
    }


def _save_signal(prediction, result):
    """Store the filtered signal the trace viewer draws (float16 .npy); return True when stored."""
    import numpy as np

    signal = getattr(result, "signal", None)
    fs = getattr(result, "fs", None)
    if signal is None or not fs or len(signal) == 0:
        return False
    buffer = io.BytesIO()
    np.save(buffer, np.clip(np.nan_to_num(np.asarray(signal, dtype=np.float32)), -60000, 60000).astype(np.float16),
            allow_pickle=False)
    prediction.signal.save("signal.npy", ContentFile(buffer.getvalue()), save=False)
    prediction.signal_fs = float(fs)
    return True


def _save_image(prediction, *, kind, png, beat_index=None, code="", probability=None):
    image = PredictionImage(
        prediction=prediction, kind=kind, beat_index=beat_index, code=code or "", probability=probability
    )
    image.file.save(f"{kind}.png", ContentFile(png), save=False)
    image.save()
    return image


def _save_representative(prediction, rep):
    """Store a representative beat's spectral image and saliency overlay (``ml`` Representative)."""
    prob = _clip01(rep.probability) if rep.probability is not None else None
    saved = []
    for kind, png in ((PredictionImage.Kind.SPECTRAL, rep.spectral_png), (PredictionImage.Kind.SALIENCY, rep.saliency_png)):
        if png:
            saved.append(_save_image(prediction, kind=kind, png=png, beat_index=int(rep.beat_index),
                                     code=str(rep.label or ""), probability=prob))
    return saved


def pdf_report_bytes(*, record, prediction, user):
    """Return the PDF report of ``prediction`` (thin wrapper so views need no ReportLab import)."""
    from predictions.report import build_report

    buffer = io.BytesIO()
    build_report(buffer, record=record, prediction=prediction, viewer=user)
    return buffer.getvalue()
