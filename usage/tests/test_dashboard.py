"""The dashboard page and the CSV export show the same numbers as the selectors."""

import csv
import datetime
import io
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import StaffFactory
from articles.models import Article, ArticleView
from usage.tests.factories import PredictionFactory, RecordFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(StaffFactory())
    return client


def test_page_has_charts_data_and_headline_numbers(staff_client, settings):
    settings.REDIS_URL = ""
    PredictionFactory.create_batch(3, duration_ms=200)
    PredictionFactory(status="failed", model_version="", error_code="x", duration_ms=50)
    RecordFactory(input_kind="signal", file_format="csv")
    response = staff_client.get(reverse("usage:dashboard"), {"days": "7"})
    html = response.content.decode()
    for canvas in ("chart-users-per-day", "chart-uploads", "chart-roles", "chart-signup-methods", "chart-status", "chart-classes"):
        assert f'id="{canvas}"' in html
    assert "vendor/chartjs/chart.umd.min.js" in html
    data = json.loads(html.split('<script id="usage-data" type="application/json">')[1].split("</script>")[0])
    assert data["totals"]["predictions"] == 4
    assert data["totals"]["uploads"] == 5
    assert len(data["signups_per_day"]) == 7
    assert 'data-metric="predictions-total">4<' in html
    assert 'data-metric="failure-rate">25.0%<' in html
    assert 'data-metric="median-ms">200 ms<' in html
    assert 'data-metric="queue-length">n/a<' in html
    assert "no broker (REDIS_URL unset)" in html


def test_page_renders_with_redis_down(staff_client, settings):
    settings.REDIS_URL = settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    html = staff_client.get(reverse("usage:dashboard")).content.decode()
    assert 'data-metric="queue-length">n/a<' in html
    assert "broker unreachable" in html


def test_empty_dashboard_shows_na_not_errors(staff_client):
    html = staff_client.get(reverse("usage:dashboard")).content.decode()
    assert 'data-metric="median-ms">n/a<' in html
    assert 'data-metric="failure-rate">n/a<' in html
    assert "No articles were read in this period." in html


def test_csv_export_has_every_metric_and_guards_against_formulas(staff_client):
    PredictionFactory.create_batch(2)
    article = Article.objects.get(slug="stroke")
    Article.objects.filter(pk=article.pk).update(title="=HYPERLINK(\"http://evil\")")
    ArticleView.objects.create(article=article)
    start = (timezone.localdate() - datetime.timedelta(days=3)).isoformat()
    response = staff_client.get(reverse("usage:export_csv"), {"start": start})
    assert response["Content-Disposition"] == f'attachment; filename="usage-{start}-{timezone.localdate()}.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["metric", "date", "key", "value"]
    metrics = {row[0] for row in rows[1:]}
    assert metrics >= {
        "totals", "users_by_role", "users_by_signup_method", "signups_per_day", "active_users_per_day",
        "uploads_per_day", "predictions_by_status", "readings_by_level", "predictions_by_class", "processing_time", "outcomes",
        "queue", "articles_most_read",
    }
    assert ["totals", "", "predictions", "2"] in rows
    assert ["predictions_by_status", "", "done", "2"] in rows
    read = [row for row in rows if row[0] == "articles_most_read"]
    assert read == [["articles_most_read", "", "'=HYPERLINK(\"http://evil\")", "1"]]


def test_api_returns_the_same_report(staff_client):
    PredictionFactory.create_batch(2, duration_ms=300)
    data = staff_client.get(reverse("usage-api:metrics"), {"days": "90"}).json()
    assert data["period"]["days"] == 90
    assert data["predictions_by_status"]["done"] == 2
    assert data["processing_time"] == {"count": 2, "median_ms": 300.0, "p95_ms": 300.0}
