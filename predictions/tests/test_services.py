"""Records and predictions through the services: storage, lifecycle, idempotency, deletion, sweep."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.tests.factories import UserFactory
from ml.classes import CODES
from predictions import claims, services
from predictions.models import BeatCount, ECGRecord, Prediction, PredictionImage
from predictions.tests import samples
from predictions.tests.conftest import media_files, upload
from predictions.tests.factories import DonePredictionFactory, ECGRecordFactory, PredictionFactory

pytestmark = pytest.mark.django_db


def _create(owner, files, capture, **kw):
    with capture(execute=True):
        record = services.ecg_record_create(owner=owner, files=files, **kw)
    record.refresh_from_db()
    return record


def test_wfdb_pair_is_stored_privately_and_analysed(patient, wfdb_uploads, django_capture_on_commit_callbacks, settings):
    record = _create(patient, wfdb_uploads, django_capture_on_commit_callbacks, note="after exercise")
    assert record.file_format == "wfdb" and record.input_kind == "signal"
    assert record.original_filename == "x119.hea" and record.companion_filename == "x119.dat"
    # Stored names carry no user text; both files are on the private storage.
    assert record.file.name == f"ecg/{record.uuid}/source.hea"
    assert record.companion_file.name == f"ecg/{record.uuid}/source.dat"
    assert len(record.sha256) == 64 and record.size_bytes == sum(f.size for f in wfdb_uploads)
    prediction = record.current_prediction
    assert prediction.status == Prediction.Status.DONE
    assert prediction.model_version == "stub-1"
    assert prediction.attempts == 1 and prediction.duration_ms is not None
    assert prediction.beat_total == len(prediction.beats["labels"]) == len(prediction.beats["r_peaks"]) > 25
    counts = {c.code: c.count for c in prediction.beat_counts.all()}
    assert sum(counts.values()) == prediction.beat_total and set(counts) == {"N", "V"}
    assert 40 < prediction.heart_rate_bpm < 120
    kinds = sorted(prediction.images.values_list("kind", flat=True))
    assert kinds == ["saliency", "saliency", "spectral", "spectral"]
    assert len(media_files(settings)) == 2 + 5


@pytest.mark.parametrize(
    "name,build,fmt,kind",
    [
        ("ecg.csv", lambda d: samples.mitdb_csv(d), "csv", "signal"),
        ("ecg.edf", lambda d: samples.mitdb_edf(d), "edf", "signal"),
        ("beat.png", lambda d: samples.beat_image(d)[1], "png", "image"),
        ("strip.pdf", lambda d: samples.pdf_with_page(), "pdf", "image"),
    ],
)
def test_every_supported_format_is_accepted(patient, data_dir, name, build, fmt, kind, django_capture_on_commit_callbacks):
    record = _create(patient, [upload(name, build(data_dir))], django_capture_on_commit_callbacks)
    assert (record.file_format, record.input_kind) == (fmt, kind)
    assert record.current_prediction.is_finished


def test_jpeg_is_recognised_by_content_not_name(patient):
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (200, 100), "white").save(out, format="JPEG")
    record = services.ecg_record_create(owner=patient, files=[upload("photo.png", out.getvalue())])
    assert record.file_format == "jpeg"
    assert record.file.name.endswith(".jpg")


def test_an_unreadable_image_ends_inconclusive_with_the_reason(patient, django_capture_on_commit_callbacks):
    """A blank page (no grid, no trace) is never labelled."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("L", (600, 300), 255).save(out, format="PNG")
    record = _create(patient, [upload("blank.png", out.getvalue())], django_capture_on_commit_callbacks)
    prediction = record.current_prediction
    assert prediction.status == Prediction.Status.INCONCLUSIVE
    assert prediction.inconclusive_reason
    assert not prediction.beat_counts.exists()


