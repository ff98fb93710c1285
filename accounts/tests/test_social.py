"""Google and LinkedIn sign-in end to end against a local OpenID Connect provider.

Django runs under the test client; the provider is a real HTTP server on 127.0.0.1 that the
browser hop (authorize) is made to with requests, and that allauth itself calls (discovery,
token, userinfo) over HTTP. Nothing in allauth is patched.
"""

import copy
import json
import os
import subprocess
import sys
from urllib.parse import urlsplit

import pytest
import requests
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.conf import settings as django_settings
from django.urls import reverse

from accounts.models import User
from accounts.tests.factories import UserFactory
from accounts.tests.helpers import signed_in_user
from accounts.tests.mailbox import body_of

pytestmark = pytest.mark.django_db

GOOGLE_PERSON = {
    "sub": "108000000000000000001",
    "email": "grace.hopper@gmail.example",
    "email_verified": True,
    "given_name": "Grace",
    "family_name": "Hopper",
    "name": "Grace Hopper",
}
LINKEDIN_PERSON = {
    "sub": "li-8f3a2c",
    "email": "katherine.johnson@linkedin.example",
    "email_verified": True,
    "given_name": "Katherine",
    "family_name": "Johnson",
    "name": "Katherine Johnson",
    "locale": "en-US",
}


@pytest.fixture
def google(settings, oidc):
    providers = copy.deepcopy(settings.SOCIALACCOUNT_PROVIDERS)
    providers["google"]["APPS"] = [{"client_id": "google-client", "secret": "google-secret"}]
    settings.SOCIALACCOUNT_PROVIDERS = providers
    oidc.register("google", client_id="google-client", secret="google-secret", claims=GOOGLE_PERSON)
    return oidc


@pytest.fixture
def linkedin(settings, oidc):
    providers = copy.deepcopy(settings.SOCIALACCOUNT_PROVIDERS)
    providers["openid_connect"] = {
        "APPS": [
            {
                "provider_id": "linkedin",
                "name": "LinkedIn",
                "client_id": "linkedin-client",
                "secret": "linkedin-secret",
                "settings": {"server_url": oidc.issuer("linkedin"), "token_auth_method": "client_secret_post"},
            }
        ]
    }
    settings.SOCIALACCOUNT_PROVIDERS = providers
    oidc.register("linkedin", client_id="linkedin-client", secret="linkedin-secret", claims=LINKEDIN_PERSON)
    return oidc


def social_sign_in(client, login_path):
    """Press the provider's button, consent at the provider, and come back; return the last response."""
    response = client.post(login_path)
    assert response.status_code == 302, response.content.decode()[:2000]
    authorize_url = response["Location"]
    assert authorize_url.startswith(django_settings.TEST_OIDC_URL)

    at_provider = requests.get(authorize_url, allow_redirects=False, timeout=10)
    assert at_provider.status_code == 302, at_provider.text
    callback = urlsplit(at_provider.headers["Location"])
    assert callback.netloc == "testserver"
    return client.get(f"{callback.path}?{callback.query}")


def token_requests(provider, tenant):
    return [details for method, t, endpoint, details in provider.calls if t == tenant and endpoint == "token"]


def test_sign_in_with_google_creates_a_signed_in_patient(client, google):
    response = social_sign_in(client, reverse("google_login"))

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    user = User.objects.get(email="grace.hopper@gmail.example")
    assert signed_in_user(client) == user
    assert (user.first_name, user.last_name, user.role) == ("Grace", "Hopper", User.Role.PATIENT)
    assert not user.has_usable_password()
    account = SocialAccount.objects.get(user=user)
    assert (account.provider, account.uid) == ("google", GOOGLE_PERSON["sub"])
    assert EmailAddress.objects.get(user=user).verified
    # The code was exchanged with PKCE and the client's secret.
    (exchange,) = token_requests(google, "google")
    assert exchange["code_verifier"] and exchange["client_secret"] == "google-secret"


def test_sign_in_with_linkedin_over_openid_connect(client, linkedin):
    response = social_sign_in(client, reverse("openid_connect_login", kwargs={"provider_id": "linkedin"}))

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    user = User.objects.get(email="katherine.johnson@linkedin.example")
    assert signed_in_user(client) == user
    assert (user.first_name, user.last_name) == ("Katherine", "Johnson")
    account = SocialAccount.objects.get(user=user)
    assert (account.provider, account.uid) == ("linkedin", "li-8f3a2c")
    called = {endpoint for _, tenant, endpoint, _ in linkedin.calls if tenant == "linkedin"}
    assert {".well-known/openid-configuration", "authorize", "token", "userinfo"} <= called
    (exchange,) = token_requests(linkedin, "linkedin")
    assert exchange["client_secret"] == "linkedin-secret", "client_secret_post, as LinkedIn wants"


