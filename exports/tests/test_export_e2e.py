"""End to end: a real Celery worker process builds the export over PostgreSQL and Redis."""

import io
import time
import types
import zipfile

import pytest
from django.db import connection
from django.urls import reverse

from ecgportal.testing import require
from exports.models import DataExport
from predictions.tests.factories import CSV_BYTES, DonePredictionFactory, ECGRecordFactory
from predictions.tests.worker import WorkerProcess, database_url, purge_queue

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def no_model():
    """Stand in for the ECG model the worker would preload: exports need none."""
    return types.SimpleNamespace(version="none")


@pytest.fixture
def export_worker(django_db_setup, redis_url, artifacts_dir, settings, tmp_path):
    require(connection.vendor == "postgresql", "end-to-end tests need PostgreSQL (set DATABASE_URL)")
    settings.MEDIA_ROOT = tmp_path / "shared-media"
    # Export tasks go to Celery's default queue, the one `make worker` consumes.
    proc = WorkerProcess(
        database_url=database_url(connection.settings_dict),
        redis_url=redis_url,
        media_root=settings.MEDIA_ROOT,
        log_path=artifacts_dir / "exports-worker.log",
        queue="celery",
        extra_env={"PREDICTIONS_MODEL_WARMUP": "exports.tests.test_export_e2e.no_model"},
    )
    purge_queue(redis_url, "celery")
    proc.start()
    yield proc
    proc.stop()
    purge_queue(redis_url, "celery")


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_builds_the_archive_the_patient_downloads(export_worker, patient, client):
    record = ECGRecordFactory(owner=patient, original_filename="day1.csv")
    DonePredictionFactory(record=record)
    client.force_login(patient)
    assert client.post(reverse("exports:request")).status_code == 302
    export = DataExport.objects.get(owner=patient)
    deadline = time.monotonic() + 120
    while export.status == "pending" and time.monotonic() < deadline:
        time.sleep(0.3)
        export.refresh_from_db()
    assert export.status == "ready", (export.status, export.error_message, export_worker.log()[-3000:])
    response = client.get(reverse("exports:download", kwargs={"uuid": export.uuid}))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.read(f"records/{record.uuid}/original/day1.csv") == CSV_BYTES
    assert archive.read(f"records/{record.uuid}/report.pdf").startswith(b"%PDF")
    assert "export" in archive.read("audit_trail.csv").decode()
