"""Writes for ECG records and predictions. Every function is keyword-only and named <entity>_<action>.

Life of a prediction: ``prediction_request`` (pending, task sent on commit) -> ``prediction_start``
(running) -> ``prediction_complete`` | ``prediction_mark_inconclusive`` | ``prediction_fail``.
Each transition locks the row, so a redelivered or duplicated task finishes a prediction once.
"""

import io
import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerOperationalError

from ecgportal.celery import task
from ml.assessment import with_symptoms
from notifications.services import prediction_finished_notify
from predictions import claims
from predictions.errors import UploadError
from predictions.models import (STAGE_NEWS, STATUS_NEWS, BeatCount, ECGRecord, Prediction, PredictionImage, Review,
                                stage_cache_key, status_channel)
from predictions.validation import inspect_upload

logger = logging.getLogger(__name__)

ANALYSE_TASK = "predictions.analyse"  # predictions.tasks.analyse_prediction, sent by name

# Sending a task failed because the broker (Redis) is unreachable.
BROKER_ERRORS = (BrokerOperationalError, ConnectionError, TimeoutError, OSError)


def _now():
    return timezone.now()


_task_lookup = threading.Lock()


def _analyse_task():
    """Return the analysis task. The first lookup in a web process imports the apps' tasks
    modules (``ecgportal.celery.task``); two threads of a gthread worker doing that at once had
    the second find the task not yet registered (NotRegistered: the upload stayed unsent until the
    sweep), so lookups go one at a time; after the first it is a dict lookup under a free lock."""
    with _task_lookup:
        return task(ANALYSE_TASK)


def _enqueue(prediction_id):
    """Send the analysis task for ``prediction_id`` (called after the transaction commits).

    When the broker is down the prediction stays pending without a task id, already saved; the
    sweep (``prediction_requeue_stale``, every few seconds) sends it once the broker is back. The
    upload never fails for it.
    """
    if settings.PREDICTIONS_IN_PROCESS_THREAD:
        _run_in_thread(prediction_id)
        return
    try:
        result = _analyse_task().apply_async(args=[prediction_id])
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
            _analyse_task().apply(args=[prediction_id])
        finally:
            connections.close_all()  # this thread's own database connection

    threading.Thread(target=run, name=f"analyse-{prediction_id}", daemon=True).start()


def _publish_change(prediction_id, news=STATUS_NEWS):
    """Tell the status reads waiting on this prediction (``selectors.prediction_wait``) that its
    status (``STATUS_NEWS``) or only its stage (``STAGE_NEWS``) changed. Best effort: without
    Redis they find out from the database."""
    from predictions.selectors import status_redis

    client = status_redis()
    if client is None:
        return
    try:
        client.publish(status_channel(prediction_id), news)
    except Exception:
        logger.warning("Could not publish the status change of prediction %s", prediction_id, exc_info=True)


def _publish_on_commit(prediction_id):
    transaction.on_commit(lambda: _publish_change(prediction_id), robust=True)


def _delete_files(names):
    """Delete stored files, logging (not raising) when one is already gone."""
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:  # a missing file must not block deleting the rest
            logger.warning("Could not delete stored file %s", name, exc_info=True)


# --- records --------------------------------------------------------------------------------


def ecg_record_create(
    *, owner, files, recorded_on=None, lead="", sampling_rate=None, note="", symptoms=(), corners=None,
    request_prediction=True
):
    """Check the upload, store it privately, create the record and (by default) request a prediction.

    ``files`` is one uploaded file, or a WFDB header and its data file; ``symptoms`` are keys of
    ``ml.assessment.SYMPTOMS``; ``corners`` a picture's page corners from the crop step
    (``predictions.forms.parse_corners``), ignored for a signal file. Return the new record,
    holding its owner and current prediction (an answer needs no second read), or the earlier
    record of the same file (``was_duplicate``). Raise UploadError, storing nothing, when the
    upload is unusable.
    """
    from ml.assessment import SYMPTOMS

    if set(symptoms or ()) - set(SYMPTOMS):
        raise UploadError("invalid_metadata", f"Unknown symptom; choose from: {', '.join(SYMPTOMS)}.", field="symptoms")
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
        symptoms=[key for key in SYMPTOMS if key in set(symptoms or ())],
        page_corners=corners if corners and inspected.input_kind == ECGRecord.InputKind.IMAGE else None,
    )
    stored = []
    try:
        record.file.save("source", inspected.main, save=False)
        stored.append(record.file.name)
        if inspected.companion is not None:
            record.companion_file.save("source.dat", inspected.companion, save=False)
            stored.append(record.companion_file.name)
        # Fields and clean() are checked here; the table's constraints by PostgreSQL on INSERT
        # (not re-queried one SELECT each beforehand), their refusal worded as full_clean would.
        record.full_clean(validate_unique=False, validate_constraints=False)
        with transaction.atomic():
            duplicate = _recent_duplicate(owner=owner, sha256=record.sha256)
            if duplicate is not None:
                _delete_files(stored)
                duplicate.was_duplicate = True
                return duplicate
            record.save(force_insert=True)
            if request_prediction:
                _prediction_create(record=record, new_record=True)
    except ValidationError as exc:
        _delete_files(stored)
        raise UploadError("invalid_metadata", "; ".join(exc.messages), field="__all__") from None
    except IntegrityError as exc:
        _delete_files(stored)
        message = constraint_message(ECGRecord, exc)
        if message is None:
            raise
        raise UploadError("invalid_metadata", message, field="__all__") from None
    except BaseException:
        _delete_files(stored)
        raise
    return record


