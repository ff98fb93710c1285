"""Faults of the services an upload needs: each has a defined outcome, never a 500 or a lost upload.

Redis down is the real client talking to a port where nothing listens, with the portal's own
cache and Celery settings (only the address changes).
"""

import time
from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from predictions import services
from predictions.models import ECGRecord, Prediction
from predictions.tests.conftest import upload

pytestmark = pytest.mark.django_db

DEAD_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def redis_down(settings, redis_url):
    """Point the cache and the Celery broker at an address where no Redis answers."""
    from ecgportal.celery import app

    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": DEAD_REDIS}}
    old = app.conf.CELERY_BROKER_URL, app.conf.CELERY_TASK_ALWAYS_EAGER
    app.conf.CELERY_BROKER_URL, app.conf.CELERY_TASK_ALWAYS_EAGER = DEAD_REDIS, False
    app._pool = None  # the producer pool is bound to the broker address it was made for
    yield
    app.conf.CELERY_BROKER_URL, app.conf.CELERY_TASK_ALWAYS_EAGER = old
    app._pool = None


def test_with_redis_down_an_upload_is_saved_and_analysed_once_redis_is_back(
    redis_down, patient_client, csv_bytes, django_capture_on_commit_callbacks
):
    from ecgportal.celery import app

    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        response = patient_client.post(reverse("predictions:upload"), {"file": upload("ecg.csv", csv_bytes)})
    assert response.status_code == 302, response.content[:500]
    assert time.monotonic() - started < 15
    prediction = Prediction.objects.get()
    assert prediction.status == "pending"

    # Redis is back: the sweep (celery beat) sends what is still pending.
    app.conf.CELERY_TASK_ALWAYS_EAGER = True
    Prediction.objects.filter(pk=prediction.pk).update(queued_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.prediction_requeue_stale() == 1
    prediction.refresh_from_db()
    assert prediction.status == "done"
    assert ECGRecord.objects.count() == 1


def test_with_redis_down_the_api_still_answers(redis_down, api, patient):
    response = api.get(reverse("predictions-api:record-list"))
    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_an_api_server_error_is_json_and_a_page_error_says_what_may_be_lost():
    from ecgportal.views import server_error

    api_response = server_error(RequestFactory().get("/api/records/"))
    assert api_response.status_code == 500 and api_response["Content-Type"] == "application/json"
    assert b'"code": "server_error"' in api_response.content
    page = server_error(RequestFactory().get("/records/"))
    assert page.status_code == 500 and b"may not have been saved" in page.content
