"""The period filter: presets, custom dates, and clear messages for bad input."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import StaffFactory
from usage.forms import PeriodForm

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(StaffFactory())
    return client


def test_presets_and_custom_ranges_choose_the_period():
    today = timezone.localdate()
    form = PeriodForm({"days": "7"})
    assert form.is_valid()
    assert (form.period.start, form.period.end) == (today - datetime.timedelta(days=6), today)
    form = PeriodForm({"start": "2025-01-01", "end": "2025-01-31"})
    assert form.is_valid()
    assert form.period.length == 31


@pytest.mark.parametrize(
    "query, message",
    [
        ({"start": "yesterday"}, "Enter the start date as YYYY-MM-DD"),
        ({"start": "2025-01-01", "end": "2025-02-30"}, "Enter the end date as YYYY-MM-DD"),
        ({"start": "2025-03-10", "end": "2025-03-01"}, "The end date must be on or after the start date."),
        ({"end": "2025-03-01"}, "Enter a start date as well as an end date."),
        ({"start": "2019-01-01", "end": "2025-01-01"}, "Choose a period of at most 731 days."),
        ({"start": "2999-01-01"}, "The start date is in the future"),
        ({"days": "12"}, "Select a valid choice"),
    ],
)
def test_bad_periods_get_a_clear_message_on_the_page_csv_and_api(staff_client, query, message):
    page = staff_client.get(reverse("usage:dashboard"), query)
    assert page.status_code == 400
    assert message in page.content.decode()
    assert "Showing the last 30 days instead" in page.content.decode()

    csv = staff_client.get(reverse("usage:export_csv"), query)
    assert csv.status_code == 400
    assert message in csv.content.decode()

    api = staff_client.get(reverse("usage-api:metrics"), query)
    assert api.status_code == 400
    assert message in str(api.json())


def test_custom_period_is_shown_and_kept_in_the_export_links(staff_client):
    content = staff_client.get(reverse("usage:dashboard"), {"start": "2025-01-01", "end": "2025-01-10"}).content.decode()
    assert "2025-01-01 to 2025-01-10 (10 days)" in content
    assert "export.csv?start=2025-01-01&amp;end=2025-01-10" in content
