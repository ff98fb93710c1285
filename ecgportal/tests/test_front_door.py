"""The front door holds against slow and oversized uploads (issue 24).

Gunicorn runs as docker-compose.yml runs it (deploy/gunicorn.conf.py, production settings) against
the test database: 50 clients trickling upload bodies must not delay a page, and a body over the
upload limit is answered 413 before it is read, so nothing lands in the temporary directory. The
proxy's configuration (deploy/nginx.conf) is checked by nginx itself.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.urls import reverse

from ecgportal.testing import require
from ecgportal.uploads import ENVELOPE_BYTES

REPO = Path(__file__).resolve().parents[2]
TRICKLING_CLIENTS = 50
PAGE_BUDGET_S = 1.0


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(*, database_url, tmp_dir, log_path, extra_args=()):
    """Start gunicorn as compose does (its config file, production settings); return (process, base URL)."""
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ecgportal.settings.production",
        "DJANGO_SECRET_KEY": "front-door-test-secret-0123456789abcdefghijklmnopqrstuvwxyz",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": database_url,
        "DJANGO_MEDIA_ROOT": str(tmp_dir / "media"),
        "TMPDIR": str(tmp_dir / "tmp"),  # where Django would spool an upload
        # Fifty uploads from one user must reach the server, not its rate limit.
        "UPLOADS_THROTTLE_RATE": "10000/hour",
        "API_THROTTLE_USER": "10000/hour",
    }
    (tmp_dir / "tmp").mkdir(parents=True, exist_ok=True)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn), "ecgportal.wsgi:application", "--config", "deploy/gunicorn.conf.py",
               "--bind", f"127.0.0.1:{port}", *extra_args]
    log = open(log_path, "w")
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited early:\n{Path(log_path).read_text()[-3000:]}")
        try:
            if requests.get(f"{base}/health/", timeout=2).status_code == 200:
                return process, base
        except requests.RequestException:
            pass
        time.sleep(0.2)
    stop_gunicorn(process)
    raise TimeoutError(f"gunicorn did not answer:\n{Path(log_path).read_text()[-3000:]}")


def stop_gunicorn(process):
    import signal

    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def open_upload(base, token, *, length, path="/api/v1/records/"):
    """Open a connection and send an upload's headers and first bytes; the rest is up to the caller."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    auth = f"Authorization: Token {token}\r\n" if token else ""
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{auth}"
        f"Content-Type: multipart/form-data; boundary=slow\r\nContent-Length: {length}\r\n\r\n"
        '--slow\r\nContent-Disposition: form-data; name="file"; filename="slow.csv"\r\n\r\n'.encode()
    )
    return sock


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    """Gunicorn on the test database; yield (base URL, its temporary directory)."""
    require(os.environ.get("DATABASE_URL", "").startswith("postgres"), "DATABASE_URL is not PostgreSQL")
    from django.db import connection

    from predictions.tests.worker import database_url

    with django_db_blocker.unblock():
        url = database_url(connection.settings_dict)
    tmp_dir = tmp_path_factory.mktemp("front-door")
    process, base = start_gunicorn(database_url=url, tmp_dir=tmp_dir, log_path=tmp_dir / "gunicorn.log")
    try:
        yield base, tmp_dir
    finally:
        stop_gunicorn(process)


@pytest.fixture
def token(transactional_db):
    """An API token of a signed-in patient, committed so that the server sees it."""
    from rest_framework.authtoken.models import Token

    from accounts.tests.factories import UserFactory

    return Token.objects.create(user=UserFactory()).key


def page_latencies(base, token, rounds=5):
    """Return the seconds each light page took: the health check and the signed-in user's API page."""
    seconds = []
    for _ in range(rounds):
        for url, headers in ((f"{base}/health/", {}), (f"{base}/api/v1/me/", {"Authorization": f"Token {token}"})):
            started = time.perf_counter()
            response = requests.get(url, headers=headers, timeout=10)
            seconds.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
    return seconds


@pytest.mark.slow
def test_fifty_trickling_uploads_do_not_delay_a_page(server, token):
    base, _ = server
    sockets = [open_upload(base, token, length=1_000_000) for _ in range(TRICKLING_CLIENTS)]
    stop = threading.Event()

    def trickle():  # a few bytes a second from each client, as a slow or hostile one sends
        while not stop.wait(0.5):
            for sock in sockets:
                try:
                    sock.send(b"x")
                except OSError:
                    pass

    sender = threading.Thread(target=trickle, daemon=True)
    sender.start()
    try:
        time.sleep(1.5)  # every upload is being read by the server now
        seconds = page_latencies(base, token)
    finally:
        stop.set()
        sender.join()
        for sock in sockets:
            sock.close()
    assert max(seconds) <= PAGE_BUDGET_S, f"pages took up to {max(seconds):.2f} s with {TRICKLING_CLIENTS} slow uploads"


