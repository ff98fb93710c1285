import logging

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger(__name__)


class PortalConfig(AppConfig):
    name = "ecgportal"
    verbose_name = "ECG Portal"

    def ready(self):
        if settings.CELERY_TASK_ALWAYS_EAGER:
            logger.warning(
                "REDIS_URL is not set: analyses run in a background thread of the web process. "
                "Set REDIS_URL and start a worker (make worker) to analyse on separate machines."
            )
