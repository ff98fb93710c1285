"""Settings for pytest. Services come from DATABASE_URL and REDIS_URL when set (CI sets both)."""

from .base import *  # noqa: F401,F403
from .base import DATABASES, SOCIALACCOUNT_PROVIDERS, env, google_endpoints

SECRET_KEY = "test-only-secret-key"
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Unit tests run analyses synchronously; the thread mode has its own test.
PREDICTIONS_IN_PROCESS_THREAD = False


def _free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Social sign-in tests run a local OpenID provider (accounts/tests/oidc_provider.py). allauth's
# google provider reads its endpoint URLs once, at import time, so that provider's port is
# chosen here, before Django starts.
TEST_OIDC_URL = f"http://127.0.0.1:{env.int('TEST_OIDC_PORT', default=0) or _free_port()}"
SOCIALACCOUNT_PROVIDERS["google"].update(google_endpoints(f"{TEST_OIDC_URL}/google"))

# Parallel developers and CI each get their own test database name.
DATABASES["default"]["TEST"] = {"NAME": env("DJANGO_TEST_DB_NAME", default=None)}
ALLOWED_HOSTS = ["*"]
# Serve static files from the finders (no collectstatic needed for live-server tests).
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
