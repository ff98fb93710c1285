"""Hardening an attacker or an offline user would notice: CSP, local API docs, forged client
addresses, sign-in providers that are not set up."""

import pytest
from django.core.cache import cache
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_every_page_carries_a_content_security_policy(client):
    policy = client.get(reverse("home"))["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy


def test_the_api_docs_load_swagger_ui_from_the_portal_not_a_cdn(client):
    page = client.get(reverse("api-docs")).content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    assert "cdn.jsdelivr" not in page and "unpkg" not in page
    script = client.get(reverse("api-docs") + "?script=")
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content


def test_a_forged_forwarded_for_header_does_not_reset_the_per_ip_token_limit(client, settings):
    """A client writes X-Forwarded-For itself; with no trusted proxy it must not pick its own IP."""
    cache.clear()
    url = reverse("accounts-api:token")
    codes = [
        client.post(url, {"email": "nobody@example.com", "password": "x"}, HTTP_X_FORWARDED_FOR=f"10.0.0.{i}").status_code
        for i in range(25)
    ]
    assert 429 in codes, codes


@pytest.mark.parametrize("url", ["/accounts/google/login/", "/accounts/google/login/callback/?code=x&state=y"])
def test_a_sign_in_provider_that_is_not_set_up_answers_404_not_500(client, url):
    response = client.get(url)
    assert response.status_code == 404


def test_the_api_schema_documents_the_errors_every_endpoint_can_answer():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = [(path, method, op) for path, ops in schema["paths"].items() for method, op in ops.items()]
    assert len(operations) >= 15
    for path, method, op in operations:
        codes = set(map(str, op["responses"]))
        assert {"429", "500"} <= codes, (method, path, codes)
        if "{" in path:
            assert "404" in codes, (method, path, codes)
        if path.startswith("/api/v1/records"):
            assert "401" in codes, (method, path, codes)
    listing = schema["paths"]["/api/v1/records/"]["get"]["responses"]
    assert {"400", "404"} <= set(map(str, listing))


def test_every_api_error_is_json_with_a_code(client):
    from rest_framework.test import APIClient

    api = APIClient()
    unauthenticated = api.get("/api/v1/records/")
    assert unauthenticated.status_code == 401 and unauthenticated.json()["code"] == "not_authenticated"
    from accounts.tests.factories import UserFactory

    api.force_authenticate(UserFactory())
    missing = api.get("/api/v1/records/00000000-0000-0000-0000-000000000000/")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    refused = api.post("/api/v1/records/", {"file": []}, format="multipart")
    assert refused.status_code == 400 and refused.json()["code"]
