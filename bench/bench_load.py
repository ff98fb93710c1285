"""The portal under load, beside the seed-style server it replaces and a same-pipeline reference, in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ecg_bench REDIS_URL=redis://127.0.0.1:6379/10 \\
        python bench/bench_load.py [--images 200] [--clients 8] [--rounds 2] [--wait 10] \\
            [--load-uploads 500] [--load-clients 16]

1. Speed: the same ``--images`` single-beat plots (ecg-images/train, every class) sent by
   ``--clients`` concurrent clients to three sides, ``--rounds`` times each, the order alternating
   (seed, reference, portal, then portal, reference, seed, ...), each side alone:
   - the seed-style server (bench/seed_server.py under gunicorn, 2 sync workers): POST the
     picture, get the label back; a small Keras CNN's ``predict()`` on it resized to 64x64, no
     database, no queue: the server issue 23 says the portal replaces;
   - the reference (bench/reference_server.py, same): the portal's own digitiser and image model,
     ``predict()`` per request, no database;
   - the portal (gunicorn with deploy/gunicorn.conf.py + a Celery prefork worker with 2 children,
     PostgreSQL, Redis): token-authenticated API upload, then the status followed until finished
     (long-poll ``?wait=&until=finished``, as an API client that wants the label reads it: one read
     answered when the result is ready; ``--wait 0`` polls instead).
   Every side is started cold in each round: the time from starting its processes to the first
   label is its cold start. Reports throughput (images/s), upload -> label p50/p95, the peak of
   the summed PSS of every server process, and the cold start, with the portal's ratios to both.
2. Load: ``--load-uploads`` uploads from ``--load-clients`` clients to the portal: accepted,
   rejected (4xx), server errors (5xx or dropped), lost (accepted but never finished) and latency
   percentiles.
Writes bench/RESULTS-load.md. Every upload is a new file (a few bytes after the PNG's end), so the
portal's duplicate check never answers with an earlier record.
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


def _pss_mib(pids):
    """Return the summed proportional set size (PSS) of ``pids`` and their children now, MiB.

    PSS shares each page among the processes that map it, so forked workers sharing their
    parent's pages are not counted twice (VmHWM sums would)."""
    total = 0
    for root in pids:
        for p in _tree(root):
            try:
                for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
            except OSError:
                continue
    return total / 1024


class PeakPss:
    """Sample the summed PSS of a set of process trees every ``every`` s; ``peak`` is the largest seen."""

    def __init__(self, pids_fn, every=0.25):
        import threading

        self.pids_fn, self.every, self.peak = pids_fn, every, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _pss_mib(self.pids_fn()))
            self._stop.wait(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _pss_mib(self.pids_fn()))
        return False


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


