"""The Celery application. Tasks are autodiscovered in each app's ``tasks.py``.

Configuration lives in Django settings under the ``CELERY_`` prefix (see settings/base.py).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecgportal.settings.local")

app = Celery("ecgportal")


def route_task(name, args, kwargs, options, task=None, **kw):
    """Send the portal's tasks (analyses, sweeps, data exports) to ``PREDICTIONS_QUEUE`` when it is
    set (settings' CELERY_TASK_ROUTES): the queue the portal's workers consume.

    Read at send time, so the one routing rule holds for the upload, the sweep and celery beat.
    """
    from django.conf import settings

    if name.startswith(("predictions.", "exports.")) and settings.PREDICTIONS_QUEUE:
        return {"queue": settings.PREDICTIONS_QUEUE}
    return None


app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
