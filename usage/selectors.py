"""Usage metrics for administrators, one function per metric, computed in the database.

Every function runs a fixed number of queries whatever the number of rows: aggregation
(``annotate``/``aggregate``, ``TruncDate``, ``Count(filter=Q)``) happens in SQL. Python only
fills in the days of the period that had no rows. The page, the CSV export and the API all
call ``usage_report``.
"""

import logging
import math

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Case, CharField, Count, Exists, OuterRef, Q, Sum, Value, When
from django.db.models.functions import TruncDate

from usage.aggregates import PercentileCont
from usage.models import DailyActivity
from ml.classes import BEAT_CLASSES
from predictions.models import BeatCount, ECGRecord, Prediction

logger = logging.getLogger(__name__)

SIGNUP_METHODS = ("form", "google", "linkedin")
QUEUE_PRIORITY_SEPARATOR = "\x06\x16"  # kombu's Redis transport: queue + sep + priority
QUEUE_PRIORITY_STEPS = (3, 6, 9)  # the default steps besides 0, which is the queue's own key


def _per_day(queryset, field, period, **counts):
    """Return ``[{date, <name>: n, ...}]`` for every day of ``period`` from one grouped query."""
    rows = (
        queryset.filter(**{f"{field}__gte": period.start_at, f"{field}__lt": period.end_before})
        .annotate(day=TruncDate(field))
        .values("day")
        .annotate(**counts)
        .order_by("day")
    )
    by_day = {row["day"]: row for row in rows}
    return [
        {"date": day.isoformat(), **{name: by_day.get(day, {}).get(name, 0) for name in counts}}
        for day in period.days()
    ]


def users_by_role():
    """Return the number of accounts per role (all accounts, not only the period's)."""
    User = get_user_model()
    counts = dict(User.objects.order_by().values_list("role").annotate(n=Count("id")))
    return {role: counts.get(role, 0) for role in User.Role.values}


def users_by_signup_method():
    """Return the number of accounts per sign-up method: form, Google or LinkedIn (via allauth)."""
    from allauth.socialaccount.models import SocialAccount

    User = get_user_model()
    social = SocialAccount.objects.filter(user=OuterRef("pk"))
    method = Case(
        When(Exists(social.filter(provider="google")), then=Value("google")),
        When(Exists(social.filter(provider__startswith="linkedin")), then=Value("linkedin")),
        default=Value("form"),
        output_field=CharField(),
    )
    counts = dict(User.objects.order_by().annotate(method=method).values_list("method").annotate(n=Count("id")))
    return {name: counts.get(name, 0) for name in SIGNUP_METHODS}


def signups_per_day(*, period):
    """Return new accounts per day of ``period``."""
    return _per_day(get_user_model().objects.order_by(), "date_joined", period, count=Count("id"))


def active_users_per_day(*, period):
    """Return, per day, how many users were active: signed in or uploaded an ECG that day."""
    rows = (
        DailyActivity.objects.order_by()
        .filter(day__gte=period.start, day__lte=period.end)
        .values("day")
        .annotate(count=Count("user", distinct=True))
    )
    by_day = {row["day"]: row["count"] for row in rows}
    return [{"date": day.isoformat(), "count": by_day.get(day, 0)} for day in period.days()]


def uploads_per_day(*, period):
    """Return uploaded ECGs per day of ``period``, split by input type (image, signal)."""
    kinds = ECGRecord.InputKind
    return _per_day(
        ECGRecord.objects.order_by(),
        "created_at",
        period,
        image=Count("id", filter=Q(input_kind=kinds.IMAGE)),
        signal=Count("id", filter=Q(input_kind=kinds.SIGNAL)),
    )


def _predictions(period):
    return Prediction.objects.order_by().filter(created_at__gte=period.start_at, created_at__lt=period.end_before)


def predictions_by_status(*, period):
    """Return the predictions requested in ``period`` per status (every status listed)."""
    counts = dict(_predictions(period).values_list("status").annotate(n=Count("id")))
    return {status: counts.get(status, 0) for status in Prediction.Status.values}


def readings_by_level(*, period):
    """Return the period's clinical readings per level (``Prediction.level``; every level listed)."""
    counts = dict(_predictions(period).exclude(level="").values_list("level").annotate(n=Count("id")))
    return {level: counts.get(level, 0) for level in Prediction.Level.values}


def predictions_by_class(*, period):
    """Return, per beat class, how many of the period's predictions found it and how many beats."""
    rows = (
        BeatCount.objects.order_by()
        .filter(
            count__gt=0,
            prediction__created_at__gte=period.start_at,
            prediction__created_at__lt=period.end_before,
        )
        .values("code")
        .annotate(predictions=Count("prediction", distinct=True), beats=Sum("count"))
    )
    by_code = {row["code"]: row for row in rows}
    return [
        {
            "code": c.code,
            "name": c.name,
            "predictions": by_code.get(c.code, {}).get("predictions", 0),
            "beats": by_code.get(c.code, {}).get("beats") or 0,
        }
        for c in BEAT_CLASSES
    ]


