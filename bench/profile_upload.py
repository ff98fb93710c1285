"""Profile of one upload end to end: request, queue, task, delivery, with the SQL each part runs.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ecg_bench REDIS_URL=redis://127.0.0.1:6379/10 \\
        python bench/profile_upload.py [--uploads 10] [--out bench/RESULTS-profile.md]

Two parts, one run, on a throw-away PostgreSQL database (``bench_ecg_profile``) and Redis queue:

1. In this process, for the same single-beat plot (ecg-images/train, the picture the load bench
   sends): the API upload request (Django's test client, token authentication, the task really
   sent to Redis), the task (``predictions.analyse`` run here with Celery's ``apply``, the model
   warm), and the client's status read once finished. Each part's wall time and every SQL
   statement it runs are counted (``CaptureQueriesContext``); the statements of the last upload
   are listed by kind so the hot path can be read.
2. With a real Celery worker (prefork, 1 child) and the portal served over HTTP in this process:
   ``--uploads`` uploads one after the other, each followed by long-poll reads of the status
   (``?wait=&until=finished``, as an API client that wants the result reads it); split by the
   database's own timestamps into request (client: POST answered), queue (created -> started),
   task (started -> finished) and delivery (finished -> the client holds the finished status).

Prints the tables and writes them to ``--out``.
"""

import argparse
import os
import platform
import re
import statistics
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench_load import _quantile  # noqa: E402 - one interpolated quantile for every bench
from portal import isolated_portal, require_services, serve, start_worker  # noqa: E402


def _kind(sql):
    """Return a short label of one SQL statement: verb and table (or the function called)."""
    text = " ".join(sql.split())
    verb = text.split(" ", 1)[0].upper()
    if verb in ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT"):
        return verb
    if "pg_try_advisory_lock" in text or "pg_advisory_unlock" in text:
        return "SELECT " + re.search(r"pg_\w+", text).group(0)
    m = re.search(r'(?:FROM|INTO|UPDATE)\s+"(\w+)"', text)
    table = m.group(1) if m else "?"
    lock = " FOR UPDATE" if "FOR UPDATE" in text else ""
    return f"{verb} {table}{lock}"


def _image(data):
    folder = sorted(p for p in (Path(data) / "ecg-images" / "train").iterdir() if p.is_dir())[0]
    return sorted(folder.glob("*.png"))[0].read_bytes()


