"""The status long-poll (issue 23): ``?wait=`` answers when the analysis moves on, not a poll later.

The worker publishes each change on the prediction's Redis channel; a waiting read sleeps on that
subscription (no query while it waits) and wakes at once; the access is checked again and a
finished answer audited after the wait.
"""

import threading
import time

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from ecgportal.testing import require
from predictions import selectors, services
from predictions.models import Prediction
from predictions.tests.factories import DonePredictionFactory, ECGRecordFactory, PredictionFactory


def _api_status(record):
    return reverse("predictions-api:record-status", kwargs={"uuid": record.uuid})


def _page_status(record):
    return reverse("predictions:status", kwargs={"uuid": record.uuid})


def _audits(record):
    return AuditEvent.objects.filter(object_id=str(record.uuid)).count()


@pytest.mark.django_db
@pytest.mark.parametrize("wait", ["soon", "-1", "nan", "inf", "26", "1e309", "1,5"])
def test_a_bad_wait_is_refused_with_its_rule(api, patient_client, patient, wait):
    record = PredictionFactory(record=ECGRecordFactory(owner=patient)).record
    response = api.get(_api_status(record), {"wait": wait})
    assert response.status_code == 400
    assert response.json() == {"code": "invalid_wait", "detail": "wait is a number of seconds from 0 to 25."}
    page = patient_client.get(_page_status(record), {"wait": wait})
    assert page.status_code == 400 and page.content.decode() == "wait is a number of seconds from 0 to 25."


@pytest.mark.django_db
def test_a_finished_result_is_answered_at_once_and_audited_once(api, patient):
    record = DonePredictionFactory(record=ECGRecordFactory(owner=patient)).record
    started = time.monotonic()
    response = api.get(_api_status(record), {"wait": 20})
    assert response.status_code == 200 and response.json()["is_finished"]
    assert time.monotonic() - started < 2
    assert _audits(record) == 1


@pytest.mark.django_db
def test_an_unchanged_analysis_is_answered_after_the_wait_without_an_audit(api, patient):
    record = PredictionFactory(record=ECGRecordFactory(owner=patient)).record
    started = time.monotonic()
    response = api.get(_api_status(record), {"wait": 0.6})
    elapsed = time.monotonic() - started
    assert response.status_code == 200 and response.json()["status"] == "pending"
    assert 0.55 <= elapsed < 5
    assert _audits(record) == 0  # "still queued" holds no clinical data


@pytest.mark.django_db
def test_someone_else_cannot_wait_on_a_record(api, other_patient):
    record = PredictionFactory(record=ECGRecordFactory(owner=other_patient)).record
    started = time.monotonic()
    assert api.get(_api_status(record), {"wait": 5}).status_code == 404
    assert time.monotonic() - started < 2  # refused before any wait


def _later(seconds, action):
    def run():
        try:
            time.sleep(seconds)
            action()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_the_wait_ends_when_the_worker_starts_and_again_when_it_finishes(api, patient):
    prediction = PredictionFactory(record=ECGRecordFactory(owner=patient))
    record = prediction.record

    thread = _later(0.5, lambda: services.prediction_start(prediction_id=prediction.pk, task_id="t1"))
    started = time.monotonic()
    response = api.get(_api_status(record), {"wait": 20})
    assert response.json()["status"] == "running"
    assert 0.45 <= time.monotonic() - started < 3
    thread.join()

    thread = _later(0.5, lambda: services.prediction_fail(prediction_id=prediction.pk, code="x", message="Broken."))
    started = time.monotonic()
    response = api.get(_api_status(record), {"wait": 20})
    thread.join()
    assert response.json()["status"] == "failed" and response.json()["is_finished"]
    assert time.monotonic() - started < 3
    assert _audits(record) == 1  # the finished answer, after the wait


@pytest.mark.django_db(transaction=True)
def test_until_finished_sleeps_through_the_start_and_answers_the_finished_result(api, patient):
    """``?until=finished``: the worker starting (pending -> running) does not answer the read; the
    finished result does, in one read, audited once."""
    prediction = PredictionFactory(record=ECGRecordFactory(owner=patient))
    record = prediction.record

    def start_then_finish():
        services.prediction_start(prediction_id=prediction.pk, task_id="t1")
        time.sleep(0.6)
        services.prediction_fail(prediction_id=prediction.pk, code="x", message="Broken.")

    thread = _later(0.3, start_then_finish)
    started = time.monotonic()
    response = api.get(_api_status(record), {"wait": 20, "until": "finished"})
    elapsed = time.monotonic() - started
    thread.join()
    assert response.status_code == 200 and response.json()["status"] == "failed", response.json()
    assert 0.85 <= elapsed < 4  # not woken by "running" at 0.3 s
    assert _audits(record) == 1


