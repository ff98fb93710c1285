"""The analysis task: outcomes, idempotency, retries of transient errors, model warm-up."""

import time

import pytest
from django.db import OperationalError

from ml.errors import InvalidSignalError
from predictions import selectors, services, tasks
from predictions.models import Prediction
from predictions.tests.conftest import upload
from predictions.tests.factories import DonePredictionFactory

pytestmark = pytest.mark.django_db

CALLS = {"n": 0}


def unusable_analyse(source, **kwargs):
    raise InvalidSignalError("The signal is a flat line: all samples have the same value.")


def flaky_analyse(source, **kwargs):
    CALLS["n"] += 1
    if CALLS["n"] == 1:
        raise OperationalError("server closed the connection unexpectedly")
    from predictions.tests.fakes import stub_analyse

    return stub_analyse(source, **kwargs)


@pytest.fixture
def pending(patient, csv_bytes, monkeypatch):
    monkeypatch.setattr(services, "_enqueue", lambda pk: None)
    record = services.ecg_record_create(owner=patient, files=[upload("ecg.csv", csv_bytes)])
    return record.current_prediction


def _run(prediction):
    result = tasks.analyse_prediction.apply(args=[prediction.pk], task_id="task-1")
    prediction.refresh_from_db()
    return result.result


def test_the_task_completes_a_prediction(pending):
    assert _run(pending) == "done"
    assert pending.status == "done" and pending.task_id == "task-1"
    assert pending.level and pending.assessment["level"] == pending.level
    assert "assessment" not in pending.summary  # stored once, in its own column
    assert "trace" not in pending.summary and "labels" not in pending.summary


PASSED = {}


def kwargs_spying_analyse(source, **kwargs):
    from predictions.tests.fakes import stub_analyse

    PASSED.update(kwargs)
    return stub_analyse(source, **kwargs)


def test_the_task_gives_the_analysis_the_owners_sex_and_age_on_the_recording_day(pending, settings):
    import datetime

    settings.PREDICTIONS_ANALYSER = "predictions.tests.test_tasks.kwargs_spying_analyse"
    owner, record = pending.record.owner, pending.record
    owner.sex, owner.birth_date = "M", datetime.date(1970, 1, 1)
    owner.save(update_fields=["sex", "birth_date"])
    record.recorded_on = datetime.date(2020, 1, 1)
    record.save(update_fields=["recorded_on"])
    assert _run(pending) == "done"
    assert PASSED["sex"] == "M" and 49.9 < PASSED["age"] < 50.1


def test_a_redelivered_task_does_not_recompute_a_finished_prediction(pending):
    _run(pending)
    finished_at = pending.finished_at
    assert _run(pending) == "skipped"
    assert pending.finished_at == finished_at and pending.beat_counts.count() == 2


def test_an_unusable_input_ends_inconclusive_with_the_readers_message(pending, settings):
    settings.PREDICTIONS_ANALYSER = "predictions.tests.test_tasks.unusable_analyse"
    assert _run(pending) == "inconclusive"
    assert pending.status == "inconclusive"
    assert pending.inconclusive_reason.startswith("The signal is a flat line")
    assert pending.error_code == "invalid_signal"


def test_a_bug_fails_cleanly_with_a_message_for_the_user(pending, settings):
    settings.PREDICTIONS_ANALYSER = "predictions.tests.fakes.broken_analyse"
    assert _run(pending) == "failed"
    assert pending.status == "failed" and pending.error_code == "internal_error"
    assert "error on our side" in pending.error_message


def test_a_transient_error_is_retried(pending, settings):
    CALLS["n"] = 0
    settings.PREDICTIONS_ANALYSER = "predictions.tests.test_tasks.flaky_analyse"
    tasks.analyse_prediction.apply(args=[pending.pk], task_id="task-1", throw=False)
    pending.refresh_from_db()
    assert CALLS["n"] == 2
    assert pending.status == "done" and pending.attempts == 2


