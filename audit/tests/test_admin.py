"""Administrators filter the trail and export it as CSV; nobody edits it through the admin."""

import csv
import io

import pytest
from django.urls import reverse

from accounts.tests.factories import StaffFactory, UserFactory
from audit.models import AuditEvent
from audit.tests.factories import AuditEventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(StaffFactory())
    return client


def test_administrators_filter_the_trail_by_action_and_door(staff_client):
    AuditEventFactory(action="view", door="page", actor_label="Viewer One")
    AuditEventFactory(action="download", door="api", actor_label="Downloader Two")
    url = reverse("admin:audit_auditevent_changelist")
    page = staff_client.get(url, {"action__exact": "download", "door__exact": "api"}).content.decode()
    assert "Downloader Two" in page and "Viewer One" not in page


def test_administrators_export_selected_events_as_csv(staff_client):
    events = [AuditEventFactory(ip_address="198.51.100.7"), AuditEventFactory(action="export")]
    response = staff_client.post(
        reverse("admin:audit_auditevent_changelist"),
        {"action": "export_csv", "_selected_action": [e.pk for e in events]},
    )
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["action"], r["object_id"]) for r in rows] == [(e.action, e.object_id) for e in events]
    assert rows[0]["ip_address"] == "198.51.100.7" and rows[0]["door"] == "page"


def test_the_admin_offers_no_way_to_add_change_or_delete_events(staff_client):
    event = AuditEventFactory()
    assert staff_client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    assert staff_client.post(reverse("admin:audit_auditevent_delete", args=[event.pk])).status_code == 403
    staff_client.post(reverse("admin:audit_auditevent_change", args=[event.pk]), {"action": "download"})
    event.refresh_from_db()
    assert event.action == "view"
    assert AuditEvent.objects.count() == 1


def test_people_who_are_not_staff_cannot_read_the_trail_in_the_admin(client):
    AuditEventFactory()
    client.force_login(UserFactory())
    assert client.get(reverse("admin:audit_auditevent_changelist")).status_code == 302
