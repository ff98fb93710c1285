"""The portal for a bench: Django on a throw-away PostgreSQL database, media folder and Celery queue,
served over HTTP by a plain WSGI server and analysed by a real worker; all of it removed afterwards.

    with isolated_portal("profile") as portal:   # needs DATABASE_URL (PostgreSQL) and REDIS_URL
        serve(portal, threaded=True)             # portal.base: http://127.0.0.1:<port>
        start_worker(portal)
"""

import os
import shutil
import sys
import tempfile
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace


def require_services(what="the benchmark"):
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get("REDIS_URL"):
        sys.exit(f"Set DATABASE_URL (PostgreSQL) and REDIS_URL: {what} needs the real services.")


@contextmanager
def isolated_portal(name):
    """Set Django up on the test database ``bench_ecg_<name>`` (created, migrated, then dropped),
    a temporary media folder and a Celery queue of its own; yield them as ``portal``."""
    media = tempfile.mkdtemp(prefix="bench-media-")
    queue = f"predictions-{name}-{uuid.uuid4().hex[:8]}"
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "ecgportal.settings.test", "DJANGO_MEDIA_ROOT": media, "PREDICTIONS_QUEUE": queue,
        "UPLOADS_THROTTLE_RATE": "100000/hour", "API_THROTTLE_USER": "1000000/hour",
    })
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    settings.ALLOWED_HOSTS = ["*"]
    connection.settings_dict["TEST"].update(NAME=f"bench_ecg_{name}")
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    portal = SimpleNamespace(media=Path(media), queue=queue, server=None, worker=None, base=None)
    try:
        yield portal
    finally:
        from predictions.tests.worker import purge_queue

        if portal.worker is not None:
            portal.worker.stop()
        purge_queue(os.environ["REDIS_URL"], queue)
        if portal.server is not None:
            portal.server.shutdown()
        with connection.cursor() as cursor:  # the served requests' threads kept their connections
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
                           " AND pid <> pg_backend_pid()")
        connection.creation.destroy_test_db(test_db, verbosity=0)
        shutil.rmtree(media, ignore_errors=True)


def serve(portal, *, threaded=False):
    """Serve the portal's WSGI application on a free local port (one thread a request when
    ``threaded``); set ``portal.base``."""
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIServer, make_server

    from django.core.servers.basehttp import WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    class Quiet(WSGIRequestHandler):
        def log_message(self, *a):
            pass

    class Threaded(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    portal.server = make_server("127.0.0.1", 0, get_wsgi_application(),
                                server_class=Threaded if threaded else WSGIServer, handler_class=Quiet)
    threading.Thread(target=portal.server.serve_forever, daemon=True).start()
    portal.base = f"http://127.0.0.1:{portal.server.server_port}"
    return portal.base


def start_worker(portal):
    """Start a real Celery worker on the portal's database, media and queue; return it."""
    from django.db import connection

    from predictions.tests.worker import WorkerProcess, database_url

    portal.worker = WorkerProcess(database_url=database_url(connection.settings_dict),
                                  redis_url=os.environ["REDIS_URL"], media_root=str(portal.media),
                                  log_path=portal.media / "worker.log", queue=portal.queue)
    portal.worker.start()
    return portal.worker
