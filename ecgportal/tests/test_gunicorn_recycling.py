"""The web workers are not recycled under traffic, so no request is dropped (issue 23).

A gthread worker that reaches gunicorn's ``max_requests`` closes the connections it has accepted
but not read yet, unanswered (benoitc/gunicorn#3038; deploy/gunicorn.conf.py says more). Here
gunicorn runs with the production config file, serving a minimal app that answers its worker's
pid, well past the old limit (2,000 + up to 200 of jitter): one worker answers every request.
"""

import os
import runpy
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "deploy" / "gunicorn.conf.py"
REQUESTS = 2_600
CLIENTS = 8

APP = '''
import os


def app(environ, start_response):
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
'''


def test_the_config_turns_recycling_off():
    settings = runpy.run_path(str(CONFIG))
    assert settings["worker_class"] == "gthread" and settings.get("max_requests", 0) == 0


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(tmp_path, port):
    (tmp_path / "pid_app.py").write_text(APP)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn), "pid_app:app", "--config", str(CONFIG), "--pythonpath", str(tmp_path),
               "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    log = open(tmp_path / "gunicorn.log", "w")
    return subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def test_one_worker_answers_every_request_past_the_old_recycling_limit(tmp_path):
    port = _free_port()
    process = _serve(tmp_path, port)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()[-2000:]
            try:
                requests.get(url, timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
        pids, errors, lock = set(), [], threading.Lock()

        def client():
            for _ in range(REQUESTS // CLIENTS):
                try:
                    answer = requests.get(url, timeout=30)  # a new connection each time, as the proxy's
                    with lock:
                        pids.add(answer.text)
                except requests.RequestException as exc:
                    with lock:
                        errors.append(repr(exc))

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    assert errors == []
    assert len(pids) == 1, f"the worker was replaced: {sorted(pids)}"
