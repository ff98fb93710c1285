import copy
import logging
import uuid

import pytest
from django.conf import settings as django_settings

from accounts.tests.mailbox import SMTPServer
from accounts.tests.oidc_provider import OpenIDProvider

PASSWORD = "correct-horse-battery-staple"  # the factories' password


@pytest.fixture(autouse=True)
def _fresh_cache_namespace(settings):
    """Give each test its own rate-limit counters in the real cache (Redis when REDIS_URL is set)."""
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["KEY_PREFIX"] = f"test-accounts-{uuid.uuid4().hex[:12]}"
    settings.CACHES = caches


@pytest.fixture(autouse=True)
def _eager_tasks():
    """Run Celery tasks (care-team invitations) in-process: unit tests have no worker."""
    from ecgportal.celery import app

    old = app.conf.CELERY_TASK_ALWAYS_EAGER, app.conf.CELERY_TASK_EAGER_PROPAGATES
    app.conf.CELERY_TASK_ALWAYS_EAGER, app.conf.CELERY_TASK_EAGER_PROPAGATES = True, True
    yield
    app.conf.CELERY_TASK_ALWAYS_EAGER, app.conf.CELERY_TASK_EAGER_PROPAGATES = old


@pytest.fixture(scope="session")
def smtp_server():
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def mailbox(smtp_server, settings):
    """Send this test's email over SMTP to the local server; return its mailbox."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_server.host
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    smtp_server.mailbox.clear()
    return smtp_server.mailbox


@pytest.fixture(scope="session")
def oidc_server():
    # The port is fixed by the test settings: allauth's google provider read it at import.
    provider = OpenIDProvider(django_settings.TEST_OIDC_URL).start()
    yield provider
    provider.stop()


@pytest.fixture
def oidc(oidc_server):
    oidc_server.reset()
    return oidc_server
