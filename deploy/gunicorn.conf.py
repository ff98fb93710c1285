"""Gunicorn for the portal's web process (docker-compose.yml and the Dockerfile start it with this file).

Threads, not sync workers: a sync worker is held by one client for as long as that client takes
to send its request, so three clients uploading at 2 KB/s took the whole site down (issue 24).
In a gthread worker a slow body holds one thread while the others answer; the main thread keeps
the worker's heartbeat, so gunicorn's timeout no longer kills a worker (and every request in it)
because one upload is slow. The buffering proxy in front (deploy/nginx.conf) is the first line:
it receives whole requests before gunicorn sees them. These threads are the second, for a
deployment without it. Why not an ASGI server: Django's ASGI handler writes the whole body to a
temporary file before any code of ours can refuse it by size (ecgportal/uploads.py).

Every thread may hold a PostgreSQL connection (CONN_MAX_AGE): keep workers x threads, plus the
Celery worker's children, under the server's max_connections (docker-compose.yml raises it to 200).
"""

import os

wsgi_app = "ecgportal.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
# Enough for 50 clients trickling bodies at once (ecgportal/tests/test_front_door.py) with room
# for pages.
# 64 threads a worker: with 40, 50 trickling uploads on this 2-core host delayed a page past 10 s
# in 1 of 7 runs with both cores busy (ecgportal/tests/test_front_door.py); with 64, in 0 of 7.
threads = int(os.environ.get("GUNICORN_THREADS", "64"))
# A worker takes no more connections than it has threads: otherwise the kernel may hand most
# connections to one worker, whose queue then holds a page behind slow uploads while the other
# worker idles. Past workers x threads, connections wait in the listen backlog. The price is no
# keep-alive between gunicorn and its client (the proxy, on the same network).
worker_connections = threads
keepalive = 0
# A request the app itself takes longer than this over (the worker is stuck) is killed.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# On a restart or shutdown, requests already in a thread get this long to finish: more than the
# longest status long-poll (predictions.selectors.STATUS_WAIT_MAX_S, 25 s).
graceful_timeout = 30
# No recycling after N requests: it drops requests. A gthread worker that reaches max_requests
# leaves its loop at once (gunicorn 23.0, workers/gthread.py), and connections it has accepted
# but not yet read are closed unanswered: a reset for the client, a 502 from the proxy. Known and
# open upstream: benoitc/gunicorn#3038 (PR #3039). Measured here (1 worker, 4 threads,
# max_requests 50, 2,000 requests from 16 clients): 38 reset; 0 without recycling; 32 with
# PR #3039's accept guard alone. This file with its old 2,000 (+ jitter), 1 worker: 2 of 2,600
# requests dropped at the one recycle (ecgportal/tests/test_gunicorn_recycling.py, now 0).
# max_requests_jitter only spreads restarts, graceful_timeout only waits for requests already in
# a thread: neither helps. The likely loss of 2 uploads in one old polling-client load run: its
# polls took each of the 2 workers past 2,000 requests once. The web process holds no model
# (TensorFlow is in the Celery worker, with --max-memory-per-child).
max_requests = 0
# The heartbeat file on a memory filesystem: a container's overlay disk can stall it.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# X-Forwarded-* set by the proxy are trusted from these addresses only (the compose network).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"


def post_request(worker, req, environ, resp):
    """Close a connection whose request body the app left unread instead of reading it to its end.

    Gunicorn keeps a connection open after a response and, before the next request, reads and
    discards what is left of the last body: a 1 GB upload refused at once by its Content-Length
    would still be read in full, holding a thread for as long as the client keeps sending.
    """
    if getattr(req.body.reader, "length", 0):
        req.must_close = True
