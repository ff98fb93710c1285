"""End to end over real services: PostgreSQL, Redis, a real Celery worker process, the real model,
and Chromium driving the pages. Uploads real MIT-BIH excerpts and a real single-beat image.
"""

import multiprocessing
import os
import signal
import time
import uuid
from datetime import timedelta

import numpy as np
import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from ml.classes import CODES
from predictions import services
from predictions.models import ECGRecord, Prediction
from predictions.tests import samples
from predictions.tests.conftest import log_in_browser as _log_in
from predictions.tests.conftest import upload, wait_finished
from predictions.tests.worker import WorkerProcess, purge_queue

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

TOLERANCE = 54  # samples at 360 Hz: 150 ms, the usual beat-matching window


def _spin(stop):
    while not stop.is_set():
        pass


@pytest.fixture
def busy_host():
    """Keep every core busy for the test, as CI's host is while it does other work."""
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    spinners = [ctx.Process(target=_spin, args=(stop,), daemon=True) for _ in range(os.cpu_count() or 2)]
    for p in spinners:
        p.start()
    yield
    stop.set()
    for p in spinners:
        p.join(timeout=5)
        if p.is_alive():
            p.kill()


def beat_agreement(r_peaks, labels, reference):
    """Return (matched share of reference beats, label agreement on matched beats, V found/V reference)."""
    peaks = np.asarray(r_peaks)
    matched = agree = v_ref = v_found = 0
    for sample, code in reference:
        j = int(np.argmin(np.abs(peaks - sample))) if len(peaks) else None
        hit = j is not None and abs(int(peaks[j]) - sample) <= TOLERANCE
        v_ref += code == "V"
        if hit:
            matched += 1
            agree += labels[j] == code
            v_found += code == "V" and labels[j] == "V"
    return matched / len(reference), agree / max(matched, 1), (v_found, v_ref)


@pytest.mark.django_db(transaction=True)
def test_api_upload_of_a_real_excerpt_is_classified_by_the_worker(worker, shared, patient, wfdb_pair):
    shared(worker)
    hea, dat, reference = wfdb_pair
    api = APIClient()
    api.force_authenticate(patient)
    response = api.post(
        reverse("predictions-api:record-list"),
        {"file": [upload("x119.hea", hea), upload("x119.dat", dat)], "note": "e2e"},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    links = response.json()["links"]
    seen = set()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status = api.get(links["status"]).json()
        seen.add(status["status"])
        if status["is_finished"]:
            break
        time.sleep(0.1)
    assert status["status"] == "done", (status, worker.log()[-3000:])
    assert seen & {"pending", "running"}, seen  # the client saw it queued or running first

    result = api.get(links["result"]).json()
    matched, agreement, (v_found, v_ref) = beat_agreement(result["beats"]["r_peaks"], result["beats"]["labels"], reference)
    assert matched >= 0.95, matched
    assert agreement >= 0.90, agreement
    assert v_ref >= 5 and v_found >= 0.8 * v_ref, (v_found, v_ref)
    assert result["counts"]["V"] >= v_found
    assert result["model_version"] and result["model_version"] != "stub-1"
    assert {im["kind"] for im in result["images"]} == {"spectral", "saliency"}  # the trace is drawn by the page
    assert api.get(result["images"][0]["url"]).status_code == 200
    prediction = Prediction.objects.get(record__uuid=response.json()["uuid"])
    assert prediction.attempts == 1 and prediction.started_at >= prediction.created_at
    assert api.get(links["report"]).content.startswith(b"%PDF")


@pytest.mark.django_db(transaction=True)
def test_api_upload_of_a_real_single_beat_image(worker, shared, patient, data_dir):
    shared(worker)
    name, data = samples.beat_image(data_dir, klass="Premature Ventricular Contractions", index=5)
    api = APIClient()
    api.force_authenticate(patient)
    response = api.post(reverse("predictions-api:record-list"), {"file": [upload(name, data)]}, format="multipart")
    assert response.status_code == 201, response.content
    prediction = wait_finished(response.json()["uuid"])
    assert prediction.status == "done", (prediction.status, prediction.inconclusive_reason, prediction.error_message)
    assert prediction.beat_total == 1 and prediction.beats["labels"][0] in CODES
    assert prediction.images.filter(kind="spectral").exists()


@pytest.mark.django_db(transaction=True)
def test_browser_upload_updates_the_result_page_by_itself(worker, shared, patient, wfdb_pair, live_server, page, client,
                                                          artifacts_dir, tmp_path, settings, redis_url):
    import redis

    shared(worker)
    # The upload's task waits on a queue of its own until the page is watching, then goes to the
    # worker: a fast worker on a busy host could otherwise finish before the page first loads.
    held = f"held-{uuid.uuid4().hex[:8]}"
    settings.PREDICTIONS_QUEUE = held
    hea, dat, _ = wfdb_pair
    (tmp_path / "x119.hea").write_bytes(hea)
    (tmp_path / "x119.dat").write_bytes(dat)
    _log_in(page, client, patient, live_server)

    page.goto(f"{live_server.url}{reverse('predictions:upload')}")
    page.set_input_files("#id_file", [str(tmp_path / "x119.hea"), str(tmp_path / "x119.dat")])
    assert page.inner_text("#chosen-files") == "x119.hea, x119.dat"
    page.fill("#id_note", "browser e2e")
    page.click("#upload-submit")
    page.wait_for_url("**/records/*-*/")
    # Record every status the page shows, and mark the document to prove it is never reloaded.
    page.evaluate(
        """() => { window.__sameDocument = true; window.__seen = [];
        const note = () => { const el = document.getElementById('result-body');
          if (el && window.__seen[window.__seen.length - 1] !== el.dataset.status) window.__seen.push(el.dataset.status); };
        note(); setInterval(note, 50); }"""
    )
    broker = redis.Redis.from_url(redis_url)
    for _ in range(100):  # the task is sent once the upload commits
        if broker.rpoplpush(held, worker.queue):
            break
        page.wait_for_timeout(50)
    else:
        raise AssertionError("the upload's task never reached the broker")
    page.wait_for_selector('#result-body[data-status="done"]', timeout=90_000)
    assert page.evaluate("window.__sameDocument") is True
    seen = page.evaluate("window.__seen")
    assert seen[0] in ("pending", "running") and seen[-1] == "done", seen
    # The whole-record viewer draws the stored signal; next/previous jump between PVCs.
    page.wait_for_selector('#trace-viewer[data-ready="true"]')
    page.select_option("#viewer-class", "V")
    page.click("#trace-viewer .viewer-next")
    page.wait_for_function("document.querySelector('#trace-viewer .viewer-info').textContent.includes('Premature ventricular')")
    first = page.inner_text("#trace-viewer .viewer-info")
    page.click("#trace-viewer .viewer-next")
    page.wait_for_function(f"document.querySelector('#trace-viewer .viewer-info').textContent !== {first!r}")
    page.click("#trace-viewer .viewer-zoom-in")
    assert "50 mm/s" in page.inner_text("#trace-viewer .viewer-zoom-label")
    page.focus("#trace-viewer canvas.viewer-main")
    before = page.inner_text("#trace-viewer .viewer-zoom-label")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"document.querySelector('#trace-viewer .viewer-zoom-label').textContent !== {before!r}")
    assert page.locator(".count-bar").count() >= 1
    assert "Not a diagnosis." in page.inner_text("#not-a-diagnosis")
    page.screenshot(path=str(artifacts_dir / "predictions-result.png"), full_page=True)

    # The result is in the history, and its polling has stopped.
    page.goto(f"{live_server.url}{reverse('predictions:history')}")
    assert "x119.hea" in page.inner_text("#history-table")


