"""Recovery in seconds after a fault, with the real components: a Redis of the test's own that is
killed and started again, a Celery worker whose main process is SIGKILLed, PostgreSQL sessions
terminated under a request.

Targets (issue 24): analyses resume <= 30 s after Redis is back; a killed worker's analyses
finish <= 60 s after the kill (a new worker started at once); no read answered 500 when the
database drops its connection.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ecgportal.testing import require
from predictions import claims, services, tasks
from predictions.models import ECGRecord, Prediction
from predictions.tests.conftest import upload
from predictions.tests.factories import DonePredictionFactory, ECGRecordFactory, PredictionFactory
from predictions.tests.worker import REPO, WorkerProcess, database_url, purge_queue

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
OWN_REDIS_PORT = 6390  # never the shared Redis on 6379: other test runs use it
# The worker's children run the real ml pipeline with the stub classifier: no TensorFlow.
STUB_ENV = {
    "PREDICTIONS_ANALYSER": "predictions.tests.fakes.stub_analyse",
    "PREDICTIONS_MODEL_WARMUP": "predictions.tests.fakes.StubClassifier",
}


# --- the sweep and the claim, against PostgreSQL -------------------------------------------------


@pytest.fixture
def other_session(db):
    """A second PostgreSQL session on the test database: a worker in another process."""
    require(connection.vendor == "postgresql", "claims need PostgreSQL (set DATABASE_URL)")
    with psycopg.connect(database_url(connection.settings_dict), autocommit=True) as conn:
        yield conn


def _hold_claim(session, prediction_id):
    session.execute("SELECT pg_advisory_lock(%s, %s)", [claims.LOCK_CLASS, claims._key(prediction_id)])


def test_the_sweep_sends_an_unsent_upload_after_seconds_and_an_orphan_at_once(
    other_session, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(services, "_enqueue", sent.append)
    now = timezone.now()
    unsent = PredictionFactory(queued_at=now - timedelta(seconds=15))  # the broker was down: no task id
    sending = PredictionFactory(queued_at=now)  # its send may still be under way
    queued = PredictionFactory(queued_at=now - timedelta(seconds=15), task_id="sent-1")  # waits in the queue
    orphan = PredictionFactory(status="running", started_at=now - timedelta(seconds=2), attempts=1, task_id="t-2")
    alive = PredictionFactory(status="running", started_at=now - timedelta(seconds=2), attempts=1, task_id="t-3")
    _hold_claim(other_session, alive.pk)  # a live worker, in another process, analyses this one
    with django_capture_on_commit_callbacks(execute=True):
        assert services.prediction_requeue_stale() == 2
    assert sorted(sent) == sorted([unsent.pk, orphan.pk])
    for p in (sending, queued, orphan, alive):
        p.refresh_from_db()
    assert orphan.status == "pending" and orphan.task_id == "" and orphan.started_at is None
    assert alive.status == "running" and sending.status == "pending" and queued.task_id == "sent-1"


def test_a_second_delivery_is_skipped_while_a_live_worker_holds_the_claim(other_session):
    prediction = PredictionFactory()
    _hold_claim(other_session, prediction.pk)
    assert tasks.analyse_prediction.apply(args=[prediction.pk], task_id="second").get() == "skipped"
    prediction.refresh_from_db()
    assert prediction.status == "pending" and prediction.attempts == 0
    other_session.execute("SELECT pg_advisory_unlock_all()")
    assert tasks.analyse_prediction.apply(args=[prediction.pk], task_id="second").get() == "done"


def test_the_beat_sweeps_every_few_seconds_and_drops_a_sweep_that_waited_too_long(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["requeue-stale-predictions"]
    assert entry["schedule"] <= 15 and entry["options"]["expires"] <= entry["schedule"]
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert visibility > 2 * settings.CELERY_TASK_TIME_LIMIT  # a live task's message is never handed out twice


# --- a database connection terminated under a read ----------------------------------------------


@contextmanager
def terminated_before(table):
    """Terminate this thread's PostgreSQL session, from another session, just before its first
    query on ``table``: the connection drops in the middle of a request, as in a restart."""
    done = []

    def wrapper(execute, sql, params, many, context):
        if not done and table in sql:
            pid = context["connection"].connection.info.backend_pid
            with psycopg.connect(database_url(connection.settings_dict), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
            done.append(pid)
        return execute(sql, params, many, context)

    try:
        with connection.execute_wrapper(wrapper):
            yield done
    finally:
        if connection.connection is not None and not connection.is_usable():
            connection.close()  # the test's own queries go on on a new connection


@pytest.mark.django_db(transaction=True)
def test_a_page_whose_connection_is_terminated_midway_is_answered_not_500(patient):
    require(connection.vendor == "postgresql", "needs PostgreSQL (set DATABASE_URL)")
    DonePredictionFactory(record=ECGRecordFactory(owner=patient, original_filename="holter.csv"))
    client = Client(raise_request_exception=False)
    client.force_login(patient)
    with terminated_before("predictions_ecgrecord") as terminated:
        response = client.get(reverse("predictions:history"))
    assert terminated, "the page never read its records"
    assert response.status_code == 200 and b"holter.csv" in response.content


@pytest.mark.django_db(transaction=True)
def test_a_write_whose_connection_is_terminated_is_not_run_twice(patient, csv_bytes):
    """A POST may have saved part of its work: it is answered 500 as before, not repeated."""
    require(connection.vendor == "postgresql", "needs PostgreSQL (set DATABASE_URL)")
    client = Client(raise_request_exception=False)
    client.force_login(patient)
    with terminated_before("predictions_prediction") as terminated:
        response = client.post(reverse("predictions:upload"), {"file": upload("ecg.csv", csv_bytes)})
    assert terminated and response.status_code == 500
    assert ECGRecord.objects.count() <= 1


def test_only_an_error_that_lost_its_connection_is_answered_again(db):
    """A statement timeout keeps its connection, and running the read again would only time out again."""
    from django.db import OperationalError, transaction

    from ecgportal.db_retry import connection_lost

    require(connection.vendor == "postgresql", "needs PostgreSQL (set DATABASE_URL)")
    with pytest.raises(OperationalError) as timeout, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 50")
        cursor.execute("SELECT pg_sleep(2)")
    assert not connection_lost(timeout.value)
    with pytest.raises(OperationalError) as dropped, terminated_before("pg_sleep"), connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(0)")
    assert connection_lost(dropped.value)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_no_read_answers_500_while_database_sessions_are_terminated(patient, live_server, client):
    """3 clients read over HTTP without pause while another session terminates every portal
    session, 6 times, 4 s apart (a restart or a failover ends them all at once; far enough apart
    that a request answered again is not caught by the next one)."""
    import requests

    require(connection.vendor == "postgresql", "needs PostgreSQL (set DATABASE_URL)")
    DonePredictionFactory(record=ECGRecordFactory(owner=patient))
    client.force_login(patient)
    cookies = {"sessionid": client.cookies["sessionid"].value}
    url = live_server.url + reverse("predictions:history")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        own_pid = cursor.fetchone()[0]
    stop = threading.Event()
    statuses = []

    def read():
        with requests.Session() as http:
            while not stop.is_set():
                statuses.append(http.get(url, cookies=cookies, timeout=30).status_code)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for r in readers:
        r.start()
    kills = 0
    try:
        with psycopg.connect(database_url(connection.settings_dict), autocommit=True) as admin:
            for _ in range(6):
                time.sleep(4)
                sessions = admin.execute(
                    "SELECT pid, backend_start FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid() AND pid <> %s AND backend_type = 'client backend'",
                    [own_pid],
                ).fetchall()
                for pid, started in sessions:  # each checked again: a process id is soon reused
                    kills += admin.execute(
                        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE pid = %s AND backend_start = %s",
                        [pid, started],
                    ).fetchone()[0]
    finally:
        stop.set()
        for r in readers:
            r.join()
    print(f"\n{len(statuses)} reads, {kills} sessions terminated under them, {statuses.count(500)} answered 500")
    assert kills >= 10, "too few sessions were terminated to test anything"
    assert statuses.count(200) == len(statuses), {s: statuses.count(s) for s in set(statuses)}


# --- a Redis that goes away and comes back ------------------------------------------------------


class RedisServer:
    """A ``redis-server`` of the test's own, without persistence: a restart empties it, as a
    crashed Redis without a volume does."""

    def __init__(self, *, port, workdir):
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.workdir = Path(workdir)
        self.process = None

    def start(self, timeout=10):
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"redis-server did not start on port {self.port}")

    def kill(self):
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.kill()


@pytest.fixture
def own_redis(tmp_path):
    require(Path(REDIS_SERVER).exists(), "redis-server is not installed")
    with socket.socket() as sock:
        require(sock.connect_ex(("127.0.0.1", OWN_REDIS_PORT)) != 0, f"port {OWN_REDIS_PORT} is in use")
    server = RedisServer(port=OWN_REDIS_PORT, workdir=tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def portal_on(settings):
    """Point this process's cache and Celery producer at another Redis (only the address changes)."""
    from ecgportal.celery import app

    old = app.conf.CELERY_BROKER_URL

    def use(url):
        settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": url}}
        app.conf.CELERY_BROKER_URL = url
        # The connection and producer pools are bound to the broker address they were made for.
        app._pool = app.amqp._producer_pool = None

    yield use
    use(old)


