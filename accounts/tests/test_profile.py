"""Profile, API token page and account deletion."""

import re
from html import unescape

import pytest
from allauth.account.models import EmailAddress
from django.core.files.storage import default_storage
from django.urls import reverse
from rest_framework.authtoken.models import Token

from accounts.models import CareLink, User
from accounts.tests.conftest import PASSWORD
from accounts.tests.factories import CareLinkFactory, DoctorFactory, UserFactory
from accounts.tests.helpers import signed_in_user

pytestmark = pytest.mark.django_db


def test_a_patient_edits_their_name_and_sees_no_professional_fields(client):
    user = UserFactory()
    client.force_login(user)
    assert 'name="licence_number"' not in client.get(reverse("accounts:profile")).content.decode()

    response = client.post(reverse("accounts:profile"), {"first_name": " Mary ", "last_name": "Seacole"}, follow=True)

    assert "Your profile has been saved." in response.content.decode()
    user.refresh_from_db()
    assert (user.first_name, user.last_name) == ("Mary", "Seacole")


def test_a_patient_states_sex_and_date_of_birth_for_the_12_lead_limits(client):
    import datetime

    user = UserFactory()
    client.force_login(user)
    response = client.post(reverse("accounts:profile"), {"first_name": "Mary", "last_name": "Seacole", "sex": "F",
                                                         "birth_date": "1960-05-02"}, follow=True)
    assert "Your profile has been saved." in response.content.decode()
    user.refresh_from_db()
    assert (user.sex, user.birth_date) == ("F", datetime.date(1960, 5, 2))
    assert 59.9 < user.age_on(datetime.date(2020, 5, 1)) < 60.0 and user.age_on(datetime.date(1950, 1, 1)) is None
    # Both stay optional: cleared again, they are not stated.
    client.post(reverse("accounts:profile"), {"first_name": "Mary", "last_name": "Seacole", "sex": "", "birth_date": ""})
    user.refresh_from_db()
    assert (user.sex, user.birth_date) == ("", None)


@pytest.mark.parametrize("sex, birth_date, message", [
    ("F", "2999-01-01", "The date of birth cannot be in the future."),
    ("F", "1850-01-01", "Enter a date of birth after 01 January 1900."),
    ("F", "31/31/1990", "Enter a valid date."),
    ("X", "1990-01-01", "Select a valid choice."),
])
def test_a_bad_sex_or_date_of_birth_is_refused_and_nothing_is_saved(client, sex, birth_date, message):
    user = UserFactory(first_name="Mary")
    client.force_login(user)
    response = client.post(reverse("accounts:profile"), {"first_name": "Changed", "last_name": "Seacole", "sex": sex,
                                                         "birth_date": birth_date})
    assert response.status_code == 200 and message in unescape(response.content.decode())
    user.refresh_from_db()
    assert (user.first_name, user.sex, user.birth_date) == ("Mary", "", None)


def test_the_profile_shows_role_and_verification(client):
    client.force_login(DoctorFactory())
    html = client.get(reverse("accounts:profile")).content.decode()
    assert 'data-testid="role">Doctor<' in html
    assert "Verified" in html


def test_a_doctor_must_keep_a_licence_number(client):
    doctor = DoctorFactory()
    client.force_login(doctor)

    response = client.post(reverse("accounts:profile"), {"first_name": "A", "last_name": "B", "licence_number": ""})

    assert "This field is required." in response.content.decode()
    doctor.refresh_from_db()
    assert doctor.licence_number and doctor.is_verified_doctor


def test_create_replace_and_revoke_the_api_token(client):
    user = UserFactory()
    client.force_login(user)

    html = client.post(reverse("accounts:api_token"), {"action": "create"}).content.decode()
    key = re.search(r'id="api-token-key"[^>]*value="([0-9a-f]{40})"', html).group(1)
    assert Token.objects.get(user=user).key == key
    assert key not in client.get(reverse("accounts:api_token")).content.decode(), "shown once"

    client.post(reverse("accounts:api_token"), {"action": "create"})
    assert Token.objects.get(user=user).key != key, "replaced"

    client.post(reverse("accounts:api_token"), {"action": "revoke"})
    assert not Token.objects.filter(user=user).exists()


def test_the_deletion_page_says_what_is_deleted(client):
    client.force_login(UserFactory())
    html = client.get(reverse("accounts:delete")).content.decode()
    assert "cannot be undone" in html
    assert "every ECG record you uploaded, the uploaded files, and every result" in html
    assert "links with doctors" in html


def test_a_wrong_password_deletes_nothing(client):
    user = UserFactory()
    client.force_login(user)

    response = client.post(reverse("accounts:delete"), {"password": "wrong", "confirm": "on"})

    assert "That is not your password. Nothing was deleted." in response.content.decode()
    assert User.objects.filter(pk=user.pk).exists()


def test_deletion_needs_the_box_ticked(client):
    user = UserFactory()
    client.force_login(user)

    response = client.post(reverse("accounts:delete"), {"password": PASSWORD})

    assert "This field is required." in response.content.decode()
    assert User.objects.filter(pk=user.pk).exists()


def test_deleting_an_account_removes_records_files_results_and_links(client, django_capture_on_commit_callbacks):
    from predictions.models import ECGRecord, Prediction
    from predictions.tests.factories import DonePredictionFactory, ECGRecordFactory

    link = CareLinkFactory()
    user = link.patient
    record = ECGRecordFactory(owner=user)
    DonePredictionFactory(record=record)
    stored = record.file.name
    assert default_storage.exists(stored)
    Token.objects.create(user=user)
    other_record = ECGRecordFactory()  # someone else's stays
    client.force_login(user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:delete"), {"password": PASSWORD, "confirm": "on"}, follow=True)

    assert "Your account and all its ECG records have been deleted." in response.content.decode()
    assert signed_in_user(client) is None
    assert not User.objects.filter(pk=user.pk).exists()
    assert not ECGRecord.objects.filter(owner_id=user.pk).exists()
    assert not Prediction.objects.filter(record_id=record.pk).exists()
    assert not default_storage.exists(stored)
    assert not CareLink.objects.exists()
    assert not EmailAddress.objects.filter(email=user.email).exists()
    assert not Token.objects.filter(user_id=user.pk).exists()
    assert ECGRecord.objects.filter(pk=other_record.pk).exists()
    assert User.objects.filter(pk=link.doctor.pk).exists()


def test_an_account_without_password_confirms_deletion_with_its_address(client):
    user = UserFactory()
    user.set_unusable_password()
    user.save()
    client.force_login(user)
    page = client.get(reverse("accounts:delete")).content.decode()
    assert 'name="password"' not in page and 'name="email"' in page

    response = client.post(reverse("accounts:delete"), {"email": "someone.else@example.org", "confirm": "on"})
    assert "not your account's email address" in unescape(response.content.decode())
    client.post(reverse("accounts:delete"), {"email": user.email.upper(), "confirm": "on"})

    assert not User.objects.filter(pk=user.pk).exists()
