"""The upload's hot path (issue 23): what it no longer does, and what it still enforces.

Constraints are left to PostgreSQL (not re-queried one SELECT each before a write), the stage of a
running analysis lives in the cache, the result is written once, a stored file is read where it
lies; the SQL statements of an upload and of its task are counted so they do not creep back.
"""

import threading
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from predictions import selectors, services, tasks
from predictions.models import ECGRecord, Prediction, stage_cache_key
from predictions.tests import samples
from predictions.tests.conftest import upload
from predictions.tests.factories import ECGRecordFactory, PredictionFactory

pytestmark = pytest.mark.django_db


def _statements(queries):
    return [q["sql"] for q in queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]


def _api_client(user):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_an_api_upload_runs_few_statements_and_none_re_checks_a_constraint(patient, csv_bytes):
    client = _api_client(patient)
    with CaptureQueriesContext(connection) as queries:
        response = client.post(reverse("predictions-api:record-list"), {"file": upload("ecg.csv", csv_bytes)},
                               format="multipart")
    assert response.status_code == 201, response.content
    sql = _statements(queries.captured_queries)  # the test's transaction holds the task back
    # No "SELECT 1 AS _check WHERE <condition>" per constraint, no uniqueness probe of the new uuid.
    assert not [s for s in sql if 'AS "_check"' in s or ('SELECT 1 AS "a"' in s and '"uuid" =' in s)], sql
    # Token, user, owner's lock, duplicate probe, record, day's activity, prediction.
    assert len(sql) <= 7, "\n".join(sql)


def test_the_upload_answer_is_built_from_what_was_written_not_read_back(patient, csv_bytes):
    """The record and its prediction are answered as written: no second read of either (it cost
    3 statements an upload), and the answer is the one a read of the record gives afterwards."""
    client = _api_client(patient)
    with CaptureQueriesContext(connection) as queries:
        response = client.post(reverse("predictions-api:record-list"), {"file": upload("ecg.csv", csv_bytes)},
                               format="multipart")
    assert response.status_code == 201, response.content
    reads = [s for s in _statements(queries.captured_queries) if s.startswith("SELECT")]
    assert sum('FROM "predictions_ecgrecord"' in s for s in reads) == 1, reads  # the duplicate probe only
    assert not [s for s in reads if 'FROM "predictions_prediction"' in s or 'FROM "predictions_beatcount"' in s], reads
    answer = response.json()
    assert answer["prediction"]["status"] == "pending" and response["Location"] == answer["links"]["detail"]
    assert client.get(answer["links"]["detail"]).json() == answer


def test_the_same_file_again_answers_with_the_earlier_record_and_its_prediction(patient, csv_bytes):
    client = _api_client(patient)
    first = client.post(reverse("predictions-api:record-list"), {"file": upload("ecg.csv", csv_bytes)},
                        format="multipart")
    again = client.post(reverse("predictions-api:record-list"), {"file": upload("ecg.csv", csv_bytes)},
                        format="multipart")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json() and again.json()["prediction"] is not None