class BeatProcess:
    """``celery -A ecgportal beat`` with a worker's environment, as the compose stack runs it."""

    def __init__(self, worker, schedule_path):
        self.worker = worker
        self.schedule_path = schedule_path
        self.process = None

    def start(self, timeout=60):
        celery = Path(sys.executable).with_name("celery")
        log = open(self.worker.log_path.with_suffix(".beat.log"), "a")
        self.process = subprocess.Popen(
            [str(celery) if celery.exists() else "celery", "-A", "ecgportal", "beat", "--loglevel=INFO",
             "--schedule", str(self.schedule_path)],
            cwd=REPO, env=self.worker.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        return self

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def _wait_all_finished(record_uuids, timeout):
    """Wait until every record's current prediction is finished; return the time it happened."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        finished = Prediction.objects.filter(record__uuid__in=record_uuids, is_current=True, finished_at__isnull=False)
        if finished.count() == len(record_uuids):
            return time.monotonic()
        time.sleep(0.2)
    states = list(Prediction.objects.filter(record__uuid__in=record_uuids).values_list("status", "task_id"))
    raise AssertionError(f"not finished after {timeout} s: {states}")


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.django_db(transaction=True)
def test_uploads_made_while_redis_is_down_are_analysed_within_30_s_of_its_return(
    e2e_env, own_redis, portal_on, shared, patient, csv_bytes, tmp_path, client
):
    worker = WorkerProcess(
        database_url=e2e_env["database_url"], redis_url=own_redis.url, media_root=e2e_env["media_root"],
        log_path=e2e_env["artifacts"] / "predictions-worker-redis-outage.log", extra_env=STUB_ENV, concurrency=2,
    )
    beat = BeatProcess(worker, tmp_path / "beat-schedule")
    portal_on(own_redis.url)
    shared(worker)
    client.force_login(patient)
    try:
        worker.start()
        beat.start()
        before = services.ecg_record_create(owner=patient, files=[upload("before.csv", csv_bytes)])
        _wait_all_finished([before.uuid], timeout=60)

        own_redis.kill()
        uploads = []
        for i in range(3):
            started = time.monotonic()
            # Different files: the same one again within a minute would be the same ECG.
            response = client.post(reverse("predictions:upload"),
                                   {"file": upload(f"outage-{i}.csv", csv_bytes + b"\n" * (i + 1))})
            assert response.status_code == 302, response.content[:300]
            uploads.append(time.monotonic() - started)
        records = list(ECGRecord.objects.exclude(pk=before.pk).values_list("uuid", flat=True))
        assert len(records) == 3
        assert set(Prediction.objects.filter(record__uuid__in=records).values_list("status", flat=True)) == {"pending"}
        time.sleep(10)  # the outage goes on: the worker and beat keep trying

        own_redis.start()
        back = time.monotonic()
        done_at = _wait_all_finished(records, timeout=90)
        recovery = done_at - back
        print(f"\nuploads during the outage answered in {max(uploads):.2f} s at most; "
              f"all analysed {recovery:.1f} s after Redis was back")
        assert recovery <= 30, worker.run_log()[-3000:]
        assert all(p.status == "done" and p.attempts == 1 for p in Prediction.objects.filter(record__uuid__in=records))
        assert max(uploads) < 5
    finally:
        beat.stop()
        worker.stop()


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.django_db(transaction=True)
def test_an_analysis_of_a_killed_worker_finishes_within_60_s(e2e_env, shared, patient, csv_bytes, tmp_path):
    """SIGKILL the worker's main process mid-analysis (its pool children die with it), start a new
    worker at once, as a supervisor does: the new worker's sweep finds the orphan by its claim."""
    hold, started = tmp_path / "hold", tmp_path / "started"
    hold.touch()
    env = {
        **STUB_ENV,
        "PREDICTIONS_ANALYSER": "predictions.tests.recovery_fakes.held_stub_analyse",
        "ECG_TEST_HOLD_FILE": str(hold),
        "ECG_TEST_STARTED_FILE": str(started),
    }
    log = e2e_env["artifacts"] / "predictions-worker-main-killed.log"
    first = WorkerProcess(
        database_url=e2e_env["database_url"], redis_url=e2e_env["redis_url"], media_root=e2e_env["media_root"],
        log_path=log, extra_env=env, concurrency=2,
    ).start()
    shared(first)
    second = None
    try:
        record = services.ecg_record_create(owner=patient, files=[upload("ecg.csv", csv_bytes)])
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert started.exists(), first.log()[-3000:]
        children = first.child_pids()
        os.kill(first.process.pid, signal.SIGKILL)  # the main process only
        killed = time.monotonic()
        first.process.wait(timeout=10)
        hold.unlink()  # whoever analyses it next is not held
        second = WorkerProcess(
            database_url=e2e_env["database_url"], redis_url=e2e_env["redis_url"], media_root=e2e_env["media_root"],
            log_path=log, queue=first.queue, extra_env=env, concurrency=2,
        ).start()
        done_at = _wait_all_finished([record.uuid], timeout=120)
        recovery = done_at - killed
        print(f"\nanalysis done {recovery:.1f} s after its worker was killed")
        assert recovery <= 60, second.run_log()[-3000:]
        prediction = Prediction.objects.get(record=record)
        assert prediction.status == "done" and prediction.attempts == 2
        assert not any(_alive(pid) for pid in children), "the pool children outlived their parent"
    finally:
        first.stop()
        if second:
            second.stop()
        purge_queue(e2e_env["redis_url"], first.queue)


def _alive(pid):
    """Return whether ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"
