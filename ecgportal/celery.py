"""The Celery application. Tasks are autodiscovered in each app's ``tasks.py``.

Configuration lives in Django settings under the ``CELERY_`` prefix (see settings/base.py).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecgportal.settings.local")

app = Celery("ecgportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
