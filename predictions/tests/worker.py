"""Start and stop a real Celery worker process for end-to-end tests and the benchmark."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def database_url(settings_dict):
    """Return a DATABASE_URL for the (test) database described by Django's ``settings_dict``."""
    user = settings_dict.get("USER") or ""
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"


class WorkerProcess:
    """A ``celery -A ecgportal worker --pool=prefork`` subprocess (one child by default) on its own queue."""

    def __init__(self, *, database_url, redis_url, media_root, log_path, queue=None, extra_env=None, concurrency=1):
        self.queue = queue or f"predictions-test-{uuid.uuid4().hex[:8]}"
        self.concurrency = concurrency
        self.log_path = Path(log_path)
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "ecgportal.settings.test"),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "DJANGO_MEDIA_ROOT": str(media_root),
            "PREDICTIONS_QUEUE": self.queue,
            "PYTHONUNBUFFERED": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            **(extra_env or {}),
        }
        self.process = None

    def start(self, *, timeout=120):
        """Start the worker and return once it reports ready (its child has loaded the model)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "a")
        celery = Path(sys.executable).with_name("celery")
        command = [
            str(celery) if celery.exists() else "celery",
            "-A",
            "ecgportal",
            "worker",
            "--pool=prefork",
            f"--concurrency={self.concurrency}",
            "--loglevel=INFO",
            "-Q",
            self.queue,
            "-n",
            f"{self.queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._offset = offset
        self.process = subprocess.Popen(
            command, cwd=REPO, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Celery worker exited early:\n{self.log()[-4000:]}")
            text = self.log_path.read_text(errors="replace")[offset:]
            if " ready." in text:
                return self
            time.sleep(0.2)
        raise TimeoutError(f"the Celery worker did not become ready:\n{self.log()[-4000:]}")

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def run_log(self):
        """Return what this worker wrote to its log (the file may hold earlier runs)."""
        return self.log()[getattr(self, "_offset", 0):]

    def child_pids(self):
        """Return the pids of the pool's child processes."""
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.process.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def kill(self):
        """SIGKILL the worker and its children at once (a machine dying mid-task)."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if getattr(self, "_log", None):
            self._log.close()


def purge_queue(redis_url, queue):
    """Drop the queue's leftover messages (and unacked bookkeeping) from Redis."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.delete(queue)
    for key in client.scan_iter(f"_kombu.binding.{queue}"):
        client.delete(key)