def constraint_message(model, exc):
    """Return the message of the ``model`` constraint an IntegrityError ``exc`` names (the one
    ``full_clean`` would have given for it), or None when it names none of them."""
    text = str(getattr(exc, "__cause__", None) or exc)
    for constraint in model._meta.constraints:
        if f'"{constraint.name}"' in text:
            return constraint.get_violation_error_message()
    return None


# The same file uploaded again by the same person within this many seconds (a double click, a
# retried request, a script sending it twice) is the same ECG: the earlier record is returned.
DUPLICATE_WINDOW_S = 60


def _recent_duplicate(*, owner, sha256):
    """Return ``owner``'s record of the same main file uploaded in the last DUPLICATE_WINDOW_S, or
    None. Locks the owner's row first, so uploads arriving together are checked one after another."""
    from accounts.models import User

    User.objects.select_for_update().filter(pk=owner.pk).first()
    since = _now() - timedelta(seconds=DUPLICATE_WINDOW_S)
    return ECGRecord.objects.filter(owner=owner, sha256=sha256, created_at__gte=since).order_by("created_at").first()


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
    return _prediction_create(record=record)


def _prediction_create(*, record, new_record=False):
    """Create ``record``'s current prediction; the task is sent once the transaction commits.

    ``new_record``: the record was inserted in this transaction, so no other prediction of it
    exists and no one else can see it yet: no lock and no UPDATE of the earlier current one (the
    database's one-current-per-record constraint still holds either way).
    """
    now = _now()
    with transaction.atomic(savepoint=not new_record):
        if not new_record:
            ECGRecord.objects.select_for_update().filter(pk=record.pk).first()
            Prediction.objects.filter(record=record, is_current=True).update(is_current=False)
        prediction = Prediction.objects.create(record=record, created_at=now, queued_at=now)
        transaction.on_commit(lambda: _enqueue(prediction.pk), robust=True)
    record.current = [prediction]  # what ``record.current_prediction`` returns now, without a query
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
        # The record and its owner come with the row (the task reads both); only the row is locked.
        prediction = (Prediction.objects.select_for_update(of=("self",)).select_related("record__owner")
                      .filter(pk=prediction_id).first())
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
        _publish_on_commit(prediction.pk)
    return prediction


def prediction_report_stage(*, prediction_id, stage):
    """Record which step a running analysis is at, in the cache (Redis), not the row: the result
    page shows it (``selectors.prediction_current``), and a progress note is not worth a write to
    the database per step. Lost with Redis, it costs only the progress bar's step."""
    from django.core.cache import cache

    cache.set(stage_cache_key(prediction_id), str(stage), timeout=settings.CELERY_TASK_TIME_LIMIT + 60)
    _publish_change(prediction_id, STAGE_NEWS)


def _finish(prediction, *, status, **fields):
    now = _now()
    prediction.status = status
    prediction.finished_at = now
    if prediction.started_at is None or prediction.started_at > now:
        prediction.started_at = now
    for name, value in fields.items():
        setattr(prediction, name, value)
    # Each field checked here; the table's constraints by PostgreSQL on the UPDATE (a refusal is
    # an IntegrityError, which the task reports as an unsavable result), not re-queried first.
    prediction.full_clean(exclude=["record"], validate_unique=False, validate_constraints=False)
    prediction.save()
    _publish_on_commit(prediction.pk)


