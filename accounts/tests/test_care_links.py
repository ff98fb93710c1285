"""Doctor-patient links: who can see whose records, and every way to get a link wrong."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.urls import reverse

from accounts import permissions, services
from accounts.models import CareLink
from accounts.tests.factories import (
    CareLinkFactory,
    DoctorFactory,
    StaffFactory,
    UnverifiedDoctorFactory,
    UserFactory,
)
from accounts.tests.mailbox import body_of

pytestmark = pytest.mark.django_db


def test_a_patient_invites_a_doctor_who_accepts_and_then_loses_access(client, django_capture_on_commit_callbacks):
    patient, doctor = UserFactory(), DoctorFactory(email="Dr.Who@Hospital.example", last_name="Who")
    client.force_login(patient)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:care_team"), {"doctor_email": "dr.who@hospital.example"}, follow=True)

    assert "If dr.who@hospital.example belongs to a verified doctor" in response.content.decode()
    link = CareLink.objects.get()
    assert link.status == CareLink.Status.PENDING and link.requested_by == patient
    assert not permissions.can_view_patient(viewer=doctor, patient=patient), "nothing shared before accepting"
    assert "Who" not in response.content.decode(), "the doctor's name appears only once they accept"

    client.force_login(doctor)
    assert "Patients inviting you" in client.get(reverse("accounts:care_team")).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:care_link_accept", args=[link.pk]), follow=True)
    assert "You can now see" in response.content.decode()
    assert list(permissions.patients_of(doctor=doctor)) == [patient]

    client.force_login(patient)
    assert "Remove access" in client.get(reverse("accounts:care_team")).content.decode()
    response = client.post(reverse("accounts:care_link_revoke", args=[link.pk]), follow=True)

    assert "can no longer see your ECG records" in response.content.decode()
    assert not permissions.patients_of(doctor=doctor).exists()
    assert not permissions.can_view_patient(viewer=doctor, patient=patient)
    link.refresh_from_db()
    assert link.status == CareLink.Status.REVOKED and link.ended_at is not None


def test_a_doctor_declines_a_patients_invitation(client, django_capture_on_commit_callbacks):
    patient, doctor = UserFactory(), DoctorFactory()
    with django_capture_on_commit_callbacks(execute=True):
        services.care_link_invite_deliver(inviter_id=patient.pk, email=doctor.email)
    link = CareLink.objects.get()
    client.force_login(doctor)

    response = client.post(reverse("accounts:care_link_revoke", args=[link.pk]), follow=True)

    assert "You declined" in response.content.decode()
    link.refresh_from_db()
    assert link.status == CareLink.Status.REVOKED and not permissions.can_view_patient(viewer=doctor, patient=patient)


def test_nobody_else_answers_an_invitation(client):
    patient, doctor = UserFactory(), DoctorFactory()
    link = services.care_link_invite_deliver(inviter_id=patient.pk, email=doctor.email)
    for stranger in (DoctorFactory(), UserFactory()):
        client.force_login(stranger)
        assert client.post(reverse("accounts:care_link_accept", args=[link.pk])).status_code == 404
        assert client.post(reverse("accounts:care_link_revoke", args=[link.pk])).status_code == 404
    client.force_login(patient)  # the inviter cannot accept for the doctor
    client.post(reverse("accounts:care_link_accept", args=[link.pk]))
    link.refresh_from_db()
    assert link.status == CareLink.Status.PENDING


def test_a_doctor_sees_their_linked_patients(client):
    doctor = DoctorFactory()
    linked = CareLinkFactory(doctor=doctor, patient=UserFactory(last_name="Linked")).patient
    UserFactory(last_name="Stranger")
    client.force_login(doctor)

    html = client.get(reverse("accounts:care_team")).content.decode()

    assert "My patients" in html
    assert linked.email in html
    assert "Stranger" not in html


@pytest.mark.parametrize(
    "email, message",
    [
        ("me@example.org", "That is your own email address."),
        ("ME@Example.org ", "That is your own email address."),
        ("not an email", "Enter a valid email address."),
    ],
)
def test_bad_doctor_addresses_are_explained_and_create_no_link(client, email, message):
    patient = UserFactory(email="me@example.org")
    client.force_login(patient)

    response = client.post(reverse("accounts:care_team"), {"doctor_email": email})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert 'id="id_doctor_email_errors"' in response.content.decode()
    assert not CareLink.objects.exists()


def test_inviting_the_same_doctor_twice_makes_one_link_and_one_notification(django_capture_on_commit_callbacks):
    from notifications.models import Notification

    patient, doctor = UserFactory(), DoctorFactory()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            services.care_link_invite_deliver(inviter_id=patient.pk, email=doctor.email)

    assert CareLink.objects.count() == 1
    assert Notification.objects.filter(recipient=doctor).count() == 1


def test_only_patients_and_verified_doctors_invite(rf):
    request = rf.post("/")
    with pytest.raises(ValidationError, match="Only patients and doctors"):
        services.care_link_invite(request=request, inviter=StaffFactory(), email="x@example.org")
    with pytest.raises(PermissionDenied):
        services.care_link_invite(request=request, inviter=UnverifiedDoctorFactory(), email="x@example.org")
    assert services.care_link_invite_deliver(inviter_id=DoctorFactory().pk, email=DoctorFactory().email) is None


def test_the_database_refuses_two_open_links_for_one_pair():
    link = CareLinkFactory()
    with pytest.raises(IntegrityError):
        CareLinkFactory(patient=link.patient, doctor=link.doctor, status="pending", activated_at=None)


def test_the_database_refuses_a_link_to_oneself():
    doctor = DoctorFactory()
    with pytest.raises(IntegrityError):
        CareLinkFactory(patient=doctor, doctor=doctor)


def test_a_revoked_link_can_be_granted_again():
    link = CareLinkFactory()
    services.care_link_revoke(patient=link.patient, link=link)

    again = services.care_link_invite_deliver(inviter_id=link.patient.pk, email=link.doctor.email)
    services.care_link_accept(user=link.doctor, link=again)

    again.refresh_from_db()
    assert again.pk != link.pk and again.status == CareLink.Status.ACTIVE
    assert CareLink.objects.count() == 2


def test_nobody_else_can_revoke_a_patients_link(client):
    link = CareLinkFactory()
    client.force_login(UserFactory())

    response = client.post(reverse("accounts:care_link_revoke", args=[link.pk]))

    assert response.status_code == 404
    link.refresh_from_db()
    assert link.status == CareLink.Status.ACTIVE
    with pytest.raises(PermissionDenied):
        services.care_link_revoke(patient=UserFactory(), link=link)


def test_a_doctor_asks_a_patient_who_accepts(client, mailbox, django_capture_on_commit_callbacks):
    doctor, patient = DoctorFactory(last_name="House"), UserFactory(email="pat@example.org")
    client.force_login(doctor)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:care_team"), {"patient_email": "pat@example.org"}, follow=True)

    assert "If pat@example.org belongs to a patient" in response.content.decode()
    link = CareLink.objects.get()
    assert link.status == CareLink.Status.PENDING
    assert not permissions.can_view_patient(viewer=doctor, patient=patient), "nothing shared before accepting"
    assert "/profile/care-team/" in body_of(mailbox.last_to("pat@example.org"))

    client.force_login(patient)
    page = client.get(reverse("accounts:care_team")).content.decode()
    assert "Doctors asking for access" in page
    client.post(reverse("accounts:care_link_accept", args=[link.pk]))

    assert permissions.can_view_patient(viewer=doctor, patient=patient)


def test_a_doctors_request_for_an_unknown_address_looks_the_same(client, mailbox, django_capture_on_commit_callbacks):
    doctor = DoctorFactory()
    UserFactory(email="a.doctor.not.patient@example.org", role="doctor")
    client.force_login(doctor)

    for email in ("nobody@example.org", "a.doctor.not.patient@example.org"):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("accounts:care_team"), {"patient_email": email}, follow=True)
        assert f"If {email} belongs to a patient" in response.content.decode()

    assert not CareLink.objects.exists()
    assert mailbox.messages == []


def test_a_patient_can_decline_a_request():
    link = CareLinkFactory(status="pending", activated_at=None, requested_by=DoctorFactory())
    services.care_link_revoke(patient=link.patient, link=link)
    link.refresh_from_db()
    assert link.status == CareLink.Status.REVOKED
    with pytest.raises(ValidationError, match="already been answered"):
        services.care_link_accept(user=link.patient, link=link)


def test_who_can_view_a_patient():
    link = CareLinkFactory()
    patient, doctor = link.patient, link.doctor

    assert permissions.can_view_patient(viewer=patient, patient=patient)
    assert permissions.can_view_patient(viewer=doctor, patient=patient)
    assert permissions.can_view_patient(viewer=StaffFactory(), patient=patient)
    assert not permissions.can_view_patient(viewer=DoctorFactory(), patient=patient), "verified but not linked"
    assert not permissions.can_view_patient(viewer=UserFactory(), patient=patient)
    doctor.is_active = False
    doctor.save()
    assert not permissions.can_view_patient(viewer=doctor, patient=patient)
    assert not permissions.patients_of(doctor=doctor).exists()
