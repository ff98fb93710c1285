"""A browser renders the dashboard's charts; the screenshot goes to test-artifacts/."""

import pytest
from django.conf import settings as django_settings

from accounts.tests.factories import StaffFactory
from articles.models import Article, ArticleView
from usage.tests.bulk import bulk_usage_data


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_dashboard_draws_charts_and_is_screenshotted(live_server, page, client, artifacts_dir):
    staff = StaffFactory(email="admin@example.com")
    bulk_usage_data(owner=staff, predictions=3_000, records=300)
    for slug, reads in (("premature-ventricular-contraction", 12), ("atrial-fibrillation-and-flutter", 7), ("stroke", 3)):
        ArticleView.objects.bulk_create([ArticleView(article=Article.objects.get(slug=slug)) for _ in range(reads)])
    client.force_login(staff)
    page.context.add_cookies(
        [{"name": django_settings.SESSION_COOKIE_NAME, "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value, "url": live_server.url}]
    )
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{live_server.url}/staff/metrics/?days=30")
    page.wait_for_selector("html[data-charts-ready='true']")

    assert errors == []
    assert page.locator('[data-metric="predictions-total"]').inner_text() == "3,000"
    # Chart.js drew on every canvas (a blank canvas has no Chart instance).
    drawn = page.evaluate("Array.from(document.querySelectorAll('canvas')).map(c => !!Chart.getChart(c))")
    assert drawn and all(drawn)
    assert page.get_by_role("link", name="Premature ventricular contraction (V)").is_visible()
    path = artifacts_dir / "usage-dashboard.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 20_000