def _lock_unfinished(prediction_id):
    prediction = (Prediction.objects.select_for_update(of=("self",)).select_related("record")
                  .filter(pk=prediction_id).first())
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
        reading = with_symptoms(reading, prediction.record.symptoms)
        try:
            _save_signal(prediction, result)
            for rep in result.representatives:
                images.extend(_save_representative(prediction, rep))
            PredictionImage.objects.bulk_create(images)  # one INSERT for every image
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
            _delete_files([img.file.name for img in images if img.file] + [prediction.signal.name] * bool(prediction.signal)
                          + [prediction.leads_signal.name] * bool(prediction.leads_signal))
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
        reading = with_symptoms(reading, prediction.record.symptoms)
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

    Unsent: pending without a task id for PREDICTIONS_UNSENT_RETRY_S (the broker was down when it
    was sent). Lost: pending and not picked up for PREDICTIONS_STALE_PENDING_S (the message was
    lost). Orphaned: running while no worker holds its claim (``predictions.claims``: its worker
    died); where the database cannot tell, running for longer than PREDICTIONS_STALE_RUNNING_S.
    """
    now = now or _now()
    unsent_before = now - timedelta(seconds=settings.PREDICTIONS_UNSENT_RETRY_S)
    pending_before = now - timedelta(seconds=settings.PREDICTIONS_STALE_PENDING_S)
    running_before = now - timedelta(seconds=settings.PREDICTIONS_STALE_RUNNING_S)
    ids = []
    with transaction.atomic():
        stale = list(Prediction.objects.select_for_update(skip_locked=True).filter(
            Q(status=Prediction.Status.PENDING, task_id="", queued_at__lt=unsent_before)
            | Q(status=Prediction.Status.PENDING, queued_at__lt=pending_before)
            | Q(status=Prediction.Status.RUNNING)
        ))
        claimed = claims.claimed_ids()  # read once the rows are locked: a task claims before it starts
        for prediction in stale:
            if prediction.status == Prediction.Status.RUNNING and (
                claims.is_claimed(prediction.pk, claimed) if claimed is not None
                else prediction.started_at >= running_before
            ):
                continue
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
            prediction.task_id = ""  # unsent until _enqueue records the new message
            prediction.save(update_fields=["status", "started_at", "queued_at", "task_id"])
            _publish_on_commit(prediction.pk)
            ids.append(prediction.pk)
        for pk in ids:
            transaction.on_commit(lambda pk=pk: _enqueue(pk), robust=True)
    if ids:
        logger.info("Re-queued %d stale prediction(s): %s", len(ids), ids)
    return len(ids)


# --- reviews ----------------------------------------------------------------------------------


def review_create(*, prediction, doctor, verdict, note="", beat_indices=(), corrected_code="",
                  finding_decisions=None, rhythm="", added_findings=(), complete=False):
    """Record a doctor's review of ``prediction`` and apply it to the reading every surface
    shows (see ``reading_apply_reviews``); the caller has checked the doctor may review."""
    from ml import assessment as clinical

    total = prediction.beat_total or 0
    indices = sorted({int(i) for i in beat_indices or ()})
    outside = [i for i in indices if not 0 <= i < total]
    if outside:
        raise ValidationError({"beat_indices": f"This result has {total} beats (1-{total}); "
                                               f"there is no beat {outside[0] + 1}."})
    keys = {clinical.Finding.from_dict(f).key for f in (prediction.assessment or {}).get("findings") or []}
    unknown = sorted(set(finding_decisions or {}) - keys)
    if unknown or set((finding_decisions or {}).values()) - {"confirmed", "rejected"}:
        raise ValidationError({"finding_decisions": "Confirm or reject the findings of this reading only "
                                                    f"(unknown: {', '.join(unknown) or 'decision'})."})
    names = dict(clinical.CLINICIAN_FINDINGS)
    if rhythm and rhythm not in dict(clinical.CLINICIAN_RHYTHMS):
        raise ValidationError({"rhythm": "Choose a rhythm from the list."})
    if set(added_findings or ()) - set(names):
        raise ValidationError({"added_findings": "Choose findings from the list."})
    review = Review(
        prediction=prediction,
        doctor=doctor,
        doctor_name=(doctor.get_full_name() or doctor.email)[:200],
        verdict=verdict,
        note=note or "",
        beat_indices=indices,
        corrected_code=corrected_code or "",
        finding_decisions=dict(finding_decisions or {}),
        rhythm=rhythm or "",
        added_findings=list(dict.fromkeys(added_findings or ())),
        complete=bool(complete),
    )
    review.full_clean()
    with transaction.atomic():
        locked = Prediction.objects.select_for_update().get(pk=prediction.pk)
        review.prediction = locked
        review.save()
        reading_apply_reviews(prediction=locked)
    prediction.refresh_from_db()
    return review


def reading_apply_reviews(*, prediction):
    """Derive the reading of ``prediction`` from the model's and every review, oldest first (a
    later decision on the same beat or finding wins), and store it where every surface reads it:
    ``assessment``, ``level``, the beat labels and the class counts. The model's own reading goes
    to ``model_reading`` the first time, and stays there. Call inside a transaction holding the row."""
    from collections import Counter

    from ml import assessment as clinical

    reviews = list(prediction.reviews.order_by("created_at", "id"))
    if not reviews:
        return prediction
    beats = dict(prediction.beats or {})
    original = prediction.model_reading or {
        "assessment": prediction.assessment,
        "labels": list(beats.get("labels") or []),
        "counts": {c.code: c.count for c in prediction.beat_counts.all()},
    }
    labels = list(original["labels"])
    decisions, rhythm, added, complete, relabelled = {}, "", [], False, set()
    for review in reviews:
        for i in review.beat_indices:
            if i < len(labels):
                labels[i] = review.corrected_code
                relabelled.add(i)
        decisions.update(review.finding_decisions)
        rhythm = review.rhythm or rhythm
        added += review.added_findings
        complete = complete or review.complete
    counts = {code: n for code, n in Counter(labels).items() if n} if relabelled else None
    events = _events_of(prediction, labels, relabelled) if relabelled else None
    summary = prediction.summary or {}
    reading = clinical.revise(
        original["assessment"], counts=counts, events=events, lead=summary.get("lead") or prediction.record.lead,
        decisions=decisions, rhythm=rhythm, added=added, complete=complete, reviewer=reviews[-1].doctor_name,
    )
    beats["labels"] = labels
    beats["corrected"] = sorted(i for i in relabelled if labels[i] != original["labels"][i])
    prediction.model_reading = original
    prediction.assessment = reading
    prediction.level = reading["level"] if prediction.status == Prediction.Status.DONE else Prediction.Level.INCONCLUSIVE
    prediction.beats = beats
    prediction.reviewed_at = _now()
    prediction.reviewed_by = reviews[-1].doctor_name
    prediction.save(update_fields=["model_reading", "assessment", "level", "beats", "reviewed_at", "reviewed_by"])
    if relabelled:
        prediction.beat_counts.all().delete()
        BeatCount.objects.bulk_create(
            [BeatCount(prediction=prediction, code=code, count=n) for code, n in sorted(Counter(labels).items()) if n]
        )
    return prediction


def _events_of(prediction, labels, doctor_labelled):
    """Return the events (``ml.events``) of the corrected beats; a beat a doctor labelled is sure."""
    from ml.analysis import LOW_CONFIDENCE
    from ml.events import find_events
    from predictions.selectors import prediction_signal

    stored = prediction_signal(prediction=prediction)
    if stored is None:
        return None
    signal, fs = stored
    beats = prediction.beats or {}
    confidence = [1.0 if i in doctor_labelled else c for i, c in enumerate(beats.get("confidence") or [])]
    return find_events(beats.get("r_peaks") or [], labels, fs, signal=signal, confidence=confidence or None,
                       unsure_below=LOW_CONFIDENCE, duration_s=len(signal) / fs)


# --- sharing ----------------------------------------------------------------------------------


def sha256_text(text):
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def share_link_create(*, owner, records, label="", days=None, with_code=False):
    """Create a link to ``records`` (the owner's finished results) for a clinician without an
    account. Return ``(link, token, code)``: the token (in the URL) and the code (or "") exist only
    here; the database keeps their hashes."""
    import secrets

    from predictions.models import ShareLink

    days = ShareLink.DEFAULT_DAYS if days is None else int(days)
    if not 1 <= days <= ShareLink.MAX_DAYS:
        raise ValidationError({"days": f"A link lasts 1 to {ShareLink.MAX_DAYS} days."})
    records = list(records)
    if not records or any(r.owner_id != owner.pk for r in records):
        raise ValidationError({"records": "Choose at least one of your own ECGs."})
    token = secrets.token_urlsafe(32)
    code = f"{secrets.randbelow(10**6):06d}" if with_code else ""
    now = _now()
    with transaction.atomic():
        link = ShareLink.objects.create(owner=owner, label=(label or "")[:120], token_hash=sha256_text(token),
                                        code_hash=sha256_text(code) if code else "", created_at=now,
                                        expires_at=now + timedelta(days=days))
        link.records.set(records)
    return link, token, code


def share_link_revoke(*, owner, link_uuid):
    """Revoke one of ``owner``'s links (a link of someone else's does not exist for them)."""
    from predictions.models import ShareLink

    updated = ShareLink.objects.filter(owner=owner, uuid=link_uuid, revoked_at__isnull=True).update(revoked_at=_now())
    if not updated and not ShareLink.objects.filter(owner=owner, uuid=link_uuid).exists():
        raise ShareLink.DoesNotExist
    return updated


def share_link_open(*, token, code=None, code_checked=False):
    """Return the usable link of ``token`` and count the open; raise ``ShareLink.DoesNotExist``
    for an unknown, expired or revoked one. When the link asks for a code not yet checked
    (``code_checked``), raise ``PermissionError`` unless ``code`` is right (a wrong one counts
    toward the link's limit)."""
    import hmac

    from django.db.models import F

    from predictions.models import ShareLink

    link = ShareLink.objects.filter(token_hash=sha256_text(token or "")).first()
    if link is None or not link.is_usable:
        raise ShareLink.DoesNotExist
    if link.code_hash and not code_checked:
        if code is None:
            raise PermissionError("code needed")
        if not hmac.compare_digest(link.code_hash, sha256_text(code.strip())):
            ShareLink.objects.filter(pk=link.pk).update(failed_attempts=F("failed_attempts") + 1)
            raise PermissionError("wrong code")
    ShareLink.objects.filter(pk=link.pk).update(opened_count=F("opened_count") + 1, last_opened_at=_now())
    return link


def ecg_record_share(*, owner, record, link_ids):
    """Share ``record`` with exactly the doctors of ``link_ids`` among ``owner``'s active links
    that see only chosen ECGs (links that see all ECGs need nothing); each change is audited."""
    from accounts.models import CareLink
    from accounts.permissions import record_access

    if record.owner_id != owner.pk:
        raise ValidationError("Only the patient shares their ECGs.")
    chosen = CareLink.objects.filter(patient=owner, status=CareLink.Status.ACTIVE, scope=CareLink.Scope.CHOSEN)
    wanted = set(chosen.filter(pk__in=[int(i) for i in link_ids]).values_list("pk", flat=True))
    with transaction.atomic():
        current = set(record.shared_in.filter(pk__in=chosen).values_list("pk", flat=True))
        record.shared_in.add(*(wanted - current))
        record.shared_in.remove(*(current - wanted))
        for pk, action in [(pk, "share") for pk in wanted - current] + [(pk, "revoke") for pk in current - wanted]:
            record_access(actor=owner, patient=owner, action=action, obj=record, object_type="record_share",
                          object_id=f"{record.uuid}:{pk}")
    return wanted


def report_email(*, record, prediction, user, to):
    """Email the PDF report of ``prediction`` to ``to`` (the patient sends it to their clinic)."""
    from django.core.mail import EmailMessage

    body = (f"{user.get_full_name() or user.email} sent you the report of an ECG analysed by the ECG Portal "
            f"({record.original_filename}, {timezone.localtime(record.created_at):%d %b %Y}). The PDF is attached. "
            "It is an automated screening, not a diagnosis.")
    message = EmailMessage("An ECG report from the ECG Portal", body, settings.DEFAULT_FROM_EMAIL, [to],
                           reply_to=[user.email])
    message.attach(f"ecg-report-{record.uuid.hex[:8]}.pdf", pdf_report_bytes(record=record, prediction=prediction, user=user),
                   "application/pdf")
    message.send()


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
    leads = getattr(result, "leads", None)
    names = getattr(result, "lead_names", None) or []
    if leads and len(names) > 1 and all(len(leads[name]) == len(signal) for name in names):
        stacked = np.stack([np.asarray(leads[name], dtype=np.float32) for name in names])
        buffer = io.BytesIO()
        np.save(buffer, np.clip(stacked, -60000, 60000).astype(np.float16), allow_pickle=False)  # NaN kept: no trace there
        prediction.leads_signal.save("leads.npy", ContentFile(buffer.getvalue()), save=False)
    return True


def _save_image(prediction, *, kind, png, beat_index=None, code="", probability=None):
    image = PredictionImage(
        prediction=prediction, kind=kind, beat_index=beat_index, code=code or "", probability=probability
    )
    image.file.save(f"{kind}.png", ContentFile(png), save=False)
    return image  # the caller inserts the rows together


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