@pytest.mark.django_db
def test_until_finished_still_answers_after_the_wait_while_running(api, patient):
    prediction = PredictionFactory(record=ECGRecordFactory(owner=patient), status="running",
                                   started_at=timezone.now(), attempts=1)
    started = time.monotonic()
    response = api.get(_api_status(prediction.record), {"wait": 0.6, "until": "finished"})
    assert response.status_code == 200 and response.json()["status"] == "running"
    assert 0.55 <= time.monotonic() - started < 5
    assert _audits(prediction.record) == 0


@pytest.mark.django_db
@pytest.mark.parametrize("until", ["", "done", "FINISHED", "finished,change"])
def test_a_bad_until_is_refused_with_its_rule(api, patient, until):
    record = PredictionFactory(record=ECGRecordFactory(owner=patient)).record
    response = api.get(_api_status(record), {"wait": 1, "until": until})
    assert response.status_code == 400 and response.json()["code"] == "invalid_until"
    assert "'finished'" in response.json()["detail"]


@pytest.mark.django_db(transaction=True)
def test_the_page_wakes_on_a_new_stage(patient_client, patient):
    prediction = PredictionFactory(record=ECGRecordFactory(owner=patient), status="running",
                                   started_at=timezone.now(), attempts=1)
    thread = _later(0.4, lambda: services.prediction_report_stage(prediction_id=prediction.pk, stage="classifying"))
    started = time.monotonic()
    html = patient_client.get(_page_status(prediction.record), {"wait": 20}).content.decode()
    thread.join()
    assert time.monotonic() - started < 3
    assert 'data-stage="classifying"' in html and "Analysing your ECG: classifying each beat" in html


@pytest.mark.django_db(transaction=True)
def test_a_record_deleted_during_the_wait_is_a_404(api, patient):
    prediction = PredictionFactory(record=ECGRecordFactory(owner=patient))
    record = prediction.record
    thread = _later(0.4, lambda: services.ecg_record_delete(record=record))
    response = api.get(_api_status(record), {"wait": 20})
    thread.join()
    assert response.status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_waiting_read_sleeps_on_the_channel_not_on_the_database(patient, monkeypatch):
    """With Redis, the wait makes no query until told: a change nobody publishes is not seen
    before the periodic re-check, and a published one is seen at once."""
    from django.conf import settings
    from django.test.utils import CaptureQueriesContext

    require(bool(getattr(settings, "REDIS_URL", "")), "the long-poll's channel is in Redis; set REDIS_URL")
    monkeypatch.setattr(selectors, "_RECHECK_S", 3.0)
    prediction = PredictionFactory(record=ECGRecordFactory(owner=patient))

    silent = _later(0.2, lambda: Prediction.objects.filter(pk=prediction.pk).update(
        status="running", started_at=timezone.now()))
    started = time.monotonic()
    with CaptureQueriesContext(connection) as queries:
        assert selectors.prediction_wait(prediction=prediction, wait_s=1.0) is True
    silent.join()
    assert time.monotonic() - started >= 0.95  # not seen at 0.2 s: nobody said
    assert len(queries.captured_queries) == 2  # one look before sleeping, one after; none while asleep

    prediction.refresh_from_db()

    def change_and_tell():
        Prediction.objects.filter(pk=prediction.pk).update(status="pending")
        services._publish_change(prediction.pk)

    told = _later(0.3, change_and_tell)
    started = time.monotonic()
    assert selectors.prediction_wait(prediction=prediction, wait_s=10) is True
    told.join()
    assert time.monotonic() - started < 2  # before the 3 s re-check: the message woke it


@pytest.mark.django_db(transaction=True)
def test_a_new_stage_wakes_no_query_in_a_read_that_shows_no_stage(patient, monkeypatch):
    """The worker's stage reports (4 an analysis) say they are only a stage: the API's wait, which
    shows none, sleeps on without looking at the database; the page's wait looks and answers."""
    from django.conf import settings
    from django.test.utils import CaptureQueriesContext

    require(bool(getattr(settings, "REDIS_URL", "")), "the long-poll's channel is in Redis; set REDIS_URL")
    monkeypatch.setattr(selectors, "_RECHECK_S", 3.0)
    prediction = PredictionFactory(record=ECGRecordFactory(owner=patient), status="running",
                                   started_at=timezone.now(), attempts=1)
    prediction.stage = ""

    def stages():
        for stage in ("reading", "finding_beats", "classifying"):
            services.prediction_report_stage(prediction_id=prediction.pk, stage=stage)
            time.sleep(0.1)

    reports = _later(0.2, stages)
    with CaptureQueriesContext(connection) as queries:
        assert selectors.prediction_wait(prediction=prediction, wait_s=1.2, until_finished=True) is False
    reports.join()
    # One look before sleeping and one when the wait ran out; none for the three stages (5 before).
    assert len(queries.captured_queries) == 2

    reports = _later(0.2, lambda: services.prediction_report_stage(prediction_id=prediction.pk, stage="saving"))
    started = time.monotonic()
    assert selectors.prediction_wait(prediction=prediction, wait_s=10, with_stage=True) is True
    reports.join()
    assert time.monotonic() - started < 2  # the page's wait woke at the new stage
