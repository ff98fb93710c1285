"""Reads of ECG records and predictions, always scoped by the user who asks.

A record someone may not see does not exist for them: getters raise ``DoesNotExist`` (views turn
it into a 404), lists simply leave it out.
"""

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, Subquery, prefetch_related_objects

from accounts.models import User
from articles.selectors import article_links_for_codes
from ml import assessment as clinical
from ml.classes import BY_CODE, CODES
from accounts import rules
from predictions import plain_language
from predictions.models import (STAGE_NEWS, ECGRecord, Prediction, PredictionImage, Review, stage_cache_key,
                                status_channel)


def _with_current(queryset, *, counts=True):
    current = Prediction.objects.filter(is_current=True)
    if counts:
        current = current.prefetch_related("beat_counts")
    return queryset.select_related("owner").prefetch_related(Prefetch("predictions", queryset=current, to_attr="current"))


def ecg_record_list(*, user, filters=None, patient=None):
    """Return ``patient``'s records (default: the user's own), newest first, filtered.

    ``filters`` keys (all optional): ``status``, ``level`` (of the reading), ``code`` (a beat class found), ``date_from``,
    ``date_to`` (upload date), ``q`` (search in the note and file name). A patient the user may
    not see yields no records.
    """
    patient = patient or user
    if not rules.can_view_patient(viewer=user, patient=patient):
        return ECGRecord.objects.none()
    records = rules.visible_records(viewer=user, records=ECGRecord.objects.filter(owner=patient)).select_related("owner")
    filters = filters or {}
    status = filters.get("status")
    if status:
        records = records.filter(predictions__is_current=True, predictions__status=status)
    level = filters.get("level")
    if level:
        records = records.filter(predictions__is_current=True, predictions__level=level)
    code = filters.get("code")
    if code:
        records = records.filter(
            predictions__is_current=True, predictions__beat_counts__code=code, predictions__beat_counts__count__gt=0
        )
    if filters.get("date_from"):
        records = records.filter(created_at__date__gte=filters["date_from"])
    if filters.get("date_to"):
        records = records.filter(created_at__date__lte=filters["date_to"])
    q = (filters.get("q") or "").strip()
    if q:
        records = records.filter(Q(note__icontains=q) | Q(original_filename__icontains=q))
    return _with_current(records.distinct()).order_by("-created_at", "-id")


def ecg_record_get(*, user, uuid, counts=True):
    """Return the record ``uuid`` if ``user`` may see it; raise ECGRecord.DoesNotExist otherwise.

    Its current prediction comes with it (``current``), with its beat counts unless ``counts`` is
    False (a status read shows none: one query fewer on every poll).
    """
    try:
        record = _with_current(ECGRecord.objects.all(), counts=counts).get(uuid=uuid)
    except (ValueError, ECGRecord.DoesNotExist):
        raise ECGRecord.DoesNotExist from None
    if not rules.can_view_record(viewer=user, record=record):
        raise ECGRecord.DoesNotExist
    return record


def prediction_current(*, record):
    """Return the current prediction of ``record`` with its counts, images and reviews, or None.

    A running one carries the stage its worker last reported (``prediction_status``).
    """
    prediction = prediction_status(record=record)
    if prediction is not None and prediction.is_finished:
        prefetch_related_objects(
            [prediction], "beat_counts", "images", Prefetch("reviews", queryset=Review.objects.select_related("doctor"))
        )
    return prediction


def prediction_status(*, record):
    """Return the current prediction of ``record`` as a status read answers it, or None: a running
    one with the stage its worker last reported (in the cache, ``services.prediction_report_stage``),
    none with its counts, images or reviews. A record just fetched by ``ecg_record_get`` already
    holds its current prediction (``current``): a status read costs no query here.
    """
    prediction = record.current_prediction
    if prediction is not None and prediction.status == Prediction.Status.RUNNING:
        prediction.stage = prediction_stage(prediction=prediction)
    return prediction


def prediction_stage(*, prediction):
    """Return the step a running analysis last reported (in the cache), or "" before its first."""
    from django.core.cache import cache

    return cache.get(stage_cache_key(prediction.pk)) or ""


# The longest a status read may wait for news (``?wait=``): under the proxy's and gunicorn's timeouts.
STATUS_WAIT_MAX_S = 25
# Even with Redis, a waiting read looks at the database this often (a lost message costs no more).
_RECHECK_S = 5.0
_NO_REDIS_POLL_S = 0.5