def test_a_second_google_sign_in_reuses_the_account(client, google):
    social_sign_in(client, reverse("google_login"))
    client.logout()

    social_sign_in(client, reverse("google_login"))

    assert User.objects.count() == 1
    assert signed_in_user(client) == User.objects.get()


def test_an_unverified_linkedin_address_must_be_confirmed_by_email(client, linkedin, mailbox):
    linkedin.register(
        "linkedin",
        client_id="linkedin-client",
        secret="linkedin-secret",
        claims={**LINKEDIN_PERSON, "email_verified": False},
    )

    response = social_sign_in(client, reverse("openid_connect_login", kwargs={"provider_id": "linkedin"}))

    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert signed_in_user(client) is None
    assert "/accounts/confirm-email/" in body_of(mailbox.last_to(LINKEDIN_PERSON["email"]))


def test_refusing_consent_at_google_creates_nothing(client, google):
    google.denied.add("google")

    response = social_sign_in(client, reverse("google_login"))

    assert response.status_code == 302
    page = client.get(response["Location"])
    assert "cancelled" in page.content.decode().lower()
    assert not User.objects.exists()
    assert signed_in_user(client) is None


def test_a_google_address_that_already_has_an_account_is_not_taken_over(client, google, mailbox):
    owner = UserFactory(email=GOOGLE_PERSON["email"])

    response = social_sign_in(client, reverse("google_login"))

    # Neither signed in to the existing account nor told on screen that it exists; the owner
    # of the address is told by email instead.
    assert response["Location"] == reverse("account_email_verification_sent")
    assert signed_in_user(client) is None
    assert not SocialAccount.objects.exists()
    assert User.objects.get() == owner
    assert "already" in body_of(mailbox.last_to(owner.email)).lower()


def test_buttons_show_only_for_configured_providers(client, settings, oidc):
    html = client.get(reverse("account_login")).content.decode()
    assert "Continue with Google" not in html and "Continue with LinkedIn" not in html

    providers = copy.deepcopy(settings.SOCIALACCOUNT_PROVIDERS)
    providers["google"]["APPS"] = [{"client_id": "id", "secret": "secret"}]
    settings.SOCIALACCOUNT_PROVIDERS = providers
    html = client.get(reverse("account_login")).content.decode()
    assert "Continue with Google" in html and "Continue with LinkedIn" not in html
    assert 'href="/accounts/google/login/?process=login"' in html


def test_environment_variables_configure_both_providers():
    env = {
        **os.environ,
        "GOOGLE_CLIENT_ID": "g-id",
        "GOOGLE_CLIENT_SECRET": "g-secret",
        "GOOGLE_OAUTH_BASE_URL": "http://idp.test/google",
        "LINKEDIN_CLIENT_ID": "l-id",
        "LINKEDIN_CLIENT_SECRET": "l-secret",
        "LINKEDIN_OIDC_URL": "http://idp.test/linkedin",
        "DJANGO_SETTINGS_MODULE": "ecgportal.settings.local",
    }
    code = "import json; from django.conf import settings as s; print(json.dumps(s.SOCIALACCOUNT_PROVIDERS))"
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env=env,
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    providers = json.loads(out.strip().splitlines()[-1])

    google = providers["google"]
    assert google["APPS"] == [{"client_id": "g-id", "secret": "g-secret"}]
    assert google["AUTHORIZE_URL"] == "http://idp.test/google/o/oauth2/v2/auth"
    assert google["ACCESS_TOKEN_URL"] == "http://idp.test/google/token"
    assert google["ID_TOKEN_ISSUER"] == "http://idp.test/google"
    (app,) = providers["openid_connect"]["APPS"]
    assert (app["provider_id"], app["client_id"], app["secret"]) == ("linkedin", "l-id", "l-secret")
    assert app["settings"]["server_url"] == "http://idp.test/linkedin"


def test_google_defaults_to_googles_own_endpoints():
    from ecgportal.settings.base import google_endpoints

    urls = google_endpoints("")
    assert urls["AUTHORIZE_URL"] == "https://accounts.google.com/o/oauth2/v2/auth"
    assert urls["ACCESS_TOKEN_URL"] == "https://oauth2.googleapis.com/token"
    assert urls["ID_TOKEN_ISSUER"] == "https://accounts.google.com"
