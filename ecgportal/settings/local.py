"""The embedded default for `make run`: SQLite, console email, tasks in-process without REDIS_URL."""

from .base import *  # noqa: F401,F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="local-development-key-not-for-production")
WHITENOISE_AUTOREFRESH = DEBUG
WHITENOISE_USE_FINDERS = True