def profile_in_process(body, token, n):
    """Return per-part timings and SQL counts of ``n`` uploads of ``body`` run in this process."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from predictions import tasks
    from predictions.models import ECGRecord

    analyser = tasks.get_analyser
    analysis_s = []

    def timed_analyser():
        inner = analyser()

        def run(*a, **kw):
            t = time.perf_counter()
            try:
                return inner(*a, **kw)
            finally:
                analysis_s.append(time.perf_counter() - t)

        return run

    tasks.get_analyser = timed_analyser
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    rows = []
    try:
        for i in range(n):
            from django.core.files.uploadedfile import SimpleUploadedFile

            # A different file each time (a byte appended after the PNG's end), so the duplicate
            # check does not answer with the earlier record.
            upload = SimpleUploadedFile(f"beat{i}.png", body + uuid.uuid4().hex.encode(), content_type="image/png")
            with CaptureQueriesContext(connection) as q_req:
                t = time.perf_counter()
                r = client.post("/api/v1/records/", {"file": upload})
                t_req = time.perf_counter() - t
            assert r.status_code == 201, (r.status_code, r.content[:300])
            record = ECGRecord.objects.get(uuid=r.json()["uuid"])
            prediction = record.current_prediction
            status_url = r.json()["links"]["status"]
            with CaptureQueriesContext(connection) as q_poll:
                client.get(status_url)  # a poll while it is queued
            with CaptureQueriesContext(connection) as q_task:
                t = time.perf_counter()
                outcome = tasks.analyse_prediction.apply(args=[prediction.pk], task_id=str(uuid.uuid4())).get()
                t_task = time.perf_counter() - t
            with CaptureQueriesContext(connection) as q_done:
                t = time.perf_counter()
                s = client.get(status_url)
                t_done = time.perf_counter() - t
            assert s.json()["is_finished"], s.json()
            rows.append({
                "outcome": outcome, "request_s": t_req, "task_s": t_task, "analysis_s": analysis_s[-1],
                "done_s": t_done, "q_request": list(q_req.captured_queries), "q_poll": list(q_poll.captured_queries),
                "q_task": list(q_task.captured_queries), "q_done": list(q_done.captured_queries),
            })
    finally:
        tasks.get_analyser = analyser
    return rows


def profile_with_worker(body, token, n, base, poll_s=0.02):
    """Upload ``body`` ``n`` times over HTTP to a real worker; return the split of each."""
    import requests

    from predictions.models import ECGRecord

    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    out = []
    for i in range(n):
        data = body + uuid.uuid4().hex.encode()
        t0 = time.time()
        r = session.post(f"{base}/api/v1/records/", files=[("file", (f"w{i}.png", data))], timeout=60)
        t_accepted = time.time()
        assert r.status_code == 201, r.text[:300]
        status_url = r.json()["links"]["status"]
        polls = 0
        while True:
            polls += 1
            s = session.get(status_url, params={"wait": 10, "until": "finished"}, timeout=30).json()
            if s["is_finished"]:
                break
            time.sleep(poll_s)  # without a long-poll the answer is immediate: poll every 20 ms
            if polls > 2000:
                raise TimeoutError("the upload did not finish")
        t_seen = time.time()
        p = ECGRecord.objects.get(uuid=r.json()["uuid"]).current_prediction
        out.append({
            "total": t_seen - t0, "request": t_accepted - t0,
            "queue": (p.started_at - p.created_at).total_seconds(),
            "task": (p.finished_at - p.started_at).total_seconds(),
            "delivery": t_seen - p.finished_at.timestamp(), "polls": polls, "status": s["status"],
        })
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=os.environ.get("ECG_DATA_DIR", str(REPO.parent / "shared" / "data")))
    p.add_argument("--uploads", type=int, default=10)
    p.add_argument("--in-process", type=int, default=5)
    p.add_argument("--label", default="", help="said in the title (e.g. which commit ran)")
    p.add_argument("--out", default=str(REPO / "bench" / "RESULTS-profile.md"))
    args = p.parse_args(argv)
    require_services("the profile")
    load_before = os.getloadavg()[0]
    with isolated_portal("profile") as portal:
        from rest_framework.authtoken.models import Token

        from accounts.tests.factories import UserFactory

        body = _image(args.data)
        token = Token.objects.create(user=UserFactory()).key
        profile_in_process(body, token, 2)  # warm: load and trace the model, fill Django's caches
        rows = profile_in_process(body, token, args.in_process)
        base = serve(portal, threaded=True)
        start_worker(portal)
        profile_with_worker(body + b"warm", token, 2, base)
        e2e = profile_with_worker(body, token, args.uploads, base)

    med = statistics.median
    last = rows[-1]

    def kinds(queries):
        return ", ".join(f"{k} x{n}" if n > 1 else k for k, n in Counter(_kind(q["sql"]) for q in queries).items())

    lines = [
        "# Profile of one upload: request, queue, task, delivery" + (f" ({args.label})" if args.label else ""),
        "",
        f"`python bench/profile_upload.py` — {time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, "
        f"{os.cpu_count()} CPU cores (1-minute load average {load_before:.2f} before the run: other work on the host), "
        f"Python {platform.python_version()}, "
        "PostgreSQL + Redis on localhost. Input: one single-beat plot (ecg-images/train, 64 KB PNG class), "
        "a byte appended per upload so no two are duplicates.",
        "",
        f"## In this process ({len(rows)} uploads after 2 warm-ups; median)",
        "",
        "| part | wall time | SQL statements |",
        "|---|---:|---:|",
        f"| upload request (API POST: auth, checks, store, row, enqueue) | {med(r['request_s'] for r in rows) * 1000:.1f} ms "
        f"| {med(len(r['q_request']) for r in rows):.0f} |",
        f"| a status read while queued | | {med(len(r['q_poll']) for r in rows):.0f} |",
        f"| task (`predictions.analyse`: claim, start, read, analyse, save) | {med(r['task_s'] for r in rows) * 1000:.1f} ms "
        f"| {med(len(r['q_task']) for r in rows):.0f} |",
        f"| of which the analysis (`ml.analyse`) | {med(r['analysis_s'] for r in rows) * 1000:.1f} ms | 0 |",
        f"| the status read once finished (audited) | {med(r['done_s'] for r in rows) * 1000:.1f} ms "
        f"| {med(len(r['q_done']) for r in rows):.0f} |",
        "",
        f"Outcomes: {dict(Counter(r['outcome'] for r in rows))}.",
        "",
        "Statements of the last upload, in order of first use:",
        "",
        f"- request ({len(last['q_request'])}): {kinds(last['q_request'])}",
        f"- task ({len(last['q_task'])}): {kinds(last['q_task'])}",
        f"- finished status read ({len(last['q_done'])}): {kinds(last['q_done'])}",
        "",
        f"## With a real worker ({len(e2e)} uploads one after the other, after 2 warm-ups)",
        "",
        "Worker: Celery prefork, 1 child; web: Django's WSGI handler in this process (threaded). The client "
        "reads the status with `?wait=10&until=finished` (where the server long-polls, answered once the analysis has finished; "
        "a server without it answers at once, and the client asks again 20 ms later).",
        "",
        "| part | median | p95 |",
        "|---|---:|---:|",
    ]
    for key, label in [("request", "request (client: POST answered)"), ("queue", "queue (created -> task started)"),
                       ("task", "task (started -> finished)"), ("delivery", "delivery (finished -> client has it)"),
                       ("total", "upload -> label (client)")]:
        vals = [r[key] for r in e2e]
        lines.append(f"| {label} | {med(vals) * 1000:.0f} ms | {_quantile(vals, 0.95) * 1000:.0f} ms |")
    lines += ["", f"Status reads per upload: median {med(r['polls'] for r in e2e):.0f}; "
                  f"outcomes {dict(Counter(r['status'] for r in e2e))}."]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
