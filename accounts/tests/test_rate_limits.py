"""Rate limits (allauth's, settings.ACCOUNT_RATE_LIMITS) stop guessing without locking out others.

Measured before: 15 bad passwords for one account locked out a different user's correct sign-in
from the same IP address for about a minute (a hospital behind one NAT address).
"""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.tests.conftest import PASSWORD
from accounts.tests.factories import DoctorFactory, UserFactory
from accounts.tests.helpers import signed_in_user

pytestmark = pytest.mark.django_db

LOCKED = "Too many failed login attempts. Try again later."


def _sign_in(client, email, password):
    return client.post(reverse("account_login"), {"login": email, "password": password})


@pytest.mark.parametrize("bad_passwords", [15, 40])
def test_one_accounts_bad_passwords_do_not_lock_out_a_colleague_on_the_same_address(client, bad_passwords):
    attacked, colleague = UserFactory(), UserFactory()
    for _ in range(bad_passwords):
        response = _sign_in(client, attacked.email, "guess")
        assert response.status_code == 200

    assert LOCKED in response.content.decode(), "the attacked account is locked"
    assert LOCKED in _sign_in(client, attacked.email, PASSWORD).content.decode()

    same_address = Client()  # the test client's REMOTE_ADDR is always 127.0.0.1
    response = _sign_in(same_address, colleague.email, PASSWORD)

    assert response.status_code == 302
    assert signed_in_user(same_address) == colleague


def test_guessing_across_many_accounts_from_one_address_is_stopped():
    client = Client(REMOTE_ADDR="203.0.113.7")
    users = UserFactory.create_batch(31)
    for user in users[:30]:
        assert "not correct" in _sign_in(client, user.email, "guess").content.decode()

    assert LOCKED in _sign_in(client, users[30].email, PASSWORD).content.decode()

    elsewhere = Client(REMOTE_ADDR="198.51.100.9")
    assert _sign_in(elsewhere, users[30].email, PASSWORD).status_code == 302


def _invite(client, email):
    return client.post(reverse("accounts:care_team"), {"patient_email": email})


def test_a_doctor_may_send_twenty_invitations_an_hour(client, settings):
    doctor = DoctorFactory()
    client.force_login(doctor)
    for n in range(20):
        assert _invite(client, f"someone{n}@example.org").status_code == 302

    for address in ("someone.else@example.org", UserFactory().email):  # the same answer for both
        response = _invite(client, address)
        assert response.status_code == 200
        assert "You have sent many invitations recently. Try again later." in response.content.decode()

    other = Client()
    other.force_login(DoctorFactory())
    assert _invite(other, "someone0@example.org").status_code == 302, "the limit is per inviter"