def status_redis():
    """Return this process's Redis client for status news, or None without REDIS_URL."""
    global _redis
    from django.conf import settings

    if not getattr(settings, "REDIS_URL", ""):
        return None
    if _redis is None:
        import redis

        _redis = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    return _redis


_redis = None


def _status_state(prediction_id, *, with_stage):
    rows = list(Prediction.objects.filter(pk=prediction_id).order_by().values_list("status", "is_current")[:1])
    if not rows:
        return None  # deleted meanwhile
    row = rows[0]
    stage = ""
    if with_stage and row[0] == Prediction.Status.RUNNING:
        from django.core.cache import cache

        stage = cache.get(stage_cache_key(prediction_id)) or ""
    return (*row, stage)


def prediction_wait(*, prediction, wait_s, with_stage=False, until_finished=False):
    """Block for up to ``wait_s`` seconds until ``prediction``'s status (with ``with_stage``, also
    its stage) is no longer what the caller read; return True when it changed, False on timeout.
    With ``until_finished``, only a finished status (or the prediction gone or replaced) ends the
    wait: a client that wants the result is not woken to hear "running".

    The worker publishes on ``status_channel`` at each change (``services``): the waiting thread
    sleeps on that subscription (one idle socket, no query) and wakes at once. It subscribes before
    it compares, so no change slips between the caller's read and the wait; it looks at the
    database again every few seconds anyway, and every half second when Redis is unavailable.
    """
    import time

    known = (prediction.status, prediction.is_current,
             prediction.stage if with_stage and prediction.status == Prediction.Status.RUNNING else "")
    deadline = time.monotonic() + max(0.0, min(float(wait_s), STATUS_WAIT_MAX_S))
    pubsub = None
    client = status_redis()
    if client is not None:
        try:
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(status_channel(prediction.pk))
            pubsub.get_message(timeout=1.0)  # Redis's confirmation: subscribed from here on
        except Exception:  # Redis down: poll the database instead
            pubsub = None
    look = True
    try:
        while True:
            if look:
                state = _status_state(prediction.pk, with_stage=with_stage)
                if state != known and (not until_finished or state is None or state[1] != known[1]
                                       or state[0] in Prediction.FINISHED):
                    return True
            look = True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if pubsub is not None:
                try:
                    message = pubsub.get_message(timeout=min(remaining, _RECHECK_S))
                except Exception:
                    pubsub = None
                else:
                    # A new stage cannot change the status: a read that shows no stage (the API's)
                    # has nothing to look up (4 queries an upload).
                    look = with_stage or message is None or message.get("data") != STAGE_NEWS
                    continue
            time.sleep(min(remaining, _NO_REDIS_POLL_S))
    finally:
        if pubsub is not None:
            try:
                pubsub.close()
            except Exception:
                pass


def prediction_history(*, record):
    """Return every prediction made on ``record``, newest first."""
    return Prediction.objects.filter(record=record).order_by("-created_at", "-id")


def prediction_image_get(*, user, record_uuid, image_id):
    """Return a derived image of a record ``user`` may see; raise PredictionImage.DoesNotExist."""
    try:
        record = ecg_record_get(user=user, uuid=record_uuid)
    except ECGRecord.DoesNotExist:
        raise PredictionImage.DoesNotExist from None
    return PredictionImage.objects.get(pk=image_id, prediction__record=record)


def patient_get(*, viewer, patient_id):
    """Return patient ``patient_id`` if ``viewer`` may see their records; raise User.DoesNotExist."""
    patient = User.objects.get(pk=patient_id)
    if patient.pk == viewer.pk or not rules.can_view_patient(viewer=viewer, patient=patient):
        raise User.DoesNotExist
    return patient


# Findings with an article in the portal (articles/content).
FINDING_ARTICLES = {clinical.ATRIAL_FIBRILLATION[0]: "atrial-fibrillation-and-flutter"}