def read_response(sock, timeout=5):
    """Return (status line, body) of the one response the server sends on ``sock``."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection without answering"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += sock.recv(65536)
    return head.split(b"\r\n")[0].decode(), body.decode()


def closed_by_server(sock, timeout):
    """Keep sending body bytes; return True once the server has closed the connection."""
    deadline = time.monotonic() + timeout
    sock.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            sock.sendall(b"x" * 65536)
            if sock.recv(1) == b"":
                return True
        except TimeoutError:
            continue
        except OSError:  # reset or broken pipe: closed
            return True
    return False


@pytest.mark.slow
@pytest.mark.parametrize("signed_in", [True, False])
def test_a_huge_upload_is_refused_before_its_body_is_read(server, token, signed_in):
    base, tmp_dir = server
    sock = open_upload(base, token if signed_in else None, length=1 << 30)  # 1 GB declared
    try:
        started = time.perf_counter()
        status, body = read_response(sock)
        elapsed = time.perf_counter() - started
        # and the rest of the body is not read either: the connection is closed, not drained
        closed = closed_by_server(sock, timeout=5)
    finally:
        sock.close()
    assert status.startswith("HTTP/1.1 413"), status
    assert json.loads(body) == {"code": "too_large", "detail": "The upload is 1024.0 MB; the limit is 20 MB."}
    assert elapsed < PAGE_BUDGET_S, elapsed
    assert closed
    assert list((tmp_dir / "tmp").iterdir()) == []


# In-process: the same guard with a small limit, and the upload checks' message just above it.

@pytest.fixture
def limit(settings, tmp_path):
    settings.ECG_UPLOAD_MAX_BYTES = 10_000
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "uploads")
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # any file Django reads would be spooled to disk
    (tmp_path / "uploads").mkdir()
    return tmp_path / "uploads"


@pytest.fixture
def spooled(monkeypatch):
    """Record every file Django starts writing to the temporary directory."""
    started = []
    original = TemporaryFileUploadHandler.new_file

    def new_file(self, *args, **kwargs):
        started.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(TemporaryFileUploadHandler, "new_file", new_file)
    return started


def _file(size):
    return SimpleUploadedFile("big.csv", b"1" * size, content_type="text/csv")


@pytest.mark.django_db
def test_a_body_over_the_limit_is_refused_unread_on_the_page_and_the_api(client, limit, spooled):
    from accounts.tests.factories import UserFactory
    from rest_framework.test import APIClient

    user = UserFactory()
    client.force_login(user)
    size = 10_000 + ENVELOPE_BYTES + 1
    page = client.post(reverse("predictions:upload"), {"file": _file(size)})
    assert page.status_code == 413
    html = page.content.decode()
    assert 'role="alert"' in html and "the limit is 0 MB" in html and "Nothing was saved" in html
    api = APIClient()
    api.force_authenticate(user)
    response = api.post(reverse("predictions-api:record-list"), {"file": _file(size)}, format="multipart")
    assert response.status_code == 413
    assert response.json()["code"] == "too_large" and "the limit is" in response.json()["detail"]
    assert spooled == [] and list(limit.iterdir()) == []


@pytest.mark.django_db
def test_a_file_just_over_the_limit_gets_the_upload_forms_message_and_leaves_no_file(client, limit):
    from accounts.tests.factories import UserFactory

    client.force_login(UserFactory())
    response = client.post(reverse("predictions:upload"), {"file": _file(10_001)})
    assert response.status_code == 400
    assert "The upload is 0.0 MB; the limit is 0 MB." in response.content.decode()
    assert list(limit.iterdir()) == []


@pytest.mark.django_db
def test_the_proxys_refusal_shows_the_portals_message(client):
    page = client.get(reverse("upload-too-large"), HTTP_X_ORIGINAL_URI="/records/upload/",
                      HTTP_X_ORIGINAL_CONTENT_LENGTH=str(50 << 20))
    assert page.status_code == 413 and "The upload is 50.0 MB; the limit is 20 MB." in page.content.decode()
    api = client.get(reverse("upload-too-large"), HTTP_X_ORIGINAL_URI="/api/v1/records/",
                     HTTP_X_ORIGINAL_CONTENT_LENGTH=str(50 << 20))
    assert api.status_code == 413 and api.json() == {
        "code": "too_large", "detail": "The upload is 50.0 MB; the limit is 20 MB."}


def test_the_proxy_configuration_is_valid_for_nginx(tmp_path):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    require(Path(nginx).exists(), "nginx is not installed (make system-deps)")
    config = (REPO / "deploy" / "nginx.conf").read_text()
    # The compose service names resolve only inside the stack; point them at this machine.
    config = config.replace("server web:8000", "server 127.0.0.1:8000")
    (tmp_path / "nginx.conf").write_text(config)
    result = subprocess.run([nginx, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_proxy_limits_bodies_like_the_portal():
    from django.conf import settings

    config = (REPO / "deploy" / "nginx.conf").read_text()
    limit_mb = settings.ECG_UPLOAD_MAX_BYTES // 1_048_576
    assert f"client_max_body_size {limit_mb + 1}m;" in config
    for directive in ("proxy_request_buffering on;", "proxy_buffering on;", "client_body_timeout",
                      "error_page 413"):
        assert directive in config
