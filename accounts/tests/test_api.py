"""REST API: token for email + password (+ two-factor code), and the signed-in user."""

import pyotp
import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.tests.conftest import PASSWORD
from accounts.tests.factories import DoctorFactory, UserFactory, recovery_codes_enable, totp_enable

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
ME_URL = "/api/v1/me/"


@pytest.fixture
def api():
    return APIClient()


def test_urls_are_where_the_docs_say():
    assert reverse("accounts-api:token") == TOKEN_URL
    assert reverse("accounts-api:me") == ME_URL


def test_email_and_password_give_a_token_that_reads_me(api):
    doctor = DoctorFactory(first_name="Jo")

    response = api.post(TOKEN_URL, {"email": doctor.email, "password": PASSWORD}, format="json")

    assert response.status_code == 200
    token = response.json()["token"]
    assert Token.objects.get(user=doctor).key == token
    assert response.json()["user"]["role"] == "doctor"
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    body = me.get(ME_URL).json()
    assert body["email"] == doctor.email
    assert body["first_name"] == "Jo"
    assert body["is_verified_doctor"] is True
    assert body["two_factor_enabled"] is False
    assert body["id"] == str(doctor.public_id) and body["id"] != str(doctor.pk)  # a random id, not the row number
    # Asking again returns the same token.
    assert api.post(TOKEN_URL, {"email": doctor.email, "password": PASSWORD}).json()["token"] == token


def test_me_needs_credentials(api):
    assert api.get(ME_URL).status_code in (401, 403)
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    # 403 rather than 401 while SessionAuthentication comes first in REST_FRAMEWORK.
    assert api.get(ME_URL).status_code in (401, 403)


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "user@example.org", "password": "wrong-password"},
        {"email": "nobody@example.org", "password": PASSWORD},
    ],
)
def test_bad_credentials_are_refused_the_same_way(api, payload):
    UserFactory(email="user@example.org")

    response = api.post(TOKEN_URL, payload, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Unable to sign in with this email address and password.",
        "code": "invalid_credentials",
    }
    assert not Token.objects.exists()


def test_missing_fields_are_named(api):
    response = api.post(TOKEN_URL, {"email": "not-an-email"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert set(response.json()["fields"]) == {"email", "password"}


def test_an_unconfirmed_email_gets_no_token(api):
    user = UserFactory(verified_email=False)

    response = api.post(TOKEN_URL, {"email": user.email, "password": PASSWORD}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "email_unverified"
    assert not Token.objects.exists()


def test_a_two_factor_account_needs_a_code(api):
    user = UserFactory()
    secret = totp_enable(user)
    credentials = {"email": user.email, "password": PASSWORD}

    missing = api.post(TOKEN_URL, credentials, format="json")
    wrong = api.post(TOKEN_URL, {**credentials, "otp": "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"})
    right = api.post(TOKEN_URL, {**credentials, "otp": pyotp.TOTP(secret).now()}, format="json")

    assert missing.status_code == 400
    assert missing.json()["code"] == "otp_required"
    assert '"otp"' in missing.json()["detail"]
    assert wrong.status_code == 400
    assert wrong.json()["code"] == "otp_invalid"
    assert right.status_code == 200
    assert right.json()["user"]["two_factor_enabled"] is True
    # A code is good once.
    replay = api.post(TOKEN_URL, {**credentials, "otp": pyotp.TOTP(secret).now()}, format="json")
    assert replay.json()["code"] == "otp_invalid"


def test_a_recovery_code_works_as_otp(api):
    user = UserFactory()
    totp_enable(user)
    code = recovery_codes_enable(user)[3]

    response = api.post(TOKEN_URL, {"email": user.email, "password": PASSWORD, "otp": code}, format="json")

    assert response.status_code == 200


def test_repeated_failures_are_rate_limited(api):
    user = UserFactory()
    for _ in range(5):
        assert api.post(TOKEN_URL, {"email": user.email, "password": "guess"}).status_code == 400

    response = api.post(TOKEN_URL, {"email": user.email, "password": PASSWORD}, format="json")

    assert response.status_code == 429
    assert response.json()["code"] == "too_many_login_attempts"
    assert not Token.objects.exists()


def test_the_schema_documents_both_endpoints_without_warnings():
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    from accounts.api import urls

    GENERATOR_STATS.reset()
    generator = SchemaGenerator(patterns=[*urls.urlpatterns])
    schema = generator.get_schema(request=None, public=True)

    assert not GENERATOR_STATS._warn_cache and not GENERATOR_STATS._error_cache
    token = schema["paths"]["/auth/token/"]["post"]
    assert token["operationId"] == "auth_token_create"
    assert {"200", "400", "429"} <= set(token["responses"])
    assert not token.get("security"), "no credentials needed to ask for a token"
    assert "otp" in schema["components"]["schemas"]["TokenObtain"]["properties"]
    me = schema["paths"]["/me/"]["get"]
    assert me["operationId"] == "me_retrieve"
    assert {"tokenAuth": []} in me["security"]
