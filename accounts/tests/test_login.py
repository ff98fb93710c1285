"""Signing in: password, one-time email code (over real SMTP), password reset, rate limits."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from accounts.tests.conftest import PASSWORD
from accounts.tests.factories import UserFactory
from accounts.tests.helpers import signed_in_user
from accounts.tests.mailbox import body_of, code_in, link_in

pytestmark = pytest.mark.django_db


def test_sign_in_with_password_lands_on_the_dashboard(client):
    user = UserFactory(first_name="Grace")

    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD}, follow=True)

    assert signed_in_user(client) == user
    assert response.redirect_chain[-1][0] == reverse("dashboard")
    assert "Welcome, Grace" in response.content.decode()


def test_wrong_password_is_refused_with_a_clear_message(client):
    user = UserFactory()

    response = client.post(reverse("account_login"), {"login": user.email, "password": "not-my-password"})

    assert response.status_code == 200
    assert "The email address and/or password you specified are not correct." in response.content.decode()
    assert signed_in_user(client) is None


def test_sign_in_with_a_code_sent_by_email(client, mailbox):
    user = UserFactory()

    response = client.post(reverse("account_request_login_code"), {"email": user.email})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_confirm_login_code")
    code = code_in(mailbox.last_to(user.email))

    response = client.post(reverse("account_confirm_login_code"), {"code": code})

    assert response.status_code == 302
    assert signed_in_user(client) == user


def test_a_wrong_code_is_refused_and_three_wrong_codes_end_the_attempt(client, mailbox):
    user = UserFactory()
    client.post(reverse("account_request_login_code"), {"email": user.email})
    code = code_in(mailbox.last_to(user.email))
    wrong = "XXXXXX" if code != "XXXXXX" else "YYYYYY"

    response = client.post(reverse("account_confirm_login_code"), {"code": wrong})
    assert response.status_code == 200
    assert "Incorrect code." in response.content.decode()
    client.post(reverse("account_confirm_login_code"), {"code": wrong})
    response = client.post(reverse("account_confirm_login_code"), {"code": wrong}, follow=True)

    assert "Too many failed login attempts" in response.content.decode()
    # The right code no longer works either: the attempt was abandoned.
    client.post(reverse("account_confirm_login_code"), {"code": code})
    assert signed_in_user(client) is None


def test_an_expired_code_does_not_sign_in(client, mailbox, settings):
    user = UserFactory()
    client.post(reverse("account_request_login_code"), {"email": user.email})
    code = code_in(mailbox.last_to(user.email))

    settings.ACCOUNT_LOGIN_BY_CODE_TIMEOUT = 0  # as if the 3 minutes had passed
    response = client.post(reverse("account_confirm_login_code"), {"code": code})

    assert response.status_code == 302
    assert response["Location"] == reverse("account_request_login_code")
    assert signed_in_user(client) is None


def test_asking_a_code_for_an_unknown_address_looks_the_same_and_creates_nothing(client, mailbox):
    from accounts.models import User

    response = client.post(reverse("account_request_login_code"), {"email": "nobody@example.org"})

    assert response.status_code == 302
    assert response["Location"] == reverse("account_confirm_login_code")
    assert not User.objects.exists()
    assert "/accounts/signup/" in body_of(mailbox.last_to("nobody@example.org"))


def test_password_reset_by_emailed_link(client, mailbox):
    user = UserFactory()

    client.post(reverse("account_reset_password"), {"email": user.email})
    reset_url = link_in(mailbox.last_to(user.email), "/accounts/password/reset/key/")
    form_url = client.get(reset_url)["Location"]  # allauth moves the key out of the URL
    response = client.post(form_url, {"password1": "a-new-long-passphrase", "password2": "a-new-long-passphrase"})

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a-new-long-passphrase")


def test_too_many_failed_logins_are_stopped_with_a_message_not_an_error(client):
    user = UserFactory()
    for _ in range(5):
        response = client.post(reverse("account_login"), {"login": user.email, "password": "guess"})
        assert "not correct" in response.content.decode()

    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})

    assert response.status_code == 200
    assert "Too many failed login attempts. Try again later." in response.content.decode()
    assert signed_in_user(client) is None


def test_rate_limit_counters_live_in_redis(redis_url, client):
    from django_redis import get_redis_connection

    user = UserFactory()
    client.post(reverse("account_login"), {"login": user.email, "password": "guess"})

    prefix = cache.key_prefix
    keys = get_redis_connection("default").keys(f"{prefix}:*")
    assert any(b"login_failed" in key for key in keys), keys


def test_too_many_sign_in_requests_get_the_429_page(client, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "2/m/ip"}
    user = UserFactory()
    for _ in range(2):
        client.post(reverse("account_login"), {"login": user.email, "password": "guess"})

    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})

    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    assert 'class="navbar-brand' in response.content.decode()