def test_the_task_is_configured_for_redelivery_and_time_limits():
    task = tasks.analyse_prediction
    assert task.acks_late and task.reject_on_worker_lost
    assert OperationalError in task.autoretry_for
    from django.conf import settings

    assert settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT
    assert "requeue-stale-predictions" in settings.CELERY_BEAT_SCHEDULE


def test_a_worker_child_reports_up_at_once_while_the_model_loads(monkeypatch):
    """Celery kills a child that takes more than worker_proc_alive_timeout to start: loading the
    model must not hold up the child's start, and it still happens once, after the fork."""
    loaded = []

    def slow_load():
        time.sleep(1.5)  # TensorFlow and the model on a busy host take 5-13 s
        loaded.append(1)

    monkeypatch.setattr("ml.store.get_classifier", slow_load)
    started = time.monotonic()
    thread = tasks.warm_model()
    assert time.monotonic() - started < 0.5
    assert loaded == []
    thread.join(timeout=10)
    assert loaded == [1]


def test_a_broken_model_does_not_stop_the_child(monkeypatch, caplog):
    from ml import store
    from ml.errors import ModelFileError

    def broken():
        raise ModelFileError("checksum mismatch")

    monkeypatch.setattr(store, "get_classifier", broken)
    tasks.warm_model().join(timeout=10)
    assert "Could not preload the ECG model" in caplog.text


def test_the_child_start_timeout_leaves_room_for_a_busy_host():
    from django.conf import settings

    assert settings.CELERY_WORKER_PROC_ALIVE_TIMEOUT >= 20


def test_a_deleted_record_makes_the_task_a_no_op(pending):
    record = pending.record
    services.ecg_record_delete(record=record)
    assert tasks.analyse_prediction.apply(args=[pending.pk]).result == "skipped"
    assert not Prediction.objects.exists()


def test_web_process_never_imports_tensorflow():
    """Importing the web side (views, API, services) must not pull TensorFlow in."""
    import subprocess
    import sys

    code = (
        "import django, os, sys; os.environ['DJANGO_SETTINGS_MODULE']='ecgportal.settings.test'; django.setup();"
        "import predictions.views, predictions.api.views, predictions.services, predictions.tasks, predictions.validation;"
        "from django.urls import reverse; reverse('predictions:upload');"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False False"


def test_done_factory_matches_the_models_invariants():
    DonePredictionFactory().full_clean()


def test_an_analysis_past_its_time_limit_is_inconclusive_too_large(pending, settings):
    settings.PREDICTIONS_ANALYSER = "predictions.tests.fakes.too_slow_analyse"
    assert tasks.analyse_prediction.apply(args=[pending.pk]).result == "inconclusive"
    pending.refresh_from_db()
    assert pending.status == "inconclusive" and pending.error_code == "too_large"
    assert pending.inconclusive_reason.startswith("Too large to read")


def test_folders_of_killed_analyses_are_removed_when_a_worker_starts(tmp_path):
    import os

    old = tmp_path / "ecg-upload-old"
    old.mkdir()
    (old / "source.csv").write_text("1\n")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    fresh = tmp_path / "ecg-upload-running"
    fresh.mkdir()
    other = tmp_path / "someone-elses"
    other.mkdir()
    os.utime(other, (time.time() - 3600, time.time() - 3600))
    assert tasks.remove_stale_temp_dirs(older_than_s=600, root=tmp_path) == 1
    assert not old.exists() and fresh.exists() and other.exists()


def test_the_analysis_reports_each_stage_and_clears_it_when_done(pending, settings):
    from predictions.tests import fakes

    fakes.SEEN_STAGES.clear()
    settings.PREDICTIONS_ANALYSER = "predictions.tests.fakes.stage_spying_analyse"
    assert tasks.analyse_prediction.apply(args=[pending.pk]).result == "done"
    assert fakes.SEEN_STAGES == ["reading", "finding_beats", "classifying"]
    assert selectors.prediction_current(record=pending.record).stage == ""  # a finished one shows none
