import datetime

import pytest
from django.urls import reverse

from accounts.tests.factories import StaffFactory, UserFactory
from usage.models import DailyActivity

pytestmark = pytest.mark.django_db


def test_staff_see_daily_activity_in_the_admin_but_cannot_edit_it(client):
    user = UserFactory(email="active@example.org")
    row = DailyActivity.objects.create(user=user, day=datetime.date(2026, 3, 2))
    client.force_login(StaffFactory())
    listing = client.get(reverse("admin:usage_dailyactivity_changelist") + "?q=active@")
    assert listing.status_code == 200
    assert "active@example.org" in listing.content.decode()
    assert client.get(reverse("admin:usage_dailyactivity_add")).status_code == 403
    detail = client.get(reverse("admin:usage_dailyactivity_change", args=[row.pk]))
    assert detail.status_code == 200 and 'type="submit" value="Save"' not in detail.content.decode()
