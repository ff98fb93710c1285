"""100,000 predictions: the dashboard's query count does not grow with the data, and totals are right."""

import re

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.tests.factories import StaffFactory
from usage.tests.bulk import bulk_usage_data

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response


def _metric(html, name):
    return re.search(rf'data-metric="{name}">([^<]*)<', html).group(1)


def test_dashboard_queries_stay_constant_from_1k_to_100k_predictions(client, django_assert_max_num_queries):
    staff = StaffFactory()
    client.force_login(staff)
    page, api, csv = reverse("usage:dashboard"), reverse("usage-api:metrics"), reverse("usage:export_csv")

    small = bulk_usage_data(owner=staff, predictions=1_000, records=100)
    client.get(page)  # the day's first request also records the staff member's activity
    counts_at_1k = [_queries(client, url)[0] for url in (page, api, csv)]

    large = bulk_usage_data(owner=staff, predictions=99_000, records=900, start=1_000)
    with django_assert_max_num_queries(counts_at_1k[0]):
        response = client.get(page)
    counts_at_100k = [_queries(client, url)[0] for url in (page, api, csv)]
    assert counts_at_100k == counts_at_1k

    statuses = small["statuses"] + large["statuses"]
    durations = small["durations"] + large["durations"]
    assert sum(statuses.values()) == 100_000
    html = response.content.decode()
    assert _metric(html, "predictions-total") == "100,000"
    assert _metric(html, "uploads-total") == "1,000"
    finished = statuses["done"] + statuses["failed"] + statuses["inconclusive"]
    assert _metric(html, "finished-total") == f"{finished:,}"
    assert _metric(html, "failure-rate") == f"{statuses['failed'] / finished * 100:.1f}%"
    assert _metric(html, "inconclusive-rate") == f"{statuses['inconclusive'] / finished * 100:.1f}%"

    report = response.context["report"]
    assert report["predictions_by_status"] == {s: statuses[s] for s in report["predictions_by_status"]}
    assert report["processing_time"]["median_ms"] == pytest.approx(np.percentile(durations, 50), abs=0.1)
    assert report["processing_time"]["p95_ms"] == pytest.approx(np.percentile(durations, 95), abs=0.1)
    classes = small["class_predictions"] + large["class_predictions"]
    assert {r["code"]: r["predictions"] for r in report["predictions_by_class"]} == {
        r["code"]: classes[r["code"]] for r in report["predictions_by_class"]
    }
    uploads = small["uploads_by_kind"] + large["uploads_by_kind"]
    assert sum(d["image"] for d in report["uploads_per_day"]) == uploads["image"]
    assert sum(d["signal"] for d in report["uploads_per_day"]) == uploads["signal"]
