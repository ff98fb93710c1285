"""Each metric, on small hand-made data."""

import datetime
import uuid

import numpy as np
import pytest
from allauth.socialaccount.models import SocialAccount
from django.utils import timezone

from accounts.tests.factories import DoctorFactory, StaffFactory, UserFactory
from articles.models import Article, ArticleView
from usage import selectors
from usage.period import Period
from usage.tests.factories import PredictionFactory, RecordFactory
from predictions.models import BeatCount, Prediction

pytestmark = pytest.mark.django_db


@pytest.fixture
def period():
    return Period.last_days(7)


def test_users_by_role_and_signup_method():
    patients = UserFactory.create_batch(3)
    DoctorFactory()
    StaffFactory()
    SocialAccount.objects.create(user=patients[0], provider="google", uid="g1")
    SocialAccount.objects.create(user=patients[1], provider="linkedin", uid="l1")
    assert selectors.users_by_role() == {"patient": 3, "doctor": 1, "admin": 1}
    assert selectors.users_by_signup_method() == {"form": 3, "google": 1, "linkedin": 1}


def test_signups_and_active_users_per_day_fill_every_day(period, client):
    today = timezone.now()
    signed_in = UserFactory(date_joined=today - datetime.timedelta(days=2))
    uploader = UserFactory(date_joined=today - datetime.timedelta(days=2))
    UserFactory(date_joined=today - datetime.timedelta(days=30))  # outside the period
    signups = selectors.signups_per_day(period=period)
    assert len(signups) == 7
    by_day = {d["date"]: d["count"] for d in signups}
    assert by_day[(timezone.localdate() - datetime.timedelta(days=2)).isoformat()] == 2
    assert sum(by_day.values()) == 2

    # Active: signed in or uploaded that day; every day counts, not only the latest sign-in.
    RecordFactory(owner=uploader, created_at=today - datetime.timedelta(days=1))
    RecordFactory(owner=uploader, created_at=today - datetime.timedelta(days=1))
    RecordFactory(owner=uploader)
    client.force_login(signed_in)
    client.force_login(signed_in)  # signing in twice a day is still one active user
    active = {d["date"]: d["count"] for d in selectors.active_users_per_day(period=period)}
    assert len(active) == 7
    assert active[timezone.localdate().isoformat()] == 2
    assert active[(timezone.localdate() - datetime.timedelta(days=1)).isoformat()] == 1
    assert sum(active.values()) == 3


def test_uploads_per_day_by_input_type(period):
    RecordFactory.create_batch(2)
    RecordFactory(input_kind="signal", file_format="csv")
    today = {d["date"]: d for d in selectors.uploads_per_day(period=period)}[timezone.localdate().isoformat()]
    assert (today["image"], today["signal"]) == (2, 1)


def test_predictions_by_status_class_and_outcome_rates(period):
    now = timezone.now()
    done = PredictionFactory.create_batch(6)
    PredictionFactory(status="failed", model_version="", error_code="x")
    PredictionFactory(status="inconclusive", model_version="", inconclusive_reason="blank page")
    PredictionFactory(status="pending", model_version="", started_at=None, duration_ms=None)
    PredictionFactory(created_at=now - datetime.timedelta(days=20))  # outside the period
    BeatCount.objects.create(prediction=done[0], code="N", count=70)
    BeatCount.objects.create(prediction=done[0], code="V", count=4)
    BeatCount.objects.create(prediction=done[1], code="V", count=1)
    BeatCount.objects.create(prediction=done[2], code="A", count=0)

    assert selectors.predictions_by_status(period=period) == {
        "pending": 1, "running": 0, "done": 6, "failed": 1, "inconclusive": 1
    }
    # The factory's done readings are normal; the inconclusive one is inconclusive; unread ones have none.
    assert selectors.readings_by_level(period=period) == {"urgent": 0, "abnormal": 0, "inconclusive": 1, "normal": 6}
    by_class = {row["code"]: row for row in selectors.predictions_by_class(period=period)}
    assert (by_class["V"]["predictions"], by_class["V"]["beats"]) == (2, 5)
    assert (by_class["N"]["predictions"], by_class["N"]["beats"]) == (1, 70)
    assert by_class["A"]["predictions"] == 0  # a zero count is not a finding
    assert len(by_class) == 8
    outcomes = selectors.outcome_rates(period=period)
    assert (outcomes["finished"], outcomes["failed"], outcomes["inconclusive"]) == (8, 1, 1)
    assert outcomes["failure_rate"] == pytest.approx(1 / 8)
    assert outcomes["inconclusive_rate"] == pytest.approx(1 / 8)


def test_processing_time_percentiles_match_numpy_with_the_database_and_the_fallback(period):
    durations = [120, 80, 95, 3000, 101, 99, 250, 130, 87, 110, 400]
    for ms in durations:
        PredictionFactory(duration_ms=ms)
    PredictionFactory(status="pending", model_version="", started_at=None, duration_ms=None)
    result = selectors.processing_time(period=period)
    assert result["count"] == len(durations)
    assert result["median_ms"] == pytest.approx(np.percentile(durations, 50), abs=0.1)
    assert result["p95_ms"] == pytest.approx(np.percentile(durations, 95), abs=0.1)
    # The SQLite path gives the same numbers (it runs on any database).
    timed = Prediction.objects.filter(duration_ms__isnull=False)
    count, (median, p95) = selectors._percentiles_fallback(timed, "duration_ms", (0.5, 0.95))
    assert count == len(durations)
    assert (median, p95) == pytest.approx((np.percentile(durations, 50), np.percentile(durations, 95)))


def test_processing_time_without_data_is_unknown(period):
    assert selectors.processing_time(period=period) == {"count": 0, "median_ms": None, "p95_ms": None}


def test_queue_length_not_configured(settings):
    settings.REDIS_URL = ""
    assert selectors.queue_length() == {"length": None, "status": "not configured"}


def test_queue_length_when_redis_is_down_does_not_raise(settings):
    settings.REDIS_URL = settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    assert selectors.queue_length() == {"length": None, "status": "unreachable"}


def test_queue_length_reads_the_broker_list(settings, redis_url):
    import redis

    settings.REDIS_URL = settings.CELERY_BROKER_URL = redis_url
    settings.PREDICTIONS_QUEUE = queue = f"usage-test-{uuid.uuid4().hex}"
    client = redis.Redis.from_url(redis_url)
    try:
        client.rpush(queue, "a", "b", "c")
        client.rpush(f"{queue}\x06\x163", "d")  # a priority-3 message lives under its own key
        assert selectors.queue_length() == {"length": 4, "status": "ok", "queue": queue}
    finally:
        client.delete(queue, f"{queue}\x06\x163")


def test_articles_most_read_counts_reads_in_the_period(period):
    stroke = Article.objects.get(slug="stroke")
    pacemakers = Article.objects.get(slug="pacemakers")
    ArticleView.objects.bulk_create([ArticleView(article=stroke) for _ in range(3)] + [ArticleView(article=pacemakers)])
    old = ArticleView.objects.create(article=pacemakers)
    ArticleView.objects.filter(pk=old.pk).update(viewed_at=timezone.now() - datetime.timedelta(days=40))
    assert selectors.articles_most_read(period=period) == [
        {"title": "Stroke", "slug": "stroke", "reads": 3},
        {"title": "Pacemakers", "slug": "pacemakers", "reads": 1},
    ]
