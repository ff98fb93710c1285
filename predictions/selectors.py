"""Reads of ECG records and predictions, always scoped by the user who asks.

A record someone may not see does not exist for them: getters raise ``DoesNotExist`` (views turn
it into a 404), lists simply leave it out.
"""

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, Subquery

from accounts.models import User
from articles.selectors import article_links_for_codes
from ml import assessment as clinical
from ml.classes import BY_CODE, CODES
from predictions import access, plain_language
from predictions.models import ECGRecord, Prediction, PredictionImage, Review


def _with_current(queryset):
    current = Prediction.objects.filter(is_current=True).prefetch_related("beat_counts")
    return queryset.select_related("owner").prefetch_related(Prefetch("predictions", queryset=current, to_attr="current"))


def ecg_record_list(*, user, filters=None, patient=None):
    """Return ``patient``'s records (default: the user's own), newest first, filtered.

    ``filters`` keys (all optional): ``status``, ``level`` (of the reading), ``code`` (a beat class found), ``date_from``,
    ``date_to`` (upload date), ``q`` (search in the note and file name). A patient the user may
    not see yields no records.
    """
    patient = patient or user
    if not access.can_view_patient(viewer=user, patient=patient):
        return ECGRecord.objects.none()
    records = ECGRecord.objects.filter(owner=patient).select_related("owner")
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


def ecg_record_get(*, user, uuid):
    """Return the record ``uuid`` if ``user`` may see it; raise ECGRecord.DoesNotExist otherwise."""
    try:
        record = _with_current(ECGRecord.objects.all()).get(uuid=uuid)
    except (ValueError, ECGRecord.DoesNotExist):
        raise ECGRecord.DoesNotExist from None
    if not access.can_view_patient(viewer=user, patient=record.owner):
        raise ECGRecord.DoesNotExist
    return record


def prediction_current(*, record):
    """Return the current prediction of ``record`` with its counts, images and reviews, or None."""
    return (
        Prediction.objects.filter(record=record, is_current=True)
        .prefetch_related("beat_counts", "images", Prefetch("reviews", queryset=Review.objects.select_related("doctor")))
        .first()
    )


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
    if patient.pk == viewer.pk or not access.can_view_patient(viewer=viewer, patient=patient):
        raise User.DoesNotExist
    return patient


# Findings with an article in the portal (articles/content).
FINDING_ARTICLES = {clinical.ATRIAL_FIBRILLATION[0]: "atrial-fibrillation-and-flutter"}


def _clock(seconds):
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def assessment_view(assessment):
    """Return what the page, PDF and API show of a stored assessment (``ml.assessment``).

    Plain data: the level and its title, the clinical conclusion, the patient's words, the
    findings (most severe first, each with its time as m:ss for jumping the viewer there), the
    measurements with their labels and LOINC codes, and what was not assessed.
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
        "reading": assessment_view(prediction.assessment),
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
    patients = access.patients_of(doctor=doctor)
    reviewed = Review.objects.filter(prediction=OuterRef("pk"))
    unreviewed = Prediction.objects.filter(
        record__owner=OuterRef("pk"), is_current=True, status=Prediction.Status.DONE
    ).exclude(Exists(reviewed))
    abnormal = unreviewed.filter(level__in=(Prediction.Level.ABNORMAL, Prediction.Level.URGENT))
    urgent = unreviewed.filter(level=Prediction.Level.URGENT)
    latest = ECGRecord.objects.filter(owner=OuterRef("pk")).order_by("-created_at", "-id")
    patients = patients.annotate(
        record_count=Count("ecg_records", distinct=True),
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


def prediction_signal(*, prediction):
    """Return (the stored filtered signal, float16 mV, its rate in Hz), or None when not stored.

    On local storage the file is memory-mapped, so a caller that slices a window reads only that
    window (the viewer asks for one per pan); remote storage is read whole.
    """
    import io

    import numpy as np

    if not prediction.signal or not prediction.signal_fs:
        return None
    try:
        signal = np.load(prediction.signal.path, mmap_mode="r", allow_pickle=False)
    except NotImplementedError:  # storage without local paths (S3)
        with prediction.signal.open("rb") as fh:
            signal = np.load(io.BytesIO(fh.read()), allow_pickle=False)
    return signal, float(prediction.signal_fs)


def trace_window(*, prediction, start_s=0.0, end_s=None, columns=1000):
    """Return the stored signal of ``prediction`` between ``start_s`` and ``end_s`` for the viewer.

    At most ``columns`` points per curve: when the window holds more samples, each column keeps
    its minimum and maximum, so no QRS peak is lost at any zoom; otherwise the samples themselves.
    The beats inside the window come with their class and confidence. None without a stored signal.
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
    if len(segment) <= 2 * columns:
        window.update(kind="samples", dt=1.0 / fs, values=np.round(segment, 3).tolist())
    else:
        edges = np.linspace(0, len(segment), columns + 1).astype(int)[:-1]
        window.update(
            kind="minmax", dt=len(segment) / columns / fs,
            min=np.round(np.minimum.reduceat(segment, edges), 3).tolist(),
            max=np.round(np.maximum.reduceat(segment, edges), 3).tolist(),
        )
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