def _clock(seconds):
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def assessment_view(assessment, model_assessment=None):
    """Return what the page, PDF and API show of a stored assessment (``ml.assessment``).

    Plain data: the level and its title, the clinical conclusion, the patient's words, the
    findings (most severe first, each with its time as m:ss for jumping the viewer there), the
    measurements with their labels and LOINC codes, what was not assessed, the symptoms the
    patient reported and, after a review, who reviewed it, what they did not confirm and the
    title of the model's own level (``model_assessment``).
    """
    assessment = assessment or {}
    level = assessment.get("level") or "inconclusive"
    findings = []
    for f in assessment.get("findings") or []:  # stored most severe first (ml.assessment)
        when = None
        if f.get("start_s") is not None:
            when = _clock(f["start_s"]) + (f"–{_clock(f['end_s'])}" if f.get("end_s") not in (None, f["start_s"]) else "")
        findings.append({**f, "when": when, "article_slug": FINDING_ARTICLES.get(f["code"])})
    measurements = []
    for key, value in (assessment.get("measurements") or {}).items():
        if value is None or key not in clinical.MEASUREMENTS:
            continue
        loinc, label, unit = clinical.MEASUREMENTS[key]
        measurements.append({"key": key, "label": label, "value": value, "unit": unit, "loinc": loinc})
    return {
        "level": level,
        "title": clinical.LEVEL_TITLES[level],
        "conclusion": clinical.conclusion({**assessment, "level": level}),
        "words": plain_language.explain(assessment),
        "findings": findings,
        "measurements": measurements,
        "not_assessed": list(assessment.get("not_assessed") or []),
        "heart_rate_bpm": (assessment.get("measurements") or {}).get("heart_rate_bpm"),
        "symptoms": clinical.symptom_names(assessment.get("symptoms")),
        "review": assessment.get("review"),
        "model_title": clinical.LEVEL_TITLES.get((model_assessment or {}).get("level"), ""),
    }


def prediction_view(*, prediction, user):
    """Return what the result page and API show of a finished ``prediction`` (plain data)."""
    summary = prediction.summary or {}
    beats = prediction.beats or {}
    labels = beats.get("labels") or []
    confidence = beats.get("confidence") or []
    r_peaks = beats.get("r_peaks") or []
    fs = summary.get("fs") or 0
    counts = {c.code: c.count for c in prediction.beat_counts.all()}
    total = sum(counts.values())
    bars = [
        {
            "code": code,
            "name": BY_CODE[code].name,
            "count": counts[code],
            "percent": round(100.0 * counts[code] / total, 1) if total else 0.0,
        }
        for code in CODES
        if counts.get(code)
    ]
    from ml.analysis import LOW_CONFIDENCE  # chosen with the model on new patients (model card)

    threshold = LOW_CONFIDENCE
    low = [
        {
            "index": i,
            "time_s": round(r_peaks[i] / fs, 2) if fs and i < len(r_peaks) else None,
            "code": labels[i] if i < len(labels) else "",
            "confidence": c,
        }
        for i, c in enumerate(confidence)
        if c is not None and c < threshold
    ]
    images = list(prediction.images.all())
    trace = next((im for im in images if im.kind == PredictionImage.Kind.TRACE), None)
    representatives = {}
    for im in images:
        if im.kind == PredictionImage.Kind.TRACE:
            continue
        rep = representatives.setdefault(
            im.beat_index,
            {
                "beat_index": im.beat_index,
                "code": im.code,
                "name": BY_CODE[im.code].name if im.code in BY_CODE else im.code,
                "probability": im.probability,
            },
        )
        rep[im.kind] = im
    return {
        "counts": counts,
        "bars": bars,
        "beat_total": total,
        "low_confidence": low,
        "low_confidence_threshold": threshold,
        "trace": trace,
        "representatives": sorted(representatives.values(), key=lambda r: r["beat_index"]),
        "heart_rate": summary.get("heart_rate_bpm") or {},
        "reading": assessment_view(prediction.assessment, (prediction.model_reading or {}).get("assessment")),
        "corrected_beats": len((prediction.beats or {}).get("corrected") or []),
        "model_counts": (prediction.model_reading or {}).get("counts"),
        "quality": summary.get("quality"),
        "notes": summary.get("notes") or [],
        "duration_s": summary.get("duration_s"),
        "lead": summary.get("lead"),
        "kind": summary.get("kind"),
        "codes": [b["code"] for b in bars],
    }


def article_links(*, codes):
    """Return the articles about the predicted classes, abnormal classes first."""
    # Abnormal classes first: those are the ones a reader wants to learn about.
    ordered = sorted(codes, key=lambda c: c == "N")
    return article_links_for_codes(codes=ordered)


