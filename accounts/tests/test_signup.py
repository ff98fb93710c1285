"""Sign-up with email confirmation, delivered over real SMTP to a local server."""

import pytest
from allauth.account.models import EmailAddress
from django.urls import reverse

from accounts.models import User
from accounts.tests.factories import UserFactory
from accounts.tests.helpers import signed_in_user
from accounts.tests.mailbox import body_of, link_in

pytestmark = pytest.mark.django_db

GOOD = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@example.org",
    "password1": "analytical-engine-1843",
    "password2": "analytical-engine-1843",
    "role": "patient",
}
DOCTOR = {
    **GOOD,
    "email": "dr.snow@example.org",
    "role": "doctor",
    "licence_number": "GMC1234567",
    "speciality": "Cardiology",
    "institution": "St Thomas' Hospital",
}


def test_sign_up_then_confirm_from_the_email_signs_the_user_in(client, mailbox):
    response = client.post(reverse("account_signup"), GOOD)

    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert signed_in_user(client) is None
    user = User.objects.get(email="ada@example.org")
    assert (user.first_name, user.last_name, user.role) == ("Ada", "Lovelace", "patient")
    assert not EmailAddress.objects.get(user=user).verified

    message = mailbox.last_to("ada@example.org")
    assert message["Subject"].startswith("[ECG Portal]")
    confirm_url = link_in(message, "/accounts/confirm-email/")

    page = client.get(confirm_url)
    assert page.status_code == 200
    assert "ada@example.org" in page.content.decode()
    response = client.post(confirm_url)

    assert response.status_code == 302
    assert EmailAddress.objects.get(user=user).verified
    assert signed_in_user(client) == user
    dashboard = client.get(response["Location"], follow=True)
    assert "Welcome, Ada" in dashboard.content.decode()


def test_doctor_sign_up_is_pending_verification_and_administrators_are_told(
    client, mailbox, settings, django_capture_on_commit_callbacks
):
    settings.ADMINS = [("Admin", "admin@ecgportal.example")]

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_signup"), DOCTOR)

    doctor = User.objects.get(email="dr.snow@example.org")
    assert doctor.role == User.Role.DOCTOR
    assert doctor.licence_number == "GMC1234567"
    assert not doctor.is_verified_doctor
    alert = mailbox.last_to("admin@ecgportal.example")
    assert "GMC1234567" in body_of(alert)
    assert f"/admin/accounts/user/{doctor.pk}/change/" in body_of(alert)


def test_the_sign_up_page_asks_for_names_role_and_professional_details(client):
    html = client.get(reverse("account_signup")).content.decode()
    for name in ("first_name", "last_name", "email", "password1", "password2", "licence_number", "speciality", "institution"):
        assert f'name="{name}"' in html
    assert 'value="patient"' in html and 'value="doctor"' in html
    assert 'value="admin"' not in html


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"password1": "password123", "password2": "password123"}, "password1", "This password is too common."),
        ({"password1": "short", "password2": "short"}, "password1", "too short"),
        ({"password1": "19283746509182", "password2": "19283746509182"}, "password1", "entirely numeric"),
        ({"password2": "analytical-engine-1844"}, "password2", "You must type the same password each time."),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"first_name": ""}, "first_name", "This field is required."),
        ({"role": "admin"}, "role", "Select a valid choice."),
        ({"role": "doctor", "licence_number": ""}, "licence_number", "licence number"),
        ({"role": "doctor", "speciality": "", "institution": ""}, "institution", "hospital or practice"),
    ],
)
def test_bad_sign_up_input_is_explained_and_nothing_is_saved(client, mailbox, changes, field, message):
    response = client.post(reverse("account_signup"), {**GOOD, **changes})

    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert f'id="id_{field}_errors"' in html, "the error sits under its field"
    assert not User.objects.exists()
    assert not EmailAddress.objects.exists()
    assert mailbox.messages == []


def test_signing_up_with_a_taken_email_creates_nothing_and_tells_the_owner(client, mailbox):
    owner = UserFactory(email="ada@example.org", first_name="Original")

    response = client.post(reverse("account_signup"), {**GOOD, "email": "ADA@example.org"})

    # The page does not say whether the address has an account (that is health information);
    # the address's owner is told by email instead.
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert User.objects.count() == 1
    assert User.objects.get().first_name == "Original"
    assert signed_in_user(client) is None
    message = mailbox.last_to(owner.email)
    assert "already" in body_of(message).lower()


def test_a_tampered_confirmation_link_is_refused_clearly(client, mailbox):
    client.post(reverse("account_signup"), GOOD)
    confirm_url = link_in(mailbox.last_to("ada@example.org"), "/accounts/confirm-email/")
    tampered = confirm_url.rstrip("/")[:-3] + "xyz/"

    page = client.get(tampered)
    assert page.status_code == 200
    assert "expired or is invalid" in page.content.decode()
    response = client.post(tampered)

    assert response.status_code == 404
    assert not EmailAddress.objects.get(email="ada@example.org").verified
    assert signed_in_user(client) is None


def test_an_unconfirmed_user_cannot_sign_in_with_their_password(client, mailbox):
    client.post(reverse("account_signup"), GOOD)
    client.logout()

    response = client.post(reverse("account_login"), {"login": GOOD["email"], "password": GOOD["password1"]}, follow=True)

    assert signed_in_user(client) is None
    assert "Verify Your Email Address" in response.content.decode()
