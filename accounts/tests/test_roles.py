"""Roles: doctors act as doctors only once an administrator verified them; admin is for staff."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accounts import permissions, services
from accounts.models import User
from accounts.tests.factories import CareLinkFactory, DoctorFactory, StaffFactory, UnverifiedDoctorFactory, UserFactory
from accounts.tests.mailbox import body_of

pytestmark = pytest.mark.django_db


def test_an_unverified_doctor_sees_the_pending_banner_and_no_patient(client):
    doctor = UnverifiedDoctorFactory()
    patient = CareLinkFactory(doctor=doctor).patient  # even a link made behind their back
    client.force_login(doctor)

    dashboard = client.get(reverse("dashboard")).content.decode()
    care_team = client.get(reverse("accounts:care_team")).content.decode()

    assert "Verification pending" in dashboard
    assert "awaiting verification" in care_team
    assert patient.email not in care_team
    assert not permissions.patients_of(doctor=doctor).exists()
    assert not permissions.can_view_patient(viewer=doctor, patient=patient)
    with pytest.raises(PermissionDenied):
        services.care_link_invite(request=None, inviter=doctor, email=patient.email)


def test_a_verified_doctor_gets_no_banner(client):
    client.force_login(DoctorFactory())
    assert "Verification pending" not in client.get(reverse("dashboard")).content.decode()


def test_nobody_anonymous_views_a_patient():
    assert not permissions.can_view_patient(viewer=AnonymousUser(), patient=UserFactory())
    assert not permissions.patients_of(doctor=AnonymousUser()).exists()


def test_an_administrator_verifies_doctors_from_the_admin_and_each_is_emailed(
    client, mailbox, django_capture_on_commit_callbacks
):
    admin = StaffFactory()
    pending = [UnverifiedDoctorFactory(email=f"dr{i}@example.org") for i in range(2)]
    patient = UserFactory()
    client.force_login(admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:accounts_user_changelist"),
            {"action": "verify_doctors", "_selected_action": [u.pk for u in [*pending, patient]]},
            follow=True,
        )

    html = response.content.decode()
    assert "Verified 2 doctor(s)" in html
    assert f"Not verified: {patient.email}" in html
    for doctor in pending:
        doctor.refresh_from_db()
        assert doctor.is_verified_doctor and doctor.doctor_verified_by == admin
        message = mailbox.last_to(doctor.email)
        assert "verified" in message["Subject"]
        assert "/profile/care-team/" in body_of(message)
    patient.refresh_from_db()
    assert patient.doctor_verified_at is None


def test_the_admin_lists_and_filters_doctors_awaiting_verification(client):
    client.force_login(StaffFactory())
    waiting = UnverifiedDoctorFactory(licence_number="GMC-WAITING")
    DoctorFactory(licence_number="GMC-DONE")

    html = client.get(reverse("admin:accounts_user_changelist"), {"verification": "pending"}).content.decode()

    assert waiting.email in html and "GMC-DONE" not in html
    html = client.get(reverse("admin:accounts_user_changelist"), {"q": "GMC-DONE"}).content.decode()
    assert "GMC-DONE" in html and waiting.email not in html
    assert client.get(reverse("admin:accounts_user_change", args=[waiting.pk])).status_code == 200
    assert client.get(reverse("admin:accounts_user_add")).status_code == 200
    assert client.get(reverse("admin:accounts_carelink_changelist")).status_code == 200


def test_verification_needs_staff_a_doctor_and_a_licence():
    with pytest.raises(PermissionDenied):
        services.doctor_verify(doctor=UnverifiedDoctorFactory(), by=DoctorFactory())
    with pytest.raises(ValidationError, match="not a doctor"):
        services.doctor_verify(doctor=UserFactory(), by=StaffFactory())
    with pytest.raises(ValidationError, match="licence"):
        services.doctor_verify(doctor=UnverifiedDoctorFactory(licence_number=""), by=StaffFactory())


@pytest.mark.parametrize("factory", [UserFactory, DoctorFactory, UnverifiedDoctorFactory])
def test_people_who_are_not_staff_cannot_reach_the_admin(client, factory):
    client.force_login(factory())

    for url in (reverse("admin:index"), reverse("admin:accounts_user_changelist")):
        response = client.get(url, follow=True)
        assert response.status_code == 403, url


def test_anonymous_visitors_are_sent_to_the_sites_sign_in_for_the_admin(client):
    response = client.get(reverse("admin:index"), follow=True)

    assert response.redirect_chain[-1][0].startswith(reverse("account_login"))


def test_a_doctor_who_changes_licence_number_is_verified_again(client):
    doctor = DoctorFactory(licence_number="GMC1")
    client.force_login(doctor)

    response = client.post(
        reverse("accounts:profile"),
        {"first_name": "Jo", "last_name": "Bloggs", "licence_number": "GMC2", "speciality": "Cardiology", "institution": "X"},
        follow=True,
    )

    assert "will verify your account again" in response.content.decode()
    doctor.refresh_from_db()
    assert doctor.licence_number == "GMC2" and not doctor.is_verified_doctor


def test_a_patient_who_signed_up_with_google_can_apply_as_a_doctor(client):
    user = UserFactory()
    client.force_login(user)

    response = client.post(
        reverse("accounts:doctor_apply"),
        {"doctor-licence_number": "GMC9", "doctor-speciality": "Cardiology", "doctor-institution": "Barts"},
        follow=True,
    )

    assert "An administrator will check your licence number" in response.content.decode()
    user.refresh_from_db()
    assert user.role == User.Role.DOCTOR and not user.is_verified_doctor


def test_a_patient_sharing_records_cannot_turn_into_a_doctor(client):
    link = CareLinkFactory()
    client.force_login(link.patient)

    response = client.post(
        reverse("accounts:doctor_apply"), {"doctor-licence_number": "GMC9", "doctor-speciality": "Cardiology", "doctor-institution": "Barts"}
    )

    assert "Revoke those links first" in response.content.decode()
    link.patient.refresh_from_db()
    assert link.patient.role == User.Role.PATIENT