def dashboard_summary(*, user):
    """Return the user's recent records and their counts by status for the dashboard panel."""
    records = ECGRecord.objects.filter(owner=user)
    by_status = dict(
        Prediction.objects.filter(record__owner=user, is_current=True)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    return {
        "recent_records": list(_with_current(records).order_by("-created_at", "-id")[:5]),
        "record_count": records.count(),
        "status_counts": by_status,
        "done_count": by_status.get(Prediction.Status.DONE, 0),
        "waiting_count": by_status.get(Prediction.Status.PENDING, 0) + by_status.get(Prediction.Status.RUNNING, 0),
        "abnormal_count": Prediction.objects.filter(
            record__owner=user, is_current=True, level__in=(Prediction.Level.ABNORMAL, Prediction.Level.URGENT)
        ).count(),
    }


def doctor_case_list(*, doctor):
    """Return the doctor's linked patients with their latest record and unreviewed result count.

    Each item: ``{patient, record_count, latest_record, latest_prediction, pending_reviews,
    abnormal_unreviewed, urgent_unreviewed}``, ordered for triage by the readings' levels:
    unreviewed urgent results first, then abnormal ones (``Prediction.level``).
    """
    patients = rules.patients_of(doctor=doctor)
    visible = ECGRecord.objects.filter(rules.records_visible_to_doctor(doctor=doctor))
    reviewed = Review.objects.filter(prediction=OuterRef("pk"))
    unreviewed = Prediction.objects.filter(
        record__owner=OuterRef("pk"), record__in=visible, is_current=True, status=Prediction.Status.DONE
    ).exclude(Exists(reviewed))
    abnormal = unreviewed.filter(level__in=(Prediction.Level.ABNORMAL, Prediction.Level.URGENT))
    urgent = unreviewed.filter(level=Prediction.Level.URGENT)
    latest = visible.filter(owner=OuterRef("pk")).order_by("-created_at", "-id")
    patients = patients.annotate(
        record_count=Count("ecg_records", filter=Q(ecg_records__in=visible), distinct=True),
        latest_record_id=Subquery(latest.values("id")[:1]),
        pending_reviews=Subquery(
            unreviewed.order_by().values("record__owner").annotate(n=Count("id")).values("n")[:1]
        ),
        abnormal_unreviewed=Subquery(
            abnormal.order_by().values("record__owner").annotate(n=Count("id")).values("n")[:1]
        ),
        urgent_unreviewed=Subquery(
            urgent.order_by().values("record__owner").annotate(n=Count("id")).values("n")[:1]
        ),
    )
    rows = list(patients)
    latest_records = {
        r.pk: r for r in _with_current(ECGRecord.objects.filter(pk__in=[p.latest_record_id for p in rows if p.latest_record_id]))
    }
    cases = []
    for p in rows:
        record = latest_records.get(p.latest_record_id)
        cases.append(
            {
                "patient": p,
                "record_count": p.record_count,
                "latest_record": record,
                "latest_prediction": record.current_prediction if record else None,
                "pending_reviews": p.pending_reviews or 0,
                "abnormal_unreviewed": p.abnormal_unreviewed or 0,
                "urgent_unreviewed": p.urgent_unreviewed or 0,
            }
        )
    # Triage by the readings' levels: unreviewed urgent results first, then abnormal ones, then
    # any unreviewed, then the newest.
    cases.sort(key=lambda c: (-c["urgent_unreviewed"], -c["abnormal_unreviewed"], -c["pending_reviews"],
                              -(c["latest_record"].created_at.timestamp() if c["latest_record"] else 0)))
    return cases


def patient_trends(*, user, patient=None):
    """Return ``patient``'s readings over time (default: the user's own), oldest first, for the
    history chart and the API: one point per record's current finished reading.

    Each point: ``{record, date, level, heart_rate: {median, min, max}, af_burden_pct,
    ectopic_pct, qtc_ms}``; a value the reading did not measure is None (never 0). ``date`` is
    the recording date where the patient gave it, else the upload date.
    """
    patient = patient or user
    if not rules.can_view_patient(viewer=user, patient=patient):
        return []
    records = rules.visible_records(viewer=user, records=ECGRecord.objects.filter(owner=patient))
    results = (Prediction.objects.filter(record__in=records, is_current=True, status=Prediction.Status.DONE)
               .select_related("record").prefetch_related("beat_counts"))
    points = []
    for p in results:
        summary, reading = p.summary or {}, p.assessment or {}
        rate = summary.get("heart_rate_bpm") if isinstance(summary.get("heart_rate_bpm"), dict) else {}
        counts = {c.code: c.count for c in p.beat_counts.all()}
        total = sum(counts.values())
        points.append({
            "record": str(p.record.uuid),
            "date": (p.record.recorded_on or p.record.created_at.date()).isoformat(),
            "level": p.level,
            "heart_rate": {"median": rate.get("median"), "min": rate.get("min"), "max": rate.get("max")},
            "af_burden_pct": _af_burden(reading, summary),
            "ectopic_pct": round(100.0 * (counts.get("V", 0) + counts.get("A", 0)) / total, 1) if total else None,
            "qtc_ms": (reading.get("measurements") or {}).get("qtc_ms"),
        })
    return sorted(points, key=lambda point: point["date"])


def _af_burden(reading, summary):
    """Return the share of the recording in atrial fibrillation (%), or None when the rhythm was
    not read (a picture of a single beat, a noisy strip)."""
    af = [f for f in reading.get("findings") or [] if f["code"] == clinical.ATRIAL_FIBRILLATION[0]]
    burden = next((f["value"] for f in af if f.get("unit") == "%"), None)
    if burden is not None:
        return burden
    if any(f.get("start_s") is None for f in af):
        return 100.0
    if af:
        return None
    rhythm = summary.get("rhythm") if isinstance(summary.get("rhythm"), dict) else None
    return 0.0 if rhythm and rhythm.get("label") not in (None, "noisy") else None


def record_care_links(*, record):
    """Return the owner's active doctors' links, each with ``sees`` True when it covers ``record``."""
    from accounts.models import CareLink

    shared = set(record.shared_in.values_list("pk", flat=True))
    links = list(CareLink.objects.filter(patient=record.owner, status=CareLink.Status.ACTIVE).select_related("doctor"))
    for link in links:
        link.sees = link.scope == CareLink.Scope.ALL or link.pk in shared
    return links


def share_link_list(*, owner):
    """Return ``owner``'s share links, newest first, with their records."""
    from predictions.models import ShareLink

    return ShareLink.objects.filter(owner=owner).prefetch_related("records")


LEVEL_RANK = {Prediction.Level.URGENT: 0, Prediction.Level.ABNORMAL: 1, Prediction.Level.INCONCLUSIVE: 2,
              Prediction.Level.NORMAL: 3}
WORKLIST_STATES = ("to_review", "reviewed", "all")


def worklist(*, doctor, level="", state="to_review", q=""):
    """Return the current results of the doctor's linked patients as a worklist: urgent first,
    then abnormal, inconclusive and normal; within a level the longest waiting first.

    ``state``: ``to_review`` (no review yet, the default), ``reviewed`` or ``all``; ``level``
    one level; ``q`` searches the patient's name and email.
    """
    from django.db.models import Case, IntegerField, Value, When

    results = Prediction.objects.filter(
        is_current=True, status__in=(Prediction.Status.DONE, Prediction.Status.INCONCLUSIVE),
        record__owner__in=rules.patients_of(doctor=doctor),
        record__in=ECGRecord.objects.filter(rules.records_visible_to_doctor(doctor=doctor)),
    ).select_related("record", "record__owner")
    if state == "to_review":
        results = results.filter(reviewed_at__isnull=True)
    elif state == "reviewed":
        results = results.filter(reviewed_at__isnull=False)
    if level:
        results = results.filter(level=level)
    if q:
        results = results.filter(Q(record__owner__first_name__icontains=q) | Q(record__owner__last_name__icontains=q)
                                 | Q(record__owner__email__icontains=q))
    rank = Case(*[When(level=lv, then=Value(i)) for lv, i in LEVEL_RANK.items()], default=Value(9),
                output_field=IntegerField())
    return results.annotate(rank=rank).order_by("rank", "created_at", "id")


def worklist_next(*, doctor, after=None):
    """Return the result to review after ``after`` in the doctor's worklist, or None."""
    if not getattr(doctor, "is_verified_doctor", False):
        return None
    results = worklist(doctor=doctor)
    if after is not None:
        results = results.exclude(pk=after.pk)
    return results.first()


def beat_families(*, prediction):
    """Return the beats of ``prediction`` grouped by shape (``ml.morphology``), largest first:
    ``[{"indices", "size", "labels"}]``, ``labels`` the classes the beats carry now ("N 1543, V 2")."""
    from collections import Counter

    from ml.morphology import shape_families

    stored = prediction_signal(prediction=prediction)
    beats = prediction.beats or {}
    peaks, labels = beats.get("r_peaks") or [], beats.get("labels") or []
    if stored is None or not peaks:
        return []
    signal, fs = stored
    out = []
    for family in shape_families(signal, fs, [p for p in peaks if p < len(signal)]):
        counted = Counter(labels[i] for i in family if i < len(labels)).most_common()
        out.append({"indices": [int(i) for i in family], "size": int(family.size),
                    "labels": ", ".join(f"{code} {n}" for code, n in counted)})
    return out


def prediction_signal(*, prediction):
    """Return (the stored filtered signal, float16 mV, its rate in Hz), or None when not stored.

    On local storage the file is memory-mapped, so a caller that slices a window reads only that
    window (the viewer asks for one per pan); remote storage is read whole.
    """
    if not prediction.signal or not prediction.signal_fs:
        return None
    return _load_array(prediction.signal), float(prediction.signal_fs)


def _curve(segment, columns):
    """Return one curve of a trace window: the samples, or per column their minimum and maximum
    (so no QRS peak is lost at any zoom). NaN (no trace in a picture's panel) becomes null."""
    import numpy as np

    def values(a):
        return [None if v != v else v for v in np.round(a, 3).tolist()]

    if len(segment) <= 2 * columns:
        return {"kind": "samples", "values": values(segment)}
    edges = np.linspace(0, len(segment), columns + 1).astype(int)[:-1]
    with np.errstate(all="ignore"):
        return {"kind": "minmax", "min": values(np.fmin.reduceat(segment, edges)),
                "max": values(np.fmax.reduceat(segment, edges))}


def prediction_leads(*, prediction):
    """Return (every lead of a multi-lead input, leads x samples float16 mV, their names), or None."""
    names = (prediction.summary or {}).get("lead_names") or []
    if not prediction.leads_signal or len(names) < 2:
        return None
    return _load_array(prediction.leads_signal), names


def _load_array(field_file):
    """Load a stored .npy: memory-mapped on local storage (a window reads only its slice), read
    whole from storage without local paths (S3)."""
    import io

    import numpy as np

    try:
        return np.load(field_file.path, mmap_mode="r", allow_pickle=False)
    except NotImplementedError:
        with field_file.open("rb") as fh:
            return np.load(io.BytesIO(fh.read()), allow_pickle=False)


def trace_window(*, prediction, start_s=0.0, end_s=None, columns=1000, all_leads=False):
    """Return the stored signal of ``prediction`` between ``start_s`` and ``end_s`` for the viewer.

    At most ``columns`` points per curve: when the window holds more samples, each column keeps
    its minimum and maximum, so no QRS peak is lost at any zoom; otherwise the samples themselves.
    The beats inside the window come with their class and confidence. With ``all_leads``, a
    multi-lead input's every lead too (``leads``: [{name, kind, values | min, max}]). None
    without a stored signal.
    """
    import numpy as np

    stored = prediction_signal(prediction=prediction)
    if stored is None:
        return None
    x, fs = stored
    duration = len(x) / fs
    end_s = duration if end_s is None else min(float(end_s), duration)
    start_s = min(max(0.0, float(start_s)), max(0.0, end_s - 1.0 / fs))
    a, b = int(start_s * fs), max(int(start_s * fs) + 1, int(np.ceil(end_s * fs)))
    segment = np.asarray(x[a:b], dtype=np.float32)
    columns = max(10, min(int(columns), 4000))
    window = {"fs": fs, "duration_s": round(duration, 3), "start_s": round(a / fs, 4), "end_s": round(b / fs, 4)}
    window.update(_curve(segment, columns))
    window["dt"] = 1.0 / fs if window["kind"] == "samples" else len(segment) / columns / fs
    stacked = prediction_leads(prediction=prediction) if all_leads else None
    if stacked is not None:
        leads, names = stacked
        window["leads"] = [{"name": name, **_curve(np.asarray(leads[i, a:b], dtype=np.float32), columns)}
                           for i, name in enumerate(names)]
    beats = prediction.beats or {}
    peaks = np.asarray(beats.get("r_peaks") or [], dtype=np.int64)
    labels = beats.get("labels") or []
    confidence = beats.get("confidence") or []
    inside = np.flatnonzero((peaks >= a) & (peaks < b))
    window["beats"] = [
        {"index": int(i), "t": round(int(peaks[i]) / fs, 3), "code": labels[i] if i < len(labels) else "",
         "p": confidence[i] if i < len(confidence) else None}
        for i in inside
    ]
    rhythm = (prediction.summary or {}).get("rhythm")
    episodes = rhythm.get("episodes") if isinstance(rhythm, dict) else None
    window["episodes"] = [
        {"start_s": e["start_s"], "end_s": e["end_s"], "label": e.get("label", "atrial_fibrillation")}
        for e in episodes or [] if e.get("end_s", 0) > start_s and e.get("start_s", 0) < end_s
    ]
    return window
