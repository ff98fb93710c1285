"""Upload-to-result benchmark: time from an API upload to a finished result, with a real worker.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ecgportal REDIS_URL=redis://127.0.0.1:6379/2 \\
        python bench/bench_upload_to_result.py [--data ../shared/data] [--uploads 20]

What it does, in one run on this machine:
- creates a throw-away PostgreSQL database (``bench_ecg_upload``, migrated) and media folder;
- starts a real Celery worker (``--pool=prefork --concurrency=1``) on its own queue in Redis;
- serves the portal over HTTP (a local WSGI server) and, as a token-authenticated client, uploads
  30 s of MIT-BIH record 119 (WFDB .hea + .dat) ``--uploads`` times, one after the other, reading
  the status with a long-poll (``?wait=10``: answered as soon as it changes) until it is finished;
- beside it, as the baseline, times the same file through ``ml.analyse()`` in this process (warm
  model): what the worker spends on the analysis itself.
Prints median / p95 of both and writes the same text to bench/RESULTS-upload.md. Two warm-up
uploads (the worker's first task traces the model) are reported but not counted.
"""

import argparse
import os
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_load import _quantile  # noqa: E402 - one interpolated quantile for every bench
from portal import isolated_portal, require_services, serve, start_worker  # noqa: E402
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=os.environ.get("ECG_DATA_DIR", str(REPO.parent / "shared" / "data")))
    p.add_argument("--uploads", type=int, default=20)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--out", default=str(REPO / "bench" / "RESULTS-upload.md"))
    args = p.parse_args(argv)
    require_services()
    with isolated_portal("upload") as portal:
        import requests
        from rest_framework.authtoken.models import Token

        from accounts.tests.factories import UserFactory
        from predictions.models import Prediction
        from predictions.tests.samples import mitdb_excerpt

        base = serve(portal)
        excerpt_dir = portal.media / "excerpt"
        hea, dat, reference = mitdb_excerpt(args.data, excerpt_dir, record="119", start_s=60, seconds=30)
        header, samples = hea.read_bytes(), dat.read_bytes()

        t = time.perf_counter()
        start_worker(portal)
        worker_start_s = time.perf_counter() - t

        user = UserFactory()
        token = Token.objects.create(user=user)
        session = requests.Session()
        session.headers["Authorization"] = f"Token {token.key}"

        def one_upload():
            # A comment line makes each upload a new file: the same file again within a minute is
            # the same ECG (the earlier record comes back, nothing is analysed).
            files = [("file", ("x119.hea", header + f"# upload {uuid.uuid4().hex}\n".encode())),
                     ("file", ("x119.dat", samples))]
            t0 = time.perf_counter()
            r = session.post(f"{base}/api/v1/records/", files=files, timeout=60)
            r.raise_for_status()
            assert r.status_code == 201, r.status_code
            status_url = r.json()["links"]["status"]
            t_accepted = time.perf_counter() - t0
            while True:
                s = session.get(status_url, params={"wait": 10}, timeout=30).json()
                if s["is_finished"]:
                    break
            total = time.perf_counter() - t0
            assert s["status"] == "done", s
            return total, t_accepted, s["duration_ms"] / 1000.0

        warm = [one_upload() for _ in range(args.warmup)]
        runs = [one_upload() for _ in range(args.uploads)]
        waits = [
            (p.started_at - p.created_at).total_seconds()
            for p in Prediction.objects.filter(record__owner=user).order_by("created_at")[args.warmup :]
        ]

        # Baseline: the analysis alone, in this process, warm.
        from ml import analyse

        analyse(str(hea))
        baseline = []
        for _ in range(args.uploads):
            t = time.perf_counter()
            result = analyse(str(hea))
            baseline.append(time.perf_counter() - t)
        beats = len(result.labels)
        from predictions.plots import trace_png

        data = result.to_dict()
        trace, step = data["trace"], data["trace"]["step"]
        drawing = []
        for _ in range(5):
            t = time.perf_counter()
            trace_png(trace["values"], fs=trace["fs"], r_peaks=[p // step for p in data["r_peaks"]], labels=data["labels"])
            drawing.append(time.perf_counter() - t)

        totals = [r[0] for r in runs]
        accepted = [r[1] for r in runs]
        worker_analysis = [r[2] for r in runs]
        lines = [
            "# Upload to result: API upload -> real Celery worker -> finished result",
            "",
            f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores (shared with other work while it ran), Python {platform.python_version()}, "
            f"PostgreSQL + Redis on localhost; worker `--pool=prefork --concurrency=1`.",
            f"Input: 30 s of MIT-BIH record 119 (WFDB .hea + .dat, {beats} beats), uploaded {args.uploads} times "
            f"over HTTP with token auth, one after the other; status read as a long-poll (`?wait=10`).",
            f"Worker start to `ready`: {worker_start_s:.1f} s (the pool child then imports TensorFlow and loads "
            f"the model in a background thread). Warm-up uploads, not counted (the first one waits for that "
            f"and traces the model): {', '.join(f'{w[0]:.2f} s' for w in warm)}.",
            "",
            "| measure | median | p95 |",
            "|---|---:|---:|",
            f"| upload -> result (end to end, client side) | {statistics.median(totals):.3f} s | {_quantile(totals, 0.95):.3f} s |",
            f"| upload request alone (checks, storage, row, enqueue) | {statistics.median(accepted):.3f} s | {_quantile(accepted, 0.95):.3f} s |",
            f"| queue wait (created -> worker started) | {statistics.median(waits):.3f} s | {_quantile(waits, 0.95):.3f} s |",
            f"| worker: analysis (duration_ms; the page draws the trace) | {statistics.median(worker_analysis):.3f} s | {_quantile(worker_analysis, 0.95):.3f} s |",
            f"| baseline: in-process `ml.analyse()` (warm) | {statistics.median(baseline):.3f} s | {_quantile(baseline, 0.95):.3f} s |",
            f"| for reference: drawing a trace picture (no longer in the worker; the PDF draws it on demand) | {statistics.median(drawing):.3f} s | |",
            "",
            f"Overhead of the asynchronous path over the bare analysis (median): "
            f"{statistics.median(totals) - statistics.median(baseline):.3f} s "
            f"({statistics.median(totals) / statistics.median(baseline):.1f}x).",
        ]
        text = "\n".join(lines) + "\n"
        print(text)
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