def _gunicorn(app, port, env, log, *, config=None):
    """Start gunicorn: the portal with its production config (``config``), a baseline with 2 sync workers."""
    args = ["--config", config] if config else ["--workers", "2", "--timeout", "120"]
    return subprocess.Popen(
        [str(BIN / "gunicorn"), app, *args, "--bind", f"127.0.0.1:{port}"],
        cwd=REPO, env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
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


def _unique(images):
    """Return ``images`` each with a few random bytes after the PNG's end (every decoder ignores
    them): every upload is a new file, so the portal's duplicate check (the same file from the same
    person within a minute answers with the earlier record) never shortens a measured upload."""
    return [body + b"\0" + uuid.uuid4().hex.encode() for body in images]


def _post_until_answered(url, body, timeout=300):
    """POST ``body`` to ``url`` until the server answers (it may still be booting); return the response."""
    import requests

    deadline = time.monotonic() + timeout
    while True:
        try:
            return requests.post(url, data=body, timeout=120)
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def run_sync_server(app, images, clients, port, log):
    """Serve ``app`` (one picture in, one label out) under gunicorn; time the cold start to the
    first label, then ``images`` from ``clients`` concurrent clients, sampling the peak PSS."""
    import requests

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    url = f"http://127.0.0.1:{port}/"
    started = time.perf_counter()
    proc = _gunicorn(app, port, env, log)
    try:
        with PeakPss(lambda: [proc.pid]) as pss:
            first = _post_until_answered(url, images[0])
            cold = time.perf_counter() - started
            assert first.status_code == 200, first.text[:300]
            for body in images[1:5]:  # warm both workers
                requests.post(url, data=body, timeout=120)

            def one(body):
                t = time.perf_counter()
                r = requests.post(url, data=body, timeout=120)
                return time.perf_counter() - t, r.status_code

            started = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                results = list(pool.map(one, _unique(images)))
            wall = time.perf_counter() - started
        return {"wall": wall, "latencies": [r[0] for r in results], "ok": sum(r[1] == 200 for r in results),
                "n": len(images), "peak_pss": pss.peak, "peak_hwm": _peak_mib([proc.pid]), "cold": cold}
    finally:
        _stop(proc)


def run_portal(uploads, clients, base, token, *, wait=0, timeout=300):
    """Upload every item of ``uploads`` from ``clients`` threads; return counts and latencies.

    Each client follows its upload's status: with ``wait`` > 0 a long-poll (``?wait=`` seconds,
    ``until=finished``: the answer comes as soon as the analysis finishes), else polls backing off
    from 50 ms to 0.5 s, as the result page did before it long-polled.
    """
    import requests

    retries = []

    def one(body):
        session = requests.Session()
        session.headers["Authorization"] = f"Token {token}"
        t = time.perf_counter()
        try:
            r = session.post(f"{base}/api/v1/records/", files=[("file", ("beat.png", body))], timeout=120)
        except requests.RequestException as exc:
            print(f"upload dropped: {exc!r}", file=sys.stderr, flush=True)
            return ("dropped", None)
        if r.status_code >= 500:
            return ("server_error", None)
        if r.status_code >= 400:
            return ("rejected", None)
        if r.status_code != 201:
            return ("duplicate", None)  # never expected: every upload is a new file
        status_url = r.json()["links"]["status"]
        params = {"wait": wait, "until": "finished"} if wait else None
        delay = 0.05
        failed_reads = 0
        while time.perf_counter() - t < timeout:
            try:
                s = session.get(status_url, params=params, timeout=wait + 30)
            except requests.RequestException as exc:
                # The upload is stored and queued; a client (the result page) asks again.
                print(f"status read dropped: {exc!r}", file=sys.stderr, flush=True)
                retries.append(repr(exc))
                failed_reads += 1
                if failed_reads > 3:
                    return ("dropped", None)
                time.sleep(0.2)
                continue
            if s.status_code >= 500:
                return ("server_error", None)
            s = s.json()
            if s["is_finished"]:
                return (s["status"], time.perf_counter() - t)
            if not wait:
                time.sleep(delay)
                delay = min(0.5, delay * 1.5)  # back off, as the result page did
        return ("lost", None)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, _unique(uploads)))
    wall = time.perf_counter() - started
    counts = {}
    for status, _ in results:
        counts[status] = counts.get(status, 0) + 1
    return {"wall": wall, "latencies": [lat for _, lat in results if lat is not None], "counts": counts,
            "n": len(uploads), "read_retries": len(retries)}


class Portal:
    """The portal's servers on a throw-away database: gunicorn (deploy/gunicorn.conf.py) and a Celery
    prefork worker with 2 children."""

    def __init__(self, media, queue, log, port=8502):
        from django.db import connection

        from predictions.tests.worker import database_url

        self.media, self.queue, self.log, self.port = media, queue, log, port
        self.base = f"http://127.0.0.1:{port}"
        self.db_url = database_url(connection.settings_dict)
        self.web = self.worker = None

    def start(self):
        from predictions.tests.worker import WorkerProcess

        self.web = _gunicorn("ecgportal.wsgi:application", self.port, {**os.environ, "DATABASE_URL": self.db_url},
                             self.log, config=str(REPO / "deploy" / "gunicorn.conf.py"))
        self.worker = WorkerProcess(database_url=self.db_url, redis_url=os.environ["REDIS_URL"], media_root=self.media,
                                    log_path=Path(self.media) / "worker.log", queue=self.queue, concurrency=2)
        self.worker.start()
        return self

    def pids(self):
        return [p.pid for p in (self.web, self.worker and self.worker.process) if p is not None]

    def stop(self):
        from predictions.tests.worker import purge_queue

        _stop(self.web)
        if self.worker is not None:
            self.worker.stop()
        purge_queue(os.environ["REDIS_URL"], self.queue)
        self.web = self.worker = None


def run_portal_speed(portal, images, clients, token, wait):
    """Start the portal cold, time the first label, then ``images`` from ``clients`` clients."""
    started = time.perf_counter()
    with PeakPss(portal.pids) as pss:
        portal.start()
        first = run_portal(images[:1], 1, portal.base, token, wait=wait)
        cold = time.perf_counter() - started
        run_portal(images[1:5], 2, portal.base, token, wait=wait)  # both children traced the model
        result = run_portal(images, clients, portal.base, token, wait=wait)
        result["peak_hwm"] = _peak_mib(portal.pids())
    result.update(peak_pss=pss.peak, cold=cold, first=first["counts"])
    return result


