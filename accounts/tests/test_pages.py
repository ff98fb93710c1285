"""Every account page renders inside the site's layout with Bootstrap forms."""

import pytest
from django.urls import reverse

from accounts.tests.factories import UserFactory
from accounts.tests.helpers import sign_in

pytestmark = pytest.mark.django_db

ANONYMOUS_PAGES = [
    "account_login",
    "account_signup",
    "account_reset_password",
    "account_request_login_code",
]
SIGNED_IN_PAGES = [
    "accounts:profile",
    "accounts:care_team",
    "accounts:api_token",
    "accounts:delete",
    "account_email",
    "account_change_password",
    "mfa_index",
    "mfa_activate_totp",
    "account_reauthenticate",
    "socialaccount_connections",
]


def assert_site_layout(response):
    html = response.content.decode()
    assert response.status_code == 200, html[:2000]
    assert 'class="navbar-brand' in html, "not inside base.html"
    assert "not a diagnosis" in html
    return html


@pytest.mark.parametrize("name", ANONYMOUS_PAGES)
def test_anonymous_account_pages_use_the_site_layout(client, name):
    html = assert_site_layout(client.get(reverse(name)))
    assert "form-control" in html
    assert 'class="btn btn-' in html


@pytest.mark.parametrize("name", SIGNED_IN_PAGES)
def test_signed_in_account_pages_use_the_site_layout(client, name):
    sign_in(client, UserFactory())
    html = assert_site_layout(client.get(reverse(name)))
    assert 'aria-label="Account settings"' in html or name == "account_reauthenticate"


def test_settings_navigation_marks_the_current_page(client):
    client.force_login(UserFactory())
    html = client.get(reverse("mfa_index")).content.decode()
    assert 'active" aria-current="page" href="/accounts/2fa/"' in html