def test_the_task_saves_a_result_in_few_statements(patient, csv_bytes, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        record = services.ecg_record_create(owner=patient, files=[upload("ecg.csv", csv_bytes)])
    prediction = record.predictions.get()
    with CaptureQueriesContext(connection) as queries:
        assert tasks.analyse_prediction.apply(args=[prediction.pk]).result == "done"
    sql = _statements(queries.captured_queries)
    prediction.refresh_from_db()
    assert prediction.status == "done" and prediction.images.count() == 4 and prediction.beat_counts.count() == 2
    # One UPDATE to start, one for the result; the images and the counts one INSERT each.
    assert sum(s.startswith("UPDATE") for s in sql) == 2, sql
    assert sum(s.startswith('INSERT INTO "predictions_predictionimage"') for s in sql) == 1, sql
    assert not [s for s in sql if 'AS "_check"' in s], sql
    assert len(sql) <= 20, "\n".join(sql)


def test_the_database_still_refuses_a_record_the_constraints_forbid(patient, csv_bytes, settings):
    """No constraint is re-checked in Python before the INSERT: PostgreSQL's refusal comes back as
    the same message full_clean gave, and nothing is stored."""
    from predictions.errors import UploadError
    from predictions.tests.conftest import media_files

    with pytest.raises(UploadError) as refused:
        services.ecg_record_create(owner=patient, files=[upload("ecg.csv", csv_bytes)], sampling_rate=1e6)
    assert refused.value.code == "invalid_metadata" and refused.value.field == "__all__"
    assert refused.value.message == ECGRecord.SAMPLING_RATE_MESSAGE
    assert not ECGRecord.objects.exists() and media_files(settings) == []


def test_a_finish_the_constraints_forbid_is_refused_by_the_database(patient):
    """A done prediction without a model version: the row's constraint refuses it on save."""
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    prediction = PredictionFactory(record=ECGRecordFactory(owner=patient), status="running",
                                   started_at=timezone.now(), attempts=1)
    with pytest.raises(IntegrityError, match="prediction_done_has_model_version"), transaction.atomic():
        services._finish(prediction, status=Prediction.Status.DONE, model_version="", level="normal",
                         assessment={"level": "normal"})
    prediction.refresh_from_db()
    assert prediction.status == "running"


def test_a_reported_stage_goes_to_the_cache_not_the_row(patient):
    from django.utils import timezone

    prediction = PredictionFactory(record=ECGRecordFactory(owner=patient), status="running",
                                   started_at=timezone.now(), attempts=1)
    with CaptureQueriesContext(connection) as queries:
        services.prediction_report_stage(prediction_id=prediction.pk, stage="classifying")
    assert queries.captured_queries == []
    assert selectors.prediction_current(record=prediction.record).stage == "classifying"


def test_the_prediction_table_keeps_no_stage_column():
    """The stage lives in the cache only: no column is left for a write to creep back into."""
    with connection.cursor() as cursor:
        columns = {c.name for c in connection.introspection.get_table_description(cursor, "predictions_prediction")}
    assert "status" in columns and "stage" not in columns


def test_the_result_page_shows_the_stage_from_the_cache(patient_client, patient):
    from django.core.cache import cache
    from django.utils import timezone

    prediction = PredictionFactory(record=ECGRecordFactory(owner=patient), status="running",
                                   started_at=timezone.now(), attempts=1)
    cache.set(stage_cache_key(prediction.pk), "finding_beats")
    html = patient_client.get(reverse("predictions:status", kwargs={"uuid": prediction.record.uuid})).content.decode()
    assert "finding every heartbeat" in html.lower()


@pytest.fixture
def analysed_paths(monkeypatch):
    """The paths the task hands to the analyser (a stub analysis), in order."""
    from predictions.tests.fakes import stub_analyse

    seen = []

    def spy(source, **kwargs):
        seen.append(str(source))
        return stub_analyse(source, **kwargs)

    monkeypatch.setattr(tasks, "get_analyser", lambda: spy)
    return seen


def test_a_stored_single_file_is_analysed_where_it_lies(patient, csv_bytes, settings, analysed_paths,
                                                        django_capture_on_commit_callbacks):
    seen = analysed_paths
    with django_capture_on_commit_callbacks(execute=True):
        record = services.ecg_record_create(owner=patient, files=[upload("ecg.csv", csv_bytes)])
    assert seen == [record.file.path]
    assert record.predictions.get().status == "done"


def test_a_wfdb_record_is_still_laid_out_under_its_header_names(patient, wfdb_uploads, analysed_paths,
                                                                django_capture_on_commit_callbacks):
    seen = analysed_paths
    with django_capture_on_commit_callbacks(execute=True):
        record = services.ecg_record_create(owner=patient, files=wfdb_uploads)
    assert len(seen) == 1 and seen[0] != record.file.path and seen[0].endswith(".hea")
    assert record.predictions.get().status == "done"


def test_concurrent_first_sends_all_find_the_task(monkeypatch):
    """Two threads of a fresh gthread worker sending their first task at once: the second must not
    find the task half-registered (it raised NotRegistered and the upload waited for the sweep)."""
    registry, importing = {}, threading.Event()

    def slow_first_lookup(name):
        if name not in registry:
            if importing.is_set():  # another thread is mid-import: the task is not there yet
                raise KeyError(name)
            importing.set()
            time.sleep(0.2)
            registry[name] = object()
        return registry[name]

    monkeypatch.setattr(services, "task", slow_first_lookup)
    found, errors = [], []

    def send():
        try:
            found.append(services._analyse_task())
        except KeyError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(found) == 4 and len(set(map(id, found))) == 1


def test_an_image_upload_is_analysed_from_its_stored_png(patient, data_dir, analysed_paths,
                                                         django_capture_on_commit_callbacks):
    seen = analysed_paths
    _, png = samples.beat_image(data_dir)
    with django_capture_on_commit_callbacks(execute=True):
        record = services.ecg_record_create(owner=patient, files=[upload("beat.png", png)])
    assert seen == [record.file.path] and seen[0].endswith(".png")
    assert record.predictions.get().is_finished


def test_a_finished_status_read_is_audited_in_one_insert(patient):
    """Every read of a result stays on the trail (who, what, when, through which door), written by
    one INSERT: no transaction, lock or head lookup of its own around it (5 statements before)."""
    from audit.models import AuditEvent
    from predictions.tests.factories import DonePredictionFactory

    record = DonePredictionFactory(record=ECGRecordFactory(owner=patient)).record
    client = _api_client(patient)
    url = reverse("predictions-api:record-status", kwargs={"uuid": record.uuid})
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200 and response.json()["is_finished"]
    sql = _statements(queries.captured_queries)
    audit = [s for s in sql if "audit_auditevent" in s or "advisory" in s]
    assert len(audit) == 1 and audit[0].startswith('INSERT INTO "audit_auditevent"'), audit
    event = AuditEvent.objects.get()
    assert (event.actor_id, event.patient_id, event.action, event.door, event.object_id) == (
        patient.pk, patient.pk, "view", "api", str(record.uuid))
    assert event.created_at is not None and event.prev_hash and event.row_hash


def test_a_finished_status_read_fetches_no_images_reviews_or_counts(patient):
    """The status answer carries none of them: they are fetched for the result, not for its status."""
    from predictions.tests.factories import DonePredictionFactory

    record = DonePredictionFactory(record=ECGRecordFactory(owner=patient)).record
    client = _api_client(patient)
    url = reverse("predictions-api:record-status", kwargs={"uuid": record.uuid})
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).json()["status"] == "done"
    sql = _statements(queries.captured_queries)
    assert not [s for s in sql if 'FROM "predictions_predictionimage"' in s or 'FROM "predictions_review"' in s
                or 'FROM "predictions_beatcount"' in s], sql
    # Token, record, its current prediction, the audit event.
    assert len(sql) <= 4, "\n".join(sql)


def test_the_result_after_a_status_read_still_has_its_counts(patient, client):
    """The page's status fragment reads the record without counts, then shows the finished result
    with them (``selectors.prediction_current`` fetches what the status read left out)."""
    from predictions.tests.factories import DonePredictionFactory

    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient))
    counts = {c.code: c.count for c in prediction.beat_counts.all()}
    assert counts
    client.force_login(patient)
    page = client.get(reverse("predictions:status", kwargs={"uuid": prediction.record.uuid})).content.decode()
    for code, count in counts.items():
        assert f'data-code="{code}" data-count="{count}"' in page, (code, count)
