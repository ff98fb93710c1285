"""Daily activity: signing in or uploading marks a user active that day, once per day."""

import datetime
import importlib

import pytest
from django.apps import apps
from django.utils import timezone

from accounts.tests.factories import UserFactory
from usage.models import DailyActivity
from usage.tests.factories import RecordFactory

pytestmark = pytest.mark.django_db


def _days(user):
    return sorted(DailyActivity.objects.filter(user=user).values_list("day", flat=True))


def test_signing_in_and_uploading_mark_the_day_once(client):
    user = UserFactory()
    client.force_login(user)
    client.force_login(user)
    RecordFactory(owner=user)
    assert _days(user) == [timezone.localdate()]


def test_an_upload_counts_on_its_own_day():
    user = UserFactory()
    RecordFactory(owner=user, created_at=timezone.now() - datetime.timedelta(days=3))
    assert _days(user) == [timezone.localdate() - datetime.timedelta(days=3)]


def test_backfill_uses_last_sign_in_and_upload_days_and_can_run_twice():
    backfill = importlib.import_module("usage.migrations.0002_backfill_daily_activity").backfill
    now = timezone.now()
    user = UserFactory(last_login=now - datetime.timedelta(days=5))
    RecordFactory(owner=user, created_at=now - datetime.timedelta(days=2))
    DailyActivity.objects.all().delete()  # as before the table existed
    backfill(apps, None)
    backfill(apps, None)
    today = timezone.localdate()
    assert _days(user) == [today - datetime.timedelta(days=5), today - datetime.timedelta(days=2)]


def test_a_signed_in_user_browsing_on_a_new_day_counts_as_active_once(client):
    from accounts.tests.factories import UserFactory
    from usage.models import DailyActivity

    user = UserFactory()
    client.force_login(user)
    DailyActivity.objects.all().delete()
    client.get("/dashboard/")
    client.get("/records/")
    assert DailyActivity.objects.filter(user=user).count() == 1
