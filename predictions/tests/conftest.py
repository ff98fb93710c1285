"""Fixtures for the predictions tests.

Unit tests run the Celery task in-process (eager) with the real ``ml`` pipeline and a stub
classifier (no TensorFlow). End-to-end tests (``@pytest.mark.e2e``) use a real worker instead.
"""

import os
import time
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from accounts.tests.factories import DoctorFactory, UnverifiedDoctorFactory, UserFactory
from ecgportal.testing import require
from predictions.models import Prediction
from predictions.tests import samples
from predictions.tests.factories import link
from predictions.tests.worker import WorkerProcess, database_url, purge_queue


@pytest.fixture(autouse=True)
def _in_process_analysis(request, settings):
    """Run analyses eagerly with the stub classifier, except in end-to-end tests."""
    if request.node.get_closest_marker("e2e"):
        yield
        return
    from ecgportal.celery import app

    settings.PREDICTIONS_ANALYSER = "predictions.tests.fakes.stub_analyse"
    settings.PREDICTIONS_QUEUE = None
    # The app reads Django settings with the CELERY_ namespace, so its keys carry the prefix.
    old = app.conf.CELERY_TASK_ALWAYS_EAGER, app.conf.CELERY_TASK_EAGER_PROPAGATES
    app.conf.CELERY_TASK_ALWAYS_EAGER, app.conf.CELERY_TASK_EAGER_PROPAGATES = True, True
    yield
    app.conf.CELERY_TASK_ALWAYS_EAGER, app.conf.CELERY_TASK_EAGER_PROPAGATES = old


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Forget upload rate-limit counters so tests do not throttle each other (Redis outlives runs)."""
    if hasattr(cache, "delete_pattern"):
        cache.delete_pattern("throttle_*")
    else:
        cache.clear()


def media_files(settings):
    """Return every stored file under MEDIA_ROOT (relative paths)."""
    root = Path(settings.MEDIA_ROOT)
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture
def patient(db):
    return UserFactory(first_name="Pat", last_name="Ient")


@pytest.fixture
def other_patient(db):
    return UserFactory()


@pytest.fixture
def doctor(db, patient):
    doc = DoctorFactory(first_name="Dora", last_name="Doc")
    link(patient=patient, doctor=doc)
    return doc


@pytest.fixture
def unlinked_doctor(db):
    return DoctorFactory()


@pytest.fixture
def unverified_doctor(db, patient):
    doc = UnverifiedDoctorFactory()
    link(patient=patient, doctor=doc)
    return doc


@pytest.fixture
def patient_client(client, patient):
    client.force_login(patient)
    return client


@pytest.fixture
def api(patient):
    from rest_framework.test import APIClient

    c = APIClient()
    c.force_authenticate(patient)
    return c


@pytest.fixture(scope="session")
def excerpt_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("excerpts")


@pytest.fixture(scope="session")
def wfdb_pair(data_dir, excerpt_dir):
    """Return (hea bytes, dat bytes, reference beats) of 30 s of MIT-BIH record 119 (V beats)."""
    hea, dat, reference = samples.mitdb_excerpt(data_dir, excerpt_dir, record="119", start_s=60, seconds=30)
    return hea.read_bytes(), dat.read_bytes(), reference


@pytest.fixture
def wfdb_uploads(wfdb_pair):
    hea, dat, _ = wfdb_pair
    return [
        SimpleUploadedFile("x119.hea", hea, content_type="application/octet-stream"),
        SimpleUploadedFile("x119.dat", dat, content_type="application/octet-stream"),
    ]


@pytest.fixture(scope="session")
def csv_bytes(data_dir):
    return samples.mitdb_csv(data_dir)


def upload(name, data, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def env_flag(name):
    return os.environ.get(name, "").lower() in {"1", "true", "yes"}


# --- end to end: a real worker over this session's PostgreSQL, Redis and media ---------------


@pytest.fixture(scope="session")
def worker_media(tmp_path_factory):
    return tmp_path_factory.mktemp("worker-media")


@pytest.fixture(scope="session")
def e2e_env(django_db_setup, django_db_blocker, redis_url, artifacts_dir, worker_media):
    """Return what a worker needs to share this test session's database, broker and media."""
    require(connection.vendor == "postgresql", "end-to-end tests need PostgreSQL (set DATABASE_URL)")
    return {
        "database_url": database_url(connection.settings_dict),
        "redis_url": redis_url,
        "media_root": worker_media,
        "artifacts": artifacts_dir,
    }


@pytest.fixture(scope="session")
def worker(e2e_env):
    """A real worker running the real ``ml.analyse`` for the whole session."""
    proc = WorkerProcess(
        database_url=e2e_env["database_url"],
        redis_url=e2e_env["redis_url"],
        media_root=e2e_env["media_root"],
        log_path=e2e_env["artifacts"] / "predictions-worker.log",
    )
    proc.start()
    yield proc
    proc.stop()
    purge_queue(e2e_env["redis_url"], proc.queue)


@pytest.fixture
def shared(settings, worker_media):
    """Point this test's storage and task queue at the worker's."""
    settings.MEDIA_ROOT = worker_media

    def use(proc):
        settings.PREDICTIONS_QUEUE = proc.queue
        return proc

    return use


def wait_finished(record_uuid, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        prediction = Prediction.objects.filter(record__uuid=record_uuid, is_current=True).first()
        if prediction and prediction.is_finished:
            return prediction
        time.sleep(0.2)
    raise AssertionError(f"the prediction did not finish in {timeout} s: {prediction and prediction.status}")


def log_in_browser(page, client, user, live_server):
    """Give the browser a session of ``user`` (login itself is tested by accounts)."""
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    host = live_server.url.split("//", 1)[1].split(":")[0]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "domain": host, "path": "/"}])
