"""The portal under load, beside the seed-style synchronous server, in one run on this machine.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ecgportal REDIS_URL=redis://127.0.0.1:6379/2 \\
        python bench/bench_load.py [--images 200] [--clients 8] [--load-uploads 500] [--load-clients 16]

1. Speed: the same ``--images`` single-beat plots (ecg-images/train, every class) sent by
   ``--clients`` concurrent clients to
   - the reference (bench/reference_server.py under gunicorn, 2 sync workers): POST the picture,
     get the label back; Keras ``predict()`` per request, no database, no queue;
   - the portal (gunicorn, 2 sync workers + a Celery prefork worker with 2 children, PostgreSQL,
     Redis): token-authenticated API upload, then the status endpoint polled until the result is
     finished, as a client does.
   Reports throughput (images/s), upload -> label p50/p95, and the peak memory (sum of VmHWM of
   every server process) of each, with the portal / reference ratios.
2. Load: ``--load-uploads`` uploads from ``--load-clients`` clients to the portal: accepted,
   rejected (4xx), server errors (5xx or dropped), lost (accepted but never finished) and latency
   percentiles. Writes bench/RESULTS-load.md.
Each side runs alone (the other stopped) so they do not share the cores.
"""

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
BIN = Path(sys.executable).parent


def _quantile(values, q):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _tree(pid):
    """Return ``pid`` and all its descendants."""
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout.split()
    children = {}
    for child, parent in zip(out[::2], out[1::2]):
        children.setdefault(int(parent), []).append(int(child))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def _peak_mib(pids):
    """Return the sum of the peak resident memory (VmHWM) of ``pids`` and their children, MiB."""
    total = 0
    for root in pids:
        for p in _tree(root):
            try:
                for line in Path(f"/proc/{p}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1])
            except OSError:
                continue
    return total / 1024


def _wait_http(url, timeout=120):
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer")


def _gunicorn(app, port, env, log):
    return subprocess.Popen(
        [str(BIN / "gunicorn"), app, "--workers", "2", "--bind", f"127.0.0.1:{port}", "--timeout", "120"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )


def _stop(proc):
    import signal

    if proc and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _images(data, n):
    folders = sorted(p for p in (Path(data) / "ecg-images" / "train").iterdir() if p.is_dir())
    per = max(1, n // len(folders))
    picked = []
    for folder in folders:
        files = sorted(folder.glob("*.png"))
        step = max(1, len(files) // per)
        picked += files[::step][:per]
    return [p.read_bytes() for p in picked[:n]]


def run_reference(images, clients, port, log):
    import requests

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = _gunicorn("bench.reference_server:app", port, env, log)
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_http(url)
        for body in images[:4]:  # warm both workers' models
            requests.post(url, data=body, timeout=120)

        def one(body):
            t = time.perf_counter()
            r = requests.post(url, data=body, timeout=120)
            return time.perf_counter() - t, r.status_code

        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(one, images))
        wall = time.perf_counter() - started
        return {"wall": wall, "latencies": [r[0] for r in results], "ok": sum(r[1] == 200 for r in results),
                "peak_mib": _peak_mib([proc.pid])}
    finally:
        _stop(proc)


def run_portal(uploads, clients, base, token, *, timeout=300):
    """Upload every item of ``uploads`` from ``clients`` threads; return counts and latencies."""
    import requests

    def one(body):
        session = requests.Session()
        session.headers["Authorization"] = f"Token {token}"
        t = time.perf_counter()
        try:
            r = session.post(f"{base}/api/v1/records/", files=[("file", ("beat.png", body))], timeout=120)
        except requests.RequestException:
            return ("dropped", None)
        if r.status_code >= 500:
            return ("server_error", None)
        if r.status_code >= 400:
            return ("rejected", None)
        status_url = r.json()["links"]["status"]
        delay = 0.05
        while time.perf_counter() - t < timeout:
            s = session.get(status_url, timeout=30).json()
            if s["is_finished"]:
                return (s["status"], time.perf_counter() - t)
            time.sleep(delay)
            delay = min(0.5, delay * 1.5)  # back off, as the result page does
        return ("lost", None)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, uploads))
    wall = time.perf_counter() - started
    counts = {}
    for status, _ in results:
        counts[status] = counts.get(status, 0) + 1
    return {"wall": wall, "latencies": [lat for _, lat in results if lat is not None], "counts": counts}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=os.environ.get("ECG_DATA_DIR", str(REPO.parent / "shared" / "data")))
    p.add_argument("--images", type=int, default=200)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--load-uploads", type=int, default=500)
    p.add_argument("--load-clients", type=int, default=16)
    p.add_argument("--out", default=str(REPO / "bench" / "RESULTS-load.md"))
    args = p.parse_args(argv)
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get("REDIS_URL"):
        sys.exit("Set DATABASE_URL (PostgreSQL) and REDIS_URL: the benchmark needs the real services.")

    media = tempfile.mkdtemp(prefix="bench-media-")
    queue = f"predictions-bench-{uuid.uuid4().hex[:8]}"
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "ecgportal.settings.test", "DJANGO_MEDIA_ROOT": media,
        "PREDICTIONS_QUEUE": queue, "UPLOADS_THROTTLE_RATE": "100000/hour", "API_THROTTLE_USER": "1000000/hour",
    })
    import django

    django.setup()
    from django.db import connection

    from predictions.tests.worker import WorkerProcess, database_url, purge_queue

    images = _images(args.data, args.images)
    log = open(Path(media) / "servers.log", "a")
    reference = run_reference(images, args.clients, 8501, log)

    connection.settings_dict["TEST"].update(NAME="bench_ecg_load")
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    worker = web = None
    try:
        from rest_framework.authtoken.models import Token

        from accounts.tests.factories import UserFactory

        token = Token.objects.create(user=UserFactory()).key
        db_url = database_url(connection.settings_dict)
        env = {**os.environ, "DATABASE_URL": db_url}
        web = _gunicorn("ecgportal.wsgi:application", 8502, env, log)
        worker = WorkerProcess(database_url=db_url, redis_url=os.environ["REDIS_URL"], media_root=media,
                               log_path=Path(media) / "worker.log", queue=queue, concurrency=2).start()
        base = "http://127.0.0.1:8502"
        _wait_http(f"{base}/")
        run_portal(images[:4], 2, base, token)  # warm-up: both children load and trace the model
        portal = run_portal(images, args.clients, base, token)
        portal["peak_mib"] = _peak_mib([web.pid, worker.process.pid])
        load = run_portal([images[i % len(images)] for i in range(args.load_uploads)], args.load_clients, base, token)
    finally:
        _stop(web)
        if worker is not None:
            worker.stop()
            purge_queue(os.environ["REDIS_URL"], queue)
        connection.creation.destroy_test_db(test_db, verbosity=0)
        shutil.rmtree(media, ignore_errors=True)

    ref_tput = len(images) / reference["wall"]
    por_tput = len(images) / portal["wall"]
    rp50, pp50 = statistics.median(reference["latencies"]), statistics.median(portal["latencies"] or [float("nan")])
    lines = [
        "# Load: the portal beside a seed-style synchronous server",
        "",
        f"`python bench/bench_load.py` — {time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, "
        f"{os.cpu_count()} CPU cores (shared with whatever else runs), Python {platform.python_version()}. "
        f"Both sides: gunicorn with 2 sync workers; the portal adds a Celery prefork worker with 2 children, "
        f"PostgreSQL and Redis on localhost. Each side ran alone.",
        "",
        f"## Speed: {len(images)} single-beat plots, {args.clients} concurrent clients",
        "",
        "| measure | reference (predict() per request) | portal (upload, queue, poll) | portal / reference |",
        "|---|---:|---:|---:|",
        f"| throughput, images/s | {ref_tput:.2f} | {por_tput:.2f} | {por_tput / ref_tput:.2f}x |",
        f"| upload -> label p50, s | {rp50:.3f} | {pp50:.3f} | {pp50 / rp50:.2f}x |",
        f"| upload -> label p95, s | {_quantile(reference['latencies'], 0.95):.3f} | "
        f"{_quantile(portal['latencies'], 0.95):.3f} | |",
        f"| peak memory of all server processes, MiB | {reference['peak_mib']:.0f} | {portal['peak_mib']:.0f} | "
        f"{portal['peak_mib'] / reference['peak_mib']:.2f}x |",
        f"| answered | {reference['ok']}/{len(images)} labelled | {portal.get('counts')} | |",
        "",
        "Targets (issue 13): throughput >= 1x, p50 <= 1x, memory <= 1.2x.",
        "",
        f"## Load: {args.load_uploads} uploads from {args.load_clients} clients",
        "",
        f"Outcomes: {load['counts']} (lost = accepted but not finished within 300 s).",
        f"Wall time {load['wall']:.1f} s, {args.load_uploads / load['wall']:.2f} uploads/s. "
        f"Upload -> finished latency: p50 {_quantile(load['latencies'], 0.5):.2f} s, "
        f"p95 {_quantile(load['latencies'], 0.95):.2f} s, max {max(load['latencies'] or [float('nan')]):.2f} s.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
