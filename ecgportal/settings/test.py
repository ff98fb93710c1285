"""Settings for pytest. Services come from DATABASE_URL and REDIS_URL when set (CI sets both)."""

from .base import *  # noqa: F401,F403
from .base import DATABASES, env

SECRET_KEY = "test-only-secret-key"
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Parallel developers and CI each get their own test database name.
DATABASES["default"]["TEST"] = {"NAME": env("DJANGO_TEST_DB_NAME", default=None)}
ALLOWED_HOSTS = ["*"]
# Serve static files from the finders (no collectstatic needed for live-server tests).
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
