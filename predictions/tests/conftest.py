"""Fixtures for the predictions tests.

Unit tests run the Celery task in-process (eager) with the real ``ml`` pipeline and a stub
classifier (no TensorFlow). End-to-end tests (``@pytest.mark.e2e``) use a real worker instead.
"""

import os
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.tests.factories import DoctorFactory, UnverifiedDoctorFactory, UserFactory
from predictions.tests import samples
from predictions.tests.factories import link


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
