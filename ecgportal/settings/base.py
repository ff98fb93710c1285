"""Settings shared by every environment, read from the environment through django-environ.

``local`` (the embedded default), ``test`` and ``production`` override what differs.
Every variable is documented in the README's configuration table.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from static/, not a CDN: the portal works offline
    "csp",
    "django_htmx",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.openid_connect",
    "allauth.mfa",
    "ecgportal",
    "accounts",
    "predictions",
    "articles",
    "usage",
    "audit",
    "exports",
    "notifications",
]

MIDDLEWARE = [
    "ecgportal.db_retry.RetryReadOnLostConnectionMiddleware",  # outermost: a retry runs every layer
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "ecgportal.uploads.UploadLimitMiddleware",  # a body over the upload limit is refused unread
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "usage.middleware.ActivityMiddleware",
]

ROOT_URLCONF = "ecgportal.urls"
WSGI_APPLICATION = "ecgportal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "ecgportal.context_processors.portal",
                "notifications.context_processors.unread_notifications",
            ],
        },
    },
]

# Database: PostgreSQL from DATABASE_URL; SQLite file when unset (the embedded default).
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Keep connections between requests (polling and the API would otherwise open one per request),
# checked before reuse so a restarted PostgreSQL costs one retry, not an error page.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DJANGO_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The embedded default: an analysis thread writes while pages read; wait for the lock.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("timeout", 20)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Static files are served by WhiteNoise; vendored front-end libraries live in static/vendor.
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# Uploaded ECGs and derived images are private: MEDIA_ROOT is never served by URL. Files are
# streamed by views that check who is asking. Production may switch to S3 (django-storages).
MEDIA_ROOT = Path(env("DJANGO_MEDIA_ROOT", default=str(BASE_DIR / "media")))
MEDIA_URL = "/media-not-served/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if env("DJANGO_STORAGE_BACKEND", default="filesystem") == "s3":
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("AWS_STORAGE_BUCKET_NAME"),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }

# Uploads: limit enforced by the upload validators; Django's own limits guard memory.
ECG_UPLOAD_MAX_BYTES = env.int("ECG_UPLOAD_MAX_BYTES", default=20 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
ECG_DATA_DIR = Path(env("ECG_DATA_DIR", default=str(BASE_DIR.parent / "shared" / "data")))

# Redis: cache (rate limits, sessions' throttling), Celery broker and result backend.
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            # Redis down must not take pages down: cache reads miss, writes are dropped, and the
            # rate limits built on them let requests through (logged) instead of answering 500.
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
            },
            "KEY_PREFIX": env("DJANGO_CACHE_PREFIX", default="ecgportal"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

# Celery. Without REDIS_URL, tasks run in-process (eagerly); ecgportal.apps logs that.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
# Without a broker, each analysis runs in a thread of the web process, so the upload answers at once.
PREDICTIONS_IN_PROCESS_THREAD = env.bool("PREDICTIONS_IN_PROCESS_THREAD", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=120)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=180)
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env.int("CELERY_WORKER_MAX_MEMORY_PER_CHILD", default=1_500_000)  # KiB
# A pool child must report up within this many seconds or Celery kills it. Children report at
# once (the model loads in a background thread, predictions/tasks.py); the margin is for a busy host.
CELERY_WORKER_PROC_ALIVE_TIMEOUT = env.float("CELERY_WORKER_PROC_ALIVE_TIMEOUT", default=30.0)
# Redis hands an unacknowledged message out again after this many seconds: longer than a task
# may hold one (waiting behind another, then running to the hard time limit), so a live task is
# never delivered twice. A killed worker's analyses do not wait for it: the sweep finds them
# (predictions.claims) and sends them again within seconds.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=max(600, 2 * CELERY_TASK_TIME_LIMIT + 60)),
    "socket_connect_timeout": 2,
}
# Sending a task when the broker is down gives up in about a second: the upload is already saved
# as pending and the stale sweep sends it once the broker is back (predictions.services).
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.3, "interval_max": 0.5}
# A worker that lost Redis tries again every 2 s (ecgportal.celery.Consumer), for as long as it takes.
CELERY_WORKER_CONSUMER = "ecgportal.celery:Consumer"
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TIMEZONE = TIME_ZONE

# Email. Local settings print to the console; production uses SMTP from EMAIL_URL.
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="ECG Portal <no-reply@ecgportal.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "")
EMAIL_PORT = _email.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = 10
# Administrators told about doctors awaiting verification (and about server errors): a comma list.
ADMINS = [("", address) for address in env.list("DJANGO_ADMINS", default=[])]

# django-allauth: email is the login; confirmation is mandatory; code login; TOTP 2FA.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_FORMS = {"signup": "accounts.forms.SignupForm"}
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED = False
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_UNIQUE_EMAIL = True
# Whether an address has an account here is health information: never reveal it.
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[ECG Portal] "
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_DEFAULT_HTTP_PROTOCOL = env("ACCOUNT_DEFAULT_HTTP_PROTOCOL", default="http")
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
# Reverse proxies in front of Django that append to X-Forwarded-For (0: use REMOTE_ADDR). A
# client can write that header itself, so it is trusted only this many hops deep.
ACCOUNT_TRUSTED_PROXY_COUNT = env.int("DJANGO_TRUSTED_PROXY_COUNT", default=0)
# Counted in the cache (Redis when REDIS_URL is set). Failed sign-ins are limited per account
# first: once an account is locked, more guesses at it no longer count against its IP address,
# so one account's bad passwords never lock out other people behind the same address (a
# hospital's NAT); the looser per-IP limit stops guessing across many accounts.
ACCOUNT_RATE_LIMITS = {
    "login": "60/m/ip",
    "login_failed": "5/5m/key,30/m/ip",
    "signup": "20/m/ip",
    "request_login_code": "20/m/ip,3/m/key",
    "reset_password": "20/m/ip,5/m/key",
    "confirm_email": "1/3m/key",
    # Care-team invitations a user may send (accounts.services.care_link_invite). One rate only:
    # allauth counts every rate of an action and per-kind (user) in the same list.
    "care_link_invite": "20/h/user",
}
SOCIALACCOUNT_ADAPTER = "accounts.adapters.SocialAccountAdapter"
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_QUERY_EMAIL = True
# Flash messages ("Welcome, Grace") live in the session, not in a cookie the browser can read.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "ECG Portal"
MFA_TOTP_TOLERANCE = 1  # accept the previous and next 30 s code: phone clocks drift

# Social sign-in, configured only from the environment; a button shows only when configured.
# allauth's google provider reads its endpoint URLs once, at import time; GOOGLE_OAUTH_BASE_URL
# points all of them at one server (an OpenID provider in tests). Unset: Google's own.
def google_endpoints(base_url=""):
    """Return the SOCIALACCOUNT_PROVIDERS["google"] URL settings for ``base_url`` (Google's when empty)."""
    if not base_url:
        return {
            "AUTHORIZE_URL": "https://accounts.google.com/o/oauth2/v2/auth",
            "ACCESS_TOKEN_URL": "https://oauth2.googleapis.com/token",
            "IDENTITY_URL": "https://www.googleapis.com/oauth2/v2/userinfo",
            "CERTS_URL": "https://www.googleapis.com/oauth2/v1/certs",
            "ID_TOKEN_ISSUER": "https://accounts.google.com",
        }
    base_url = base_url.rstrip("/")
    return {
        "AUTHORIZE_URL": f"{base_url}/o/oauth2/v2/auth",
        "ACCESS_TOKEN_URL": f"{base_url}/token",
        "IDENTITY_URL": f"{base_url}/oauth2/v2/userinfo",
        "CERTS_URL": f"{base_url}/oauth2/v1/certs",
        "ID_TOKEN_ISSUER": base_url,
    }


SOCIALACCOUNT_PROVIDERS = {
    "google": {
        "SCOPE": ["openid", "profile", "email"],
        "AUTH_PARAMS": {"access_type": "online"},
        "OAUTH_PKCE_ENABLED": True,
        **google_endpoints(env("GOOGLE_OAUTH_BASE_URL", default="")),
    },
}
if env("GOOGLE_CLIENT_ID", default=""):
    SOCIALACCOUNT_PROVIDERS["google"]["APPS"] = [
        {"client_id": env("GOOGLE_CLIENT_ID"), "secret": env("GOOGLE_CLIENT_SECRET", default="")}
    ]
# LinkedIn uses OpenID Connect ("Sign In with LinkedIn using OpenID Connect").
if env("LINKEDIN_CLIENT_ID", default=""):
    SOCIALACCOUNT_PROVIDERS["openid_connect"] = {
        "APPS": [
            {
                "provider_id": "linkedin",
                "name": "LinkedIn",
                "client_id": env("LINKEDIN_CLIENT_ID"),
                "secret": env("LINKEDIN_CLIENT_SECRET", default=""),
                "settings": {
                    "server_url": env("LINKEDIN_OIDC_URL", default="https://www.linkedin.com/oauth"),
                    "token_auth_method": "client_secret_post",
                },
            }
        ]
    }

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: an unauthenticated API call gets 401 with WWW-Authenticate, not 403.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "ecgportal.api_errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
    # Client IP for per-IP limits: only addresses added by our own proxies count (a client can
    # write X-Forwarded-For itself); 0 means REMOTE_ADDR.
    "NUM_PROXIES": ACCOUNT_TRUSTED_PROXY_COUNT,
    "DEFAULT_THROTTLE_RATES": {"user": env("API_THROTTLE_USER", default="600/hour"), "uploads": env("UPLOADS_THROTTLE_RATE", default="60/hour"),
                               # the crop step's page finder (predictions.views.page_corners): one per picture chosen
                               "page_finds": env("PAGE_FINDS_THROTTLE_RATE", default="120/hour")},
}
SPECTACULAR_SETTINGS = {
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "ecgportal.api_schema.add_common_error_responses",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "TITLE": "ECG Portal API",
    "DESCRIPTION": "Upload ECGs, follow their analysis and read the results. Not a diagnosis.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# Content-Security-Policy: every script, style, font and image comes from the portal itself.
# Inline style attributes remain in a few templates, hence 'unsafe-inline' for styles only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Predictions (owned by predictions/) --------------------------------------------------
# Uploads: the web checks only count and size; every format rule (image size guards included)
# lives in ml.io (ml/io/probe.py at upload, ml.io.load in the worker).
# The analysis function the worker calls; tests may point it at a stand-in.
PREDICTIONS_ANALYSER = env("PREDICTIONS_ANALYSER", default="ml.analyse")
# What each worker child calls once, in the background, to load the models before the first task.
PREDICTIONS_MODEL_WARMUP = env("PREDICTIONS_MODEL_WARMUP", default="ml.store.warm_up")
# Modules the worker's main process imports before it forks its children (predictions.tasks):
# imported once and shared, not once per child. Imports only: no model, no tensor, no thread.
PREDICTIONS_WORKER_PREIMPORT = env.list("PREDICTIONS_WORKER_PREIMPORT", default=["keras", "ml.analysis"])
# Queue the analysis task is sent to (None: Celery's default queue, which `make worker` consumes).
PREDICTIONS_QUEUE = env("PREDICTIONS_QUEUE", default=None)
CELERY_TASK_ROUTES = ("ecgportal.celery.route_task",)  # the one place tasks are routed
PREDICTIONS_MAX_ATTEMPTS = env.int("PREDICTIONS_MAX_ATTEMPTS", default=3)
# A pending prediction not picked up after this long is sent again. A running one is lost as soon
# as no worker holds its claim (predictions.claims, PostgreSQL); where the database cannot tell
# (SQLite), once it is older than the task's hard time limit plus a margin.
PREDICTIONS_STALE_PENDING_S = env.int("PREDICTIONS_STALE_PENDING_S", default=300)
PREDICTIONS_STALE_RUNNING_S = env.int("PREDICTIONS_STALE_RUNNING_S", default=CELERY_TASK_TIME_LIMIT + 60)
# A pending prediction whose task could not be sent (the broker was down) is sent again by the
# sweep after this many seconds: longer than a send may take (CELERY_TASK_PUBLISH_RETRY_POLICY).
PREDICTIONS_UNSENT_RETRY_S = env.int("PREDICTIONS_UNSENT_RETRY_S", default=10)
# The sweep sends unsent, lost and orphaned predictions again (predictions.services); a sweep
# still queued when the next one is due is dropped.
PREDICTIONS_SWEEP_EVERY_S = env.float("PREDICTIONS_SWEEP_EVERY_S", default=10.0)
CELERY_BEAT_SCHEDULE = {
    "requeue-stale-predictions": {
        "task": "predictions.requeue_stale",
        "schedule": PREDICTIONS_SWEEP_EVERY_S,
        "options": {"expires": PREDICTIONS_SWEEP_EVERY_S},
    },
}
# --- end Predictions ------------------------------------------------------------------------
