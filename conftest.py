"""Fixtures shared by every app's tests.

Services: tests that need PostgreSQL, Redis, a Celery worker or Chromium use the fixtures
below. Outside CI they skip with a reason when the service is missing; under CI=true a
missing service fails the test instead, so nothing silently skips in CI.
"""

import os
import shutil
from pathlib import Path

import pytest

from ecgportal.testing import IN_CI, require  # noqa: F401  (re-exported for fixtures)

REPO = Path(__file__).resolve().parent
# Screenshots and logs of the browser tests; `make screenshots` points it at docs/screenshots.
ARTIFACTS = Path(os.environ.get("ECG_ARTIFACTS_DIR") or REPO / "test-artifacts")


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Give every test its own private MEDIA_ROOT."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _initial_content(request):
    """Reload the articles the data migration ships, for tests that flush the database.

    Transactional tests (live server, real worker) empty every table when they end, including
    rows a data migration loaded; the portal always has its articles, so these tests do too.
    """
    if "transactional_db" in request.fixturenames or "live_server" in request.fixturenames:
        request.getfixturevalue("transactional_db")
        from articles.services import article_load_content

        article_load_content()


@pytest.fixture(scope="session")
def data_dir():
    """Return the shared data folder (MIT-BIH, ECG images); never copied into the repo."""
    path = Path(os.environ.get("ECG_DATA_DIR", REPO.parent / "shared" / "data"))
    require((path / "mitdb" / "100.hea").exists(), f"ECG data not found at {path}")
    return path


@pytest.fixture(scope="session")
def redis_url():
    url = os.environ.get("REDIS_URL", "")
    require(bool(url), "REDIS_URL is not set")
    return url


@pytest.fixture(scope="session")
def chromium_path():
    path = shutil.which("chromium") or "/usr/bin/chromium"
    require(Path(path).exists(), "Debian's chromium is not installed")
    return path


@pytest.fixture(scope="session")
def artifacts_dir():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser(chromium_path):
    """Return a headless Debian Chromium driven by Playwright (no downloaded browser)."""
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the
    # test itself are still synchronous and safe.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()
