"""The Celery application. Tasks are autodiscovered in each app's ``tasks.py``.

Configuration lives in Django settings under the ``CELERY_`` prefix (see settings/base.py).
"""

import os
from functools import partial

from celery import Celery
from celery.worker.consumer import Consumer as CeleryConsumer

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecgportal.settings.local")

app = Celery("ecgportal")

# Longest wait between a worker's tries to reach a broker that went away. Celery's own wait grows
# by 2 s a try up to 30 s, so a worker could sit out half a minute after Redis is back.
BROKER_RETRY_MAX_S = 2


class Consumer(CeleryConsumer):
    """Celery's consumer, trying a lost broker again every BROKER_RETRY_MAX_S seconds at most, so
    analyses resume within seconds of Redis coming back (settings' CELERY_WORKER_CONSUMER)."""

    def ensure_connected(self, conn):
        conn.ensure_connection = partial(
            conn.ensure_connection, interval_start=0, interval_step=1, interval_max=BROKER_RETRY_MAX_S
        )
        return super().ensure_connected(conn)


def route_task(name, args, kwargs, options, task=None, **kw):
    """Send the portal's tasks (analyses, sweeps, data exports, care-team invitations) to
    ``PREDICTIONS_QUEUE`` when it is set (settings' CELERY_TASK_ROUTES): the queue the portal's
    workers consume.

    Read at send time, so the one routing rule holds for the upload, the sweep and celery beat.
    """
    from django.conf import settings

    if name.startswith(("predictions.", "exports.", "accounts.")) and settings.PREDICTIONS_QUEUE:
        return {"queue": settings.PREDICTIONS_QUEUE}
    return None


app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def task(name):
    """Return the registered task ``name``. Services send tasks by name through here, so a
    service never imports the tasks module that calls it: imports run tasks -> services
    (``ecgportal/tests/test_layers.py``)."""
    if name not in app.tasks:  # outside a worker nothing has imported the apps' tasks modules yet
        app.loader.import_default_modules()
    return app.tasks[name]