def _merge(runs):
    """Pool the rounds of one side: throughput and cold start as medians of the rounds, latencies
    pooled, memory the largest."""
    return {
        "tput": statistics.median(r["n"] / r["wall"] for r in runs),
        "tputs": [r["n"] / r["wall"] for r in runs],
        "latencies": [lat for r in runs for lat in r["latencies"]],
        "peak_pss": max(r["peak_pss"] for r in runs),
        "peak_hwm": max(r["peak_hwm"] for r in runs),
        "cold": statistics.median(r["cold"] for r in runs),
        "colds": [r["cold"] for r in runs],
        "answered": sum(r.get("ok", 0) for r in runs),
        "counts": [r.get("counts") for r in runs],
        "n": sum(r["n"] for r in runs),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=os.environ.get("ECG_DATA_DIR", str(REPO.parent / "shared" / "data")))
    p.add_argument("--images", type=int, default=200)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--rounds", type=int, default=2, help="rounds of the three sides, in alternating order")
    p.add_argument("--wait", type=float, default=10, help="the portal client's long-poll, s (0: poll, backing off)")
    p.add_argument("--load-uploads", type=int, default=500)
    p.add_argument("--load-clients", type=int, default=16)
    p.add_argument("--out", default=str(REPO / "bench" / "RESULTS-load.md"))
    args = p.parse_args(argv)
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get("REDIS_URL"):
        sys.exit("Set DATABASE_URL (PostgreSQL) and REDIS_URL: the benchmark needs the real services.")
    load_before = os.getloadavg()[0]  # other work on the host, said in the report

    media = tempfile.mkdtemp(prefix="bench-media-")
    queue = f"predictions-bench-{uuid.uuid4().hex[:8]}"
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "ecgportal.settings.test", "DJANGO_MEDIA_ROOT": media,
        "PREDICTIONS_QUEUE": queue, "UPLOADS_THROTTLE_RATE": "100000/hour", "API_THROTTLE_USER": "1000000/hour",
        "GUNICORN_WORKERS": "2",
    })
    os.environ.pop("GUNICORN_THREADS", None)
    import django

    django.setup()
    from django.db import connection

    images = _images(args.data, args.images)
    log = open(Path(media) / "servers.log", "a")
    connection.settings_dict["TEST"].update(NAME="bench_ecg_load")
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    portal = Portal(media, queue, log)
    seed, reference, ours, order = [], [], [], []
    try:
        from rest_framework.authtoken.models import Token

        from accounts.tests.factories import UserFactory

        token = Token.objects.create(user=UserFactory()).key
        connection.close()  # the servers use the database; this process only made the user
        sides = [
            ("seed", lambda: seed.append(run_sync_server("bench.seed_server:app", images, args.clients, 8503, log))),
            ("reference", lambda: reference.append(
                run_sync_server("bench.reference_server:app", images, args.clients, 8501, log))),
            ("portal", lambda: ours.append(run_portal_speed(portal, images, args.clients, token, args.wait))),
        ]
        for r in range(args.rounds):
            for name, run in (sides if r % 2 == 0 else sides[::-1]):
                order.append(name)
                try:
                    run()
                finally:
                    portal.stop()
                print(f"round {r + 1}: {name} done", file=sys.stderr, flush=True)
        portal.start()
        try:
            run_portal(images[:4], 2, portal.base, token, wait=args.wait)  # warm: the load test is the steady state
            load = run_portal([images[i % len(images)] for i in range(args.load_uploads)], args.load_clients,
                              portal.base, token, wait=args.wait)
        finally:
            portal.stop()
    finally:
        portal.stop()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
                           " AND pid <> pg_backend_pid()")
        connection.creation.destroy_test_db(test_db, verbosity=0)
        logs = Path(tempfile.gettempdir()) / f"bench-load-logs-{time.strftime('%Y%m%d-%H%M%S')}"
        logs.mkdir()
        for name in ("servers.log", "worker.log"):
            if (Path(media) / name).exists():
                shutil.copy(Path(media) / name, logs / name)
        print(f"server logs kept in {logs}", file=sys.stderr)
        shutil.rmtree(media, ignore_errors=True)

    S, R, P = _merge(seed), _merge(reference), _merge(ours)

    def p50(side):
        return statistics.median(side["latencies"] or [float("nan")])

    def row(label, key_fn, fmt, ratio=True):
        s, r, p = key_fn(S), key_fn(R), key_fn(P)
        cells = [format(v, fmt) for v in (s, r, p)]
        ratios = [f"{p / s:.2f}x", f"{p / r:.2f}x"] if ratio else ["", ""]
        return f"| {label} | {' | '.join(cells)} | {' | '.join(ratios)} |"

    def verdict(ratio, limit, higher_is_better=False):
        ok = ratio >= limit if higher_is_better else ratio <= limit
        return f"{ratio:.2f}x ({'met' if ok else 'not met'})"

    n_each = len(images)
    lines = [
        "# Load: the portal beside the seed-style server it replaces and a same-pipeline reference",
        "",
        f"`python bench/bench_load.py --rounds {args.rounds} --wait {args.wait:g}` — "
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}, {platform.machine()}, {os.cpu_count()} CPU cores, "
        f"Python {platform.python_version()}. The host may be shared (its 1-minute load average was "
        f"{load_before:.2f} before the run, {os.getloadavg()[0]:.2f} after it), so absolute figures move from run "
        f"to run; the sides alternated inside the run (order {', '.join(order)}), and the ratios are the figures "
        "to read.",
        "",
        "Sides:",
        "- **seed-style**: `bench/seed_server.py` under gunicorn (2 sync workers): a plain WSGI app, the picture "
        "resized to 64x64 grey, `predict()` of a small Keras CNN (fixed random weights, seed 23: its labels mean "
        "nothing, its cost is a trained one's), no database, no queue, no stored file;",
        "- **reference**: `bench/reference_server.py` under gunicorn (2 sync workers): the portal's own digitiser "
        "(`ml.io`) and image model, `predict()` per request, no database;",
        "- **portal**: gunicorn with deploy/gunicorn.conf.py (2 gthread workers) + a Celery prefork worker with 2 "
        "children, PostgreSQL and Redis on localhost; token-authenticated API upload, then the status read "
        + (f"as a long-poll (`?wait={args.wait:g}&until=finished`: one read, answered when the result is ready)."
           if args.wait else "polled (50 ms backing off to 0.5 s) until finished."),
        "Each side ran alone (the others stopped). Memory: the summed PSS of every process of the side (web and "
        "worker trees), sampled every 0.25 s, largest sample; PostgreSQL and Redis (shared services) not counted.",
        "",
        f"## Speed: {n_each} single-beat plots (ecg-images/train), {args.clients} concurrent clients, "
        f"{args.rounds} rounds per side",
        "",
        "| measure | seed-style | reference | portal | portal / seed-style | portal / reference |",
        "|---|---:|---:|---:|---:|---:|",
        row("throughput, images/s (median of rounds)", lambda x: x["tput"], ".2f"),
        row("upload -> label p50, s", p50, ".3f"),
        row("upload -> label p95, s", lambda x: _quantile(x["latencies"], 0.95), ".3f"),
        row("peak memory of all server processes (PSS), MiB", lambda x: x["peak_pss"], ".0f"),
        row("for comparison: summed VmHWM, MiB (counts shared pages once per process)",
            lambda x: x["peak_hwm"], ".0f"),
        row("cold start to the first label, s (median of rounds)", lambda x: x["cold"], ".1f"),
        f"| answered | {S['answered']}/{S['n']} labelled | {R['answered']}/{R['n']} labelled | "
        f"{'; '.join(str(c) for c in P['counts'])} | | |",
        "",
        f"Per round: throughput seed-style {', '.join(f'{v:.1f}' for v in S['tputs'])}; reference "
        f"{', '.join(f'{v:.1f}' for v in R['tputs'])}; portal {', '.join(f'{v:.1f}' for v in P['tputs'])} images/s. "
        f"Cold start seed-style {', '.join(f'{v:.1f}' for v in S['colds'])}; reference "
        f"{', '.join(f'{v:.1f}' for v in R['colds'])}; portal {', '.join(f'{v:.1f}' for v in P['colds'])} s.",
        "",
        "Targets (issue 23), portal against the seed-style server: "
        f"throughput >= 1.0x: {verdict(P['tput'] / S['tput'], 1.0, True)}; "
        f"upload -> label p50 <= 1.0x: {verdict(p50(P) / p50(S), 1.0)}; "
        f"peak memory (PSS) <= 1.2x: {verdict(P['peak_pss'] / S['peak_pss'], 1.2)}; "
        f"cold start <= 1.0x: {verdict(P['cold'] / S['cold'], 1.0)}.",
        "",
        f"## Load: {args.load_uploads} uploads from {args.load_clients} clients (portal)",
        "",
        f"Outcomes: {load['counts']} (lost = accepted but not finished within 300 s; dropped = no answer to the "
        f"upload, or to 4 status reads in a row; every upload a new file). Status reads that got no answer and "
        f"were asked again: {load['read_retries']}.",
        f"Wall time {load['wall']:.1f} s, {args.load_uploads / load['wall']:.2f} uploads/s. "
        f"Upload -> finished latency: p50 {_quantile(load['latencies'], 0.5):.2f} s, "
        f"p95 {_quantile(load['latencies'], 0.95):.2f} s, max {max(load['latencies'] or [float('nan')]):.2f} s.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