def doctor_agreement(*, period):
    """Return how often reviewing doctors kept the model's labels, per beat class, over the
    results reviewed in ``period``: the one accuracy figure measured on real users' data.

    Each row: ``{code, name, beats, kept, agreement}`` (``beats`` the model gave this class in
    reviewed results, ``kept`` those no doctor relabelled). Plus how many reviewed readings kept
    the model's level. A beat the doctor did not relabel counts as kept.
    """
    reviewed = (Prediction.objects.order_by()
                .filter(reviewed_at__gte=period.start_at, reviewed_at__lt=period.end_before)
                .exclude(model_reading={})
                .values_list("model_reading", "beats", "level"))
    beats, kept = {}, {}
    readings = same_level = 0
    for model, current, level in reviewed.iterator():
        readings += 1
        same_level += (model.get("assessment") or {}).get("level") == level
        for before, after in zip(model.get("labels") or [], (current or {}).get("labels") or []):
            beats[before] = beats.get(before, 0) + 1
            kept[before] = kept.get(before, 0) + (before == after)
    return {
        "reviewed_readings": readings,
        "same_level": same_level,
        "classes": [
            {"code": c.code, "name": c.name, "beats": beats.get(c.code, 0), "kept": kept.get(c.code, 0),
             "agreement": round(kept[c.code] / beats[c.code], 3) if beats.get(c.code) else None}
            for c in BEAT_CLASSES
        ],
    }


def _percentiles_fallback(queryset, field, fractions):
    """Return (count, values) like ``percentile_cont`` without PostgreSQL: count, then 1–2 rows per fraction."""
    n = queryset.count()
    if n == 0:
        return 0, [None for _ in fractions]
    ordered = queryset.order_by(field).values_list(field, flat=True)
    values = []
    for fraction in fractions:  # a loop over the fractions (two), not over rows
        position = fraction * (n - 1)
        low = math.floor(position)
        pair = list(ordered[low : low + 2])
        high_value = pair[1] if len(pair) > 1 else pair[0]
        values.append(pair[0] + (high_value - pair[0]) * (position - low))
    return n, values


def processing_time(*, period):
    """Return the median and 95th percentile of the worker's analysis time (ms) in ``period``."""
    timed = _predictions(period).filter(duration_ms__isnull=False)
    if connection.vendor == "postgresql":
        result = timed.aggregate(
            count=Count("id"),
            median_ms=PercentileCont("duration_ms", 0.5),
            p95_ms=PercentileCont("duration_ms", 0.95),
        )
    else:
        count, (median, p95) = _percentiles_fallback(timed, "duration_ms", (0.5, 0.95))
        result = {"count": count, "median_ms": median, "p95_ms": p95}
    for key in ("median_ms", "p95_ms"):
        if result[key] is not None:
            result[key] = round(float(result[key]), 1)
    return result


def outcome_rates(*, period):
    """Return how many of the period's finished predictions failed or were inconclusive, and the rates."""
    status = Prediction.Status
    counts = _predictions(period).aggregate(
        finished=Count("id", filter=Q(status__in=Prediction.FINISHED)),
        failed=Count("id", filter=Q(status=status.FAILED)),
        inconclusive=Count("id", filter=Q(status=status.INCONCLUSIVE)),
    )
    finished = counts["finished"]
    return {
        **counts,
        "failure_rate": counts["failed"] / finished if finished else None,
        "inconclusive_rate": counts["inconclusive"] / finished if finished else None,
    }


def _broker_client():
    """Return a Redis client for the Celery broker with short timeouts (a seam for tests)."""
    import redis

    url = settings.CELERY_BROKER_URL if str(settings.CELERY_BROKER_URL).startswith("redis") else settings.REDIS_URL
    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)


def queue_length():
    """Return ``{length, status}``: tasks waiting in the Celery queue, or None when unknown.

    ``status`` is "ok", "not configured" (no REDIS_URL: tasks run in-process) or "unreachable".
    """
    if not settings.REDIS_URL:
        return {"length": None, "status": "not configured"}
    import redis

    queue = getattr(settings, "PREDICTIONS_QUEUE", None) or "celery"
    keys = [queue] + [f"{queue}{QUEUE_PRIORITY_SEPARATOR}{step}" for step in QUEUE_PRIORITY_STEPS]
    try:
        client = _broker_client()
        try:
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.llen(key)
            length = sum(pipe.execute())
        finally:
            client.close()
    except (redis.RedisError, OSError) as exc:
        logger.warning("Could not read the Celery queue length: %s", exc)
        return {"length": None, "status": "unreachable"}
    return {"length": length, "status": "ok", "queue": queue}


def articles_most_read(*, period, limit=10):
    """Return the published articles read most often in ``period``: ``[{title, slug, reads}]``."""
    from articles.selectors import article_most_read

    return list(article_most_read(start=period.start_at, end=period.end_before, limit=limit))


def usage_report(*, period):
    """Return every metric for ``period`` as plain data (JSON-ready)."""
    signups = signups_per_day(period=period)
    uploads = uploads_per_day(period=period)
    by_status = predictions_by_status(period=period)
    roles = users_by_role()
    return {
        "period": period.as_dict(),
        "totals": {
            "users": sum(roles.values()),
            "signups": sum(day["count"] for day in signups),
            "uploads": sum(day["image"] + day["signal"] for day in uploads),
            "predictions": sum(by_status.values()),
        },
        "users_by_role": roles,
        "users_by_signup_method": users_by_signup_method(),
        "signups_per_day": signups,
        "active_users_per_day": active_users_per_day(period=period),
        "uploads_per_day": uploads,
        "predictions_by_status": by_status,
        "readings_by_level": readings_by_level(period=period),
        "predictions_by_class": predictions_by_class(period=period),
        "doctor_agreement": doctor_agreement(period=period),
        "processing_time": processing_time(period=period),
        "outcomes": outcome_rates(period=period),
        "queue": queue_length(),
        "articles_most_read": articles_most_read(period=period),
    }