@pytest.mark.django_db(transaction=True)
def test_browser_drag_and_drop_of_a_real_beat_image(worker, shared, patient, data_dir, live_server, page, client, artifacts_dir):
    shared(worker)
    name, data = samples.beat_image(data_dir, klass="Normal", index=12)
    _log_in(page, client, patient, live_server)
    page.goto(f"{live_server.url}{reverse('predictions:upload')}")
    transfer = page.evaluate_handle(
        """([name, bytes]) => { const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(bytes)], name, {type: 'image/png'})); return dt; }""",
        [name, list(data)],
    )
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": transfer})
    assert page.inner_text("#chosen-files") == name
    page.click("#upload-submit")
    page.wait_for_url("**/records/*-*/")
    page.wait_for_selector('#result-body:not([data-status="pending"]):not([data-status="running"])', timeout=90_000)
    assert page.get_attribute("#result-body", "data-status") == "done"
    page.screenshot(path=str(artifacts_dir / "predictions-image-result.png"), full_page=True)


@pytest.mark.django_db(transaction=True)
def test_browser_shows_why_a_bad_upload_was_refused(patient, live_server, page, client, tmp_path, settings):
    fake = tmp_path / "holiday.png"
    fake.write_bytes(b"Dear doctor, this is a text file pretending to be an image.\n")
    _log_in(page, client, patient, live_server)
    page.goto(f"{live_server.url}{reverse('predictions:upload')}")
    page.set_input_files("#id_file", str(fake))
    page.click("#upload-submit")
    page.wait_for_selector(".file-error")
    assert "not a recognised ECG file" in page.inner_text(".file-error")
    assert not ECGRecord.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_task_is_replaced_and_the_prediction_completes(e2e_env, shared, patient, wfdb_pair, tmp_path):
    """SIGKILL the whole worker while it analyses; a new worker finishes it once: the message handed
    back by Redis or the one its start-up sweep sends (predictions.claims), whichever comes first."""
    marker = tmp_path / "started"
    env = {
        "PREDICTIONS_ANALYSER": "predictions.tests.fakes.slow_real_analyse",
        "ECG_TEST_STARTED_FILE": str(marker),
        "ECG_TEST_ANALYSE_DELAY": "60",
        "ECG_TEST_DELAY_ONCE": "1",
        "CELERY_VISIBILITY_TIMEOUT": "4",  # unacked messages come back after 4 s
    }
    first = WorkerProcess(
        database_url=e2e_env["database_url"], redis_url=e2e_env["redis_url"], media_root=e2e_env["media_root"],
        log_path=e2e_env["artifacts"] / "predictions-worker-killed.log", extra_env=env,
    ).start()
    shared(first)
    hea, dat, _ = wfdb_pair
    try:
        record = services.ecg_record_create(owner=patient, files=[upload("x119.hea", hea), upload("x119.dat", dat)])
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.exists(), first.log()[-3000:]
        running = Prediction.objects.get(record=record)
        assert running.status == "running" and running.attempts == 1
        first.kill()
    finally:
        first.stop()
    # The replacement comes up once the dead worker's message is past its visibility timeout, so
    # Redis hands it out again at the new worker's first poll.
    time.sleep(5)

    second = WorkerProcess(
        database_url=e2e_env["database_url"], redis_url=e2e_env["redis_url"], media_root=e2e_env["media_root"],
        log_path=e2e_env["artifacts"] / "predictions-worker-killed.log", queue=first.queue, extra_env=env,
    )
    try:
        second.start()
        prediction = wait_finished(record.uuid, timeout=120)
        assert prediction.status == "done", second.log()[-3000:]
        assert prediction.attempts == 2
        assert prediction.beat_counts.exists() and Prediction.objects.filter(record=record).count() == 1
    finally:
        second.stop()
        purge_queue(e2e_env["redis_url"], first.queue)


