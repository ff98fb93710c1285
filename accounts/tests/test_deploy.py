"""Production settings pass Django's deployment checklist."""

import os
import secrets
import subprocess
import sys

from django.conf import settings


def test_check_deploy_reports_nothing_for_production_settings():
    env = {
        **os.environ,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "DJANGO_ALLOWED_HOSTS": "ecg.example.org",
        "DATABASE_URL": "postgres://ecg:secret@db.internal:5432/ecgportal",
        "REDIS_URL": "redis://cache.internal:6379/0",
        "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.org:587",
    }
    for test_only in ("DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"):  # set by pytest fixtures
        env.pop(test_only, None)

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--settings=ecgportal.settings.production", "--fail-level=WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output
    assert "WARNING" not in output