def test_prediction_request_enqueues_only_after_commit(patient, monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(services, "_enqueue", sent.append)
    record = ECGRecordFactory(owner=patient)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            prediction = services.prediction_request(record=record)
            assert sent == []
        assert prediction.status == Prediction.Status.PENDING
    assert len(callbacks) == 1
    assert sent == [prediction.pk]  # sent once the outermost transaction committed


def test_completing_twice_stores_the_result_once(patient, wfdb_pair, tmp_path):
    from predictions.tests.fakes import stub_analyse

    hea, dat, _ = wfdb_pair
    (tmp_path / "x119.hea").write_bytes(hea)
    (tmp_path / "x119.dat").write_bytes(dat)
    result = stub_analyse(tmp_path / "x119.hea")
    prediction = PredictionFactory(record=ECGRecordFactory(owner=patient))
    services.prediction_start(prediction_id=prediction.pk, task_id="t1")
    first = services.prediction_complete(prediction_id=prediction.pk, result=result)
    second = services.prediction_complete(prediction_id=prediction.pk, result=result)
    assert first is not None and second is None
    assert BeatCount.objects.filter(prediction=prediction).count() == 2
    prediction.refresh_from_db()
    assert prediction.signal and prediction.signal_fs == 360  # stored once, for the trace viewer
    assert PredictionImage.objects.filter(prediction=prediction, kind="trace").count() == 0  # the page draws it
    assert services.prediction_fail(prediction_id=prediction.pk, code="x", message="late") is None
    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.DONE


def test_start_skips_finished_and_rows_owned_by_another_live_task(patient):
    done = DonePredictionFactory()
    assert services.prediction_start(prediction_id=done.pk, task_id="t") is None
    running = PredictionFactory(status="running", started_at=timezone.now(), task_id="first", attempts=1)
    assert services.prediction_start(prediction_id=running.pk, task_id="duplicate") is None
    # The same task redelivered after its worker died takes the row over.
    again = services.prediction_start(prediction_id=running.pk, task_id="first")
    assert again is not None and again.attempts == 2
    assert services.prediction_start(prediction_id=999999, task_id="t") is None


def test_start_gives_up_after_too_many_attempts(settings):
    settings.PREDICTIONS_MAX_ATTEMPTS = 2
    prediction = PredictionFactory(attempts=2)
    assert services.prediction_start(prediction_id=prediction.pk, task_id="t") is None
    prediction.refresh_from_db()
    assert prediction.status == Prediction.Status.FAILED
    assert prediction.error_code == "too_many_attempts"


def test_rerun_keeps_history_and_makes_the_new_prediction_current(patient, monkeypatch):
    monkeypatch.setattr(services, "_enqueue", lambda pk: None)
    old = DonePredictionFactory(record=ECGRecordFactory(owner=patient))
    new = services.prediction_rerun(record=old.record)
    old.refresh_from_db()
    assert new.pk != old.pk and new.is_current and not old.is_current
    assert new.status == Prediction.Status.PENDING
    # A re-run while one is waiting does not queue a second one.
    assert services.prediction_rerun(record=old.record).pk == new.pk
    assert old.record.predictions.count() == 2


def test_database_refuses_two_current_predictions_and_impossible_states():
    record = ECGRecordFactory()
    PredictionFactory(record=record)
    with pytest.raises(IntegrityError), transaction.atomic():
        PredictionFactory(record=record)
    with pytest.raises(IntegrityError), transaction.atomic():
        PredictionFactory(record=ECGRecordFactory(), status="done")  # done without finish time or model
    with pytest.raises(IntegrityError), transaction.atomic():
        BeatCount.objects.create(prediction=DonePredictionFactory(counts={}), code="XX", count=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        ECGRecordFactory(file_format="wfdb")  # a WFDB record without its .dat
    assert set(CODES) >= {"N", "V"}


def test_delete_removes_rows_and_every_file(patient, wfdb_uploads, django_capture_on_commit_callbacks, settings):
    record = _create(patient, wfdb_uploads, django_capture_on_commit_callbacks)
    assert media_files(settings)
    with django_capture_on_commit_callbacks(execute=True):
        services.ecg_record_delete(record=record)
    assert not ECGRecord.objects.exists() and not Prediction.objects.exists()
    assert not PredictionImage.objects.exists() and not BeatCount.objects.exists()
    assert media_files(settings) == []


def test_purge_for_user_deletes_only_that_users_records(patient, other_patient, csv_bytes, django_capture_on_commit_callbacks, settings):
    for i in range(2):  # two different files (the same one twice within a minute is one ECG)
        _create(patient, [upload("a.csv", csv_bytes + b"\n" * i)], django_capture_on_commit_callbacks)
    kept = _create(other_patient, [upload("b.csv", csv_bytes)], django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.ecg_record_purge_for_user(user=patient) == 2
    assert list(ECGRecord.objects.all()) == [kept]
    assert all(str(kept.uuid) in name for name in media_files(settings))


def test_stale_sweep_requeues_lost_and_abandoned_predictions(monkeypatch, settings, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr(services, "_enqueue", sent.append)
    now = timezone.now()
    lost = PredictionFactory(queued_at=now - timedelta(hours=1))
    fresh = PredictionFactory(queued_at=now)
    abandoned = PredictionFactory(status="running", started_at=now - timedelta(hours=2), attempts=1)
    busy = PredictionFactory(status="running", started_at=now - timedelta(seconds=5), attempts=1)
    hopeless = PredictionFactory(status="running", started_at=now - timedelta(hours=2), attempts=settings.PREDICTIONS_MAX_ATTEMPTS)
    with django_capture_on_commit_callbacks(execute=True), claims.analysis_claim(busy.pk):  # a live worker's
        assert services.prediction_requeue_stale() == 2
    assert sorted(sent) == sorted([lost.pk, abandoned.pk])
    for p in (lost, fresh, abandoned, busy, hopeless):
        p.refresh_from_db()
    assert abandoned.status == "pending" and abandoned.started_at is None
    assert lost.queued_at > now - timedelta(seconds=5)
    assert busy.status == "running" and fresh.status == "pending"
    assert hopeless.status == "failed" and hopeless.error_code == "too_many_attempts"


def test_requeue_command_reports_what_it_did(monkeypatch, capsys, django_capture_on_commit_callbacks):
    monkeypatch.setattr(services, "_enqueue", lambda pk: None)
    PredictionFactory(queued_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("requeue_stale_predictions")
    assert "Re-queued 1 stale prediction(s)." in capsys.readouterr().out


def test_accounts_deletion_hook_is_callable_for_a_user_without_records():
    assert services.ecg_record_purge_for_user(user=UserFactory()) == 0


def test_a_renamed_dat_file_is_paired_with_its_header_by_content(patient, wfdb_pair, django_capture_on_commit_callbacks):
    hea, dat, _ = wfdb_pair
    files = [upload("signal-data.bin", dat), upload("my-record.hea", hea)]  # any order, any names
    record = _create(patient, files, django_capture_on_commit_callbacks)
    assert record.original_filename == "my-record.hea" and record.companion_filename == "signal-data.bin"
    assert record.current_prediction.status == Prediction.Status.DONE


def test_the_sampling_rate_rule_holds_without_the_form(patient, csv_bytes, settings):
    """The model's constraint (one rule, one message) refuses what a form would; nothing is stored."""
    from predictions.errors import UploadError

    with pytest.raises(UploadError) as refused:
        services.ecg_record_create(owner=patient, files=[upload("ecg.csv", csv_bytes)], sampling_rate=1e6)
    assert refused.value.code == "invalid_metadata"
    assert "at least 50 Hz and at most 5000 Hz" in refused.value.message
    assert not ECGRecord.objects.exists() and media_files(settings) == []