@pytest.mark.django_db(transaction=True)
def test_a_pool_child_killed_mid_task_hands_the_message_back(e2e_env, shared, patient, wfdb_pair, tmp_path, busy_host):
    """SIGKILL only the pool child on a busy host: reject_on_worker_lost requeues at once, and a
    fresh child (which loads TensorFlow and the model slowly here) stays up and finishes it."""
    marker = tmp_path / "started"
    env = {
        "PREDICTIONS_ANALYSER": "predictions.tests.fakes.slow_real_analyse",
        "ECG_TEST_STARTED_FILE": str(marker),
        "ECG_TEST_ANALYSE_DELAY": "60",
        "ECG_TEST_DELAY_ONCE": "1",
        "PREDICTIONS_STALE_RUNNING_S": "600",
        # Each child takes 8 s to load the model, twice Celery's default start timeout of 4 s.
        "PREDICTIONS_MODEL_WARMUP": "predictions.tests.fakes.slow_model_warmup",
        "ECG_TEST_LOAD_DELAY": "8",
    }
    proc = WorkerProcess(
        database_url=e2e_env["database_url"], redis_url=e2e_env["redis_url"], media_root=e2e_env["media_root"],
        log_path=e2e_env["artifacts"] / "predictions-worker-child-killed.log", extra_env=env,
    ).start()
    shared(proc)
    hea, dat, _ = wfdb_pair
    try:
        record = services.ecg_record_create(owner=patient, files=[upload("x119.hea", hea), upload("x119.dat", dat)])
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.exists(), proc.log()[-3000:]
        child = int(marker.read_text().split()[0])
        os.kill(child, signal.SIGKILL)
        prediction = wait_finished(record.uuid, timeout=120)
        assert prediction.status == "done", proc.log()[-3000:]
        assert prediction.attempts == 2
        assert "WorkerLostError" in proc.log() or "SIGKILL" in proc.log()
        assert "Timed out waiting for UP message" not in proc.run_log()
    finally:
        proc.stop()
        purge_queue(e2e_env["redis_url"], proc.queue)


@pytest.mark.django_db(transaction=True)
def test_a_lost_pending_prediction_is_requeued_by_the_sweep(worker, shared, patient, wfdb_pair, monkeypatch):
    shared(worker)
    hea, dat, _ = wfdb_pair
    lost = []
    monkeypatch.setattr(services, "_enqueue", lost.append)  # the message never reaches the broker
    record = services.ecg_record_create(owner=patient, files=[upload("x119.hea", hea), upload("x119.dat", dat)])
    monkeypatch.undo()
    assert lost and Prediction.objects.get(record=record).status == "pending"
    Prediction.objects.filter(record=record).update(queued_at=timezone.now() - timedelta(hours=1))
    call_command("requeue_stale_predictions")
    prediction = wait_finished(record.uuid)
    assert prediction.status == "done"


@pytest.mark.django_db(transaction=True)
def test_on_a_phone_the_history_shows_findings_and_actions_on_screen(patient, live_server, browser, client, artifacts_dir):
    from predictions.tests.factories import DonePredictionFactory, ECGRecordFactory

    DonePredictionFactory(record=ECGRecordFactory(owner=patient, original_filename="phone.csv"))
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        _log_in(page, client, patient, live_server)
        page.goto(f"{live_server.url}{reverse('predictions:history')}")
        for label in ("Findings", "Actions"):
            box = page.locator(f'#history-table td[data-label="{label}"]').first.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, (label, box)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(artifacts_dir / "predictions-history-phone.png"), full_page=True)
    finally:
        context.close()
