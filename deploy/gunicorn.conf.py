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
graceful_timeout = 30
# Recycle workers now and then so a slow leak cannot grow without bound.
max_requests = 2000
max_requests_jitter = 200
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
