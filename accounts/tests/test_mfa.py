"""Two-factor authentication: authenticator app (TOTP) and recovery codes, through allauth's pages."""

import re

import pyotp
import pytest
from allauth.mfa.models import Authenticator
from django.urls import reverse

from accounts.tests.conftest import PASSWORD
from accounts.tests.factories import UserFactory, recovery_codes_enable, totp_enable
from accounts.tests.helpers import sign_in, signed_in_user

pytestmark = pytest.mark.django_db


def start_login(client, user):
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    assert signed_in_user(client) is None, "the password alone must not sign in"


def test_activate_an_authenticator_app_with_the_shown_secret(client):
    user = UserFactory()
    sign_in(client, user)

    page = client.get(reverse("mfa_activate_totp")).content.decode()
    secret = re.search(r'id="authenticator_secret"[^>]*value="([A-Z2-7]+)"', page).group(1)
    assert 'src="data:image/svg+xml;base64,' in page, "QR code shown"
    response = client.post(reverse("mfa_activate_totp"), {"code": pyotp.TOTP(secret).now()})

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_view_recovery_codes")
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    codes_page = client.get(response["Location"]).content.decode()
    assert len(re.findall(r"\b\d{8}\b", codes_page)) >= 10, "recovery codes listed"

    # Next sign-in asks for the app's code.
    client.logout()
    start_login(client, user)
    client.post(reverse("mfa_authenticate"), {"code": pyotp.TOTP(secret).now()})
    assert signed_in_user(client) == user


def test_a_wrong_activation_code_is_refused(client):
    user = UserFactory()
    sign_in(client, user)
    client.get(reverse("mfa_activate_totp"))

    response = client.post(reverse("mfa_activate_totp"), {"code": "000000"})

    assert response.status_code == 200
    assert "Incorrect code." in response.content.decode()
    assert not Authenticator.objects.filter(user=user).exists()


def test_sign_in_with_the_authenticator_code(client):
    user = UserFactory()
    secret = totp_enable(user)

    start_login(client, user)
    response = client.post(reverse("mfa_authenticate"), {"code": pyotp.TOTP(secret).now()})

    assert response.status_code == 302
    assert signed_in_user(client) == user


def test_a_wrong_authenticator_code_is_refused(client):
    user = UserFactory()
    secret = totp_enable(user)
    right = pyotp.TOTP(secret)
    wrong = next(c for c in ("000000", "111111", "222222") if not right.verify(c, valid_window=1))

    start_login(client, user)
    response = client.post(reverse("mfa_authenticate"), {"code": wrong})

    assert response.status_code == 200
    assert "Incorrect code." in response.content.decode()
    assert signed_in_user(client) is None


def test_sign_in_with_a_recovery_code_which_then_is_used_up(client):
    user = UserFactory()
    totp_enable(user)
    code = recovery_codes_enable(user)[0]

    start_login(client, user)
    client.post(reverse("mfa_authenticate"), {"code": code})
    assert signed_in_user(client) == user

    client.logout()
    start_login(client, user)
    response = client.post(reverse("mfa_authenticate"), {"code": code})
    assert "Incorrect code." in response.content.decode()
    assert signed_in_user(client) is None


def test_deactivate_the_authenticator_app(client):
    user = UserFactory()
    secret = totp_enable(user)
    start_login(client, user)
    client.post(reverse("mfa_authenticate"), {"code": pyotp.TOTP(secret).now()})

    page = client.get(reverse("mfa_deactivate_totp"))
    assert page.status_code == 200
    response = client.post(reverse("mfa_deactivate_totp"))

    assert response.status_code == 302
    assert not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
