"""Links that stay safe over time: unsubscribe links expire, a GET changes nothing, and a doctor
whose link to a patient ended keeps nothing about that patient (issue 24, item 8)."""

import time
from importlib import import_module
from unittest import mock

import pytest
from django.core import signing
from django.urls import reverse

from accounts import services as accounts_services
from accounts.tests.factories import CareLinkFactory, DoctorFactory, UserFactory
from notifications import services
from notifications.models import EmailOptOut, Kind, Notification
from notifications.tests.factories import NotificationFactory

pytestmark = pytest.mark.django_db

DAY_S = 24 * 3600


def _token_made_days_ago(user, days):
    """Return an unsubscribe token as it was made ``days`` ago (signing stamps the current time)."""
    stamp = signing.b62_encode(int(time.time() - days * DAY_S))
    with mock.patch.object(signing.TimestampSigner, "timestamp", lambda self: stamp):
        return services.unsubscribe_token_make(user=user, kind=Kind.REVIEW_CREATED)


def test_an_unsubscribe_link_older_than_thirty_days_has_expired_and_says_so(client):
    user = UserFactory(email="pat@example.org")
    url = reverse("notifications:unsubscribe", kwargs={"token": _token_made_days_ago(user, 31)})

    for response in (client.get(url), client.post(url)):
        assert response.status_code == 410
        html = response.content.decode()
        assert 'data-testid="unsubscribe-expired"' in html and "has expired" in html
        assert reverse("accounts:profile") in html and "pat@example.org" not in html

    assert not EmailOptOut.objects.exists()


def test_an_unsubscribe_link_still_works_on_day_twenty_nine(client):
    user = UserFactory()
    url = reverse("notifications:unsubscribe", kwargs={"token": _token_made_days_ago(user, 29)})

    assert client.post(url).status_code == 200
    assert EmailOptOut.objects.filter(user=user, kind=Kind.REVIEW_CREATED).exists()


def test_opening_a_notification_by_get_changes_nothing(client):
    notification = NotificationFactory(link_url="/records/")
    client.force_login(notification.recipient)

    response = client.get(reverse("notifications:open", args=[notification.pk]))

    assert response.status_code == 405
    notification.refresh_from_db()
    assert not notification.is_read
    assert client.post(reverse("notifications:open", args=[notification.pk])).status_code == 302
    notification.refresh_from_db()
    assert notification.is_read


def _doctor_notified_about(patient, doctor, django_capture_on_commit_callbacks):
    """Give ``doctor`` the notifications a linked doctor gets about ``patient``; return them."""
    from predictions.tests.factories import ECGRecordFactory

    filename = f"holter-{patient.last_name.lower()}.edf"
    record = ECGRecordFactory(owner=patient, original_filename=filename)
    with django_capture_on_commit_callbacks(execute=True):
        shared = services.care_link_shared_notify(link=CareLinkFactory.build(patient=patient, doctor=doctor))
        urgent = services.notification_send(
            recipient=doctor, patient=patient, kind=Kind.URGENT_RESULT, body=f"{filename}: urgent",
            link_url=f"/records/{record.uuid}/", context={"user": doctor, "patient": patient, "record": record,
                                                           "reading": "urgent", "result_url": "/", "is_patient": False},
        )
    return [shared, urgent]


def test_a_revoked_doctor_keeps_no_notification_naming_the_patient(client, django_capture_on_commit_callbacks):
    patient = UserFactory(first_name="Priya", last_name="Private")
    doctor = DoctorFactory()
    link = CareLinkFactory(patient=patient, doctor=doctor)
    _doctor_notified_about(patient, doctor, django_capture_on_commit_callbacks)
    other_patient = CareLinkFactory(doctor=doctor, patient=UserFactory(last_name="Other")).patient
    kept = _doctor_notified_about(other_patient, doctor, django_capture_on_commit_callbacks)
    own = NotificationFactory(recipient=patient, patient=patient)

    accounts_services.care_link_revoke(patient=patient, link=link)

    assert set(Notification.objects.filter(recipient=doctor)) == set(kept)
    client.force_login(doctor)
    html = client.get(reverse("notifications:list")).content.decode()
    assert "Private" not in html and "holter-private" not in html
    assert Notification.objects.filter(pk=own.pk).exists(), "the patient's own notifications stay"


def test_a_declined_invitation_leaves_the_doctor_nothing_about_the_patient():
    patient, doctor = UserFactory(first_name="Priya", last_name="Private"), DoctorFactory()
    link = accounts_services.care_link_invite_deliver(inviter_id=patient.pk, email=doctor.email)
    assert Notification.objects.filter(recipient=doctor, patient=patient).count() == 1

    accounts_services.care_link_decline(doctor=doctor, link=link)

    assert not Notification.objects.filter(recipient=doctor).exists()


def test_the_migration_fills_in_the_patient_and_clears_ended_links():
    """Notifications written before the ``patient`` column: a doctor's are matched to the patient
    (by record link or name) and removed where the link has already ended."""
    from django.apps import apps

    migration = import_module("notifications.migrations.0003_notification_patient")
    from predictions.tests.factories import ECGRecordFactory

    doctor = DoctorFactory()
    current = CareLinkFactory(doctor=doctor, patient=UserFactory(first_name="Cora", last_name="Current")).patient
    ended_link = CareLinkFactory(doctor=doctor, patient=UserFactory(first_name="Enzo", last_name="Ended"))
    accounts_services.care_link_revoke(patient=ended_link.patient, link=ended_link)
    ended = ended_link.patient
    record = ECGRecordFactory(owner=ended)
    old = [
        NotificationFactory(recipient=doctor, kind=Kind.CARE_LINK_SHARED, body="Cora Current shared their ECG records."),
        NotificationFactory(recipient=doctor, kind=Kind.CARE_LINK_SHARED, body="Enzo Ended shared their ECG records."),
        NotificationFactory(recipient=doctor, kind=Kind.URGENT_RESULT, link_url=f"/records/{record.uuid}/"),
        NotificationFactory(recipient=current),
    ]

    migration.fill_patient(apps, None)

    assert list(Notification.objects.filter(recipient=doctor).values_list("pk", "patient")) == [(old[0].pk, current.pk)]
    assert Notification.objects.get(pk=old[3].pk).patient == current
