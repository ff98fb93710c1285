"""The API keeps the README's promise: every error under /api/ is JSON with ``code`` and ``detail``,
every filter and bound is in the schema, and the schema holds against generated requests
(schemathesis, a small budget: no 5xx, every answer as the schema says)."""

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.urls import reverse
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.tests.factories import UserFactory

TOKEN_URL = "/api/v1/auth/token/"


def _schema():
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def _error(response, status, code=None):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert body["detail"] and body["code"], body
    if code:
        assert body["code"] == code, body
    return body


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/", "/api/v1/", "/api/v1/nothing-here/",
                                  "/api/v1/records/not-a-uuid/", "/api/v2/records/"])
def test_an_unmatched_api_path_is_a_json_404(client, path):
    body = _error(client.get(path), 404, "not_found")
    assert path in body["detail"]


@pytest.mark.django_db
def test_pages_outside_the_api_keep_their_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_a_method_an_endpoint_does_not_take_is_a_json_405():
    api = APIClient()
    api.force_authenticate(UserFactory())
    _error(api.delete("/api/v1/me/"), 405, "method_not_allowed")
    _error(api.put("/api/v1/articles/"), 405, "method_not_allowed")


@pytest.mark.django_db
def test_the_token_endpoints_400_names_the_fields_with_a_code_and_detail():
    cache.clear()  # the per-IP token limit is counted in the cache
    body = _error(APIClient().post(TOKEN_URL, {"email": "not-an-email"}, format="json"), 400, "invalid")
    assert set(body["fields"]) == {"email", "password"}
    assert body["detail"].startswith("email: ")
    body = _error(APIClient().post(TOKEN_URL, "{not json", content_type="application/json"), 400)
    assert "JSON" in body["detail"]


@pytest.mark.django_db
def test_an_invalid_filter_is_a_400_with_code_detail_and_fields():
    api = APIClient()
    api.force_authenticate(UserFactory(is_staff=True))
    body = _error(api.get("/api/v1/articles/", {"kind": "nonsense"}), 400, "invalid")
    assert "kind" in body["fields"]
    body = _error(api.get("/api/v1/usage/metrics/", {"start": "2025-03-10", "end": "2025-03-01"}), 400, "invalid")
    assert "on or after the start date" in body["detail"]


@pytest.mark.django_db
def test_throttling_is_a_json_429_with_retry_after():
    cache.clear()
    api = APIClient()
    responses = [api.post(TOKEN_URL, {"email": "nobody@example.com", "password": "x"}, format="json") for _ in range(25)]
    throttled = [r for r in responses if r.status_code == 429]
    assert throttled, [r.status_code for r in responses]
    for response in throttled:
        _error(response, 429)
    rate_limited = [r for r in throttled if r.json()["code"] == "throttled"]  # the API's own rate limit
    assert rate_limited and int(rate_limited[0]["Retry-After"]) > 0
    cache.clear()


def test_every_filter_and_bound_of_the_list_endpoints_is_in_the_schema():
    from articles.forms import ArticleSearchForm
    from predictions.forms import CLASS_CHOICES, HistoryFilterForm
    from usage.forms import PRESETS, PeriodForm

    paths = _schema()["paths"]

    def parameters(path):
        return {p["name"]: p["schema"] for p in paths[path]["get"]["parameters"] if p["in"] == "query"}

    records = parameters("/api/v1/records/")
    assert set(HistoryFilterForm.base_fields) | {"patient", "page"} == set(records)
    assert records["code"]["enum"] == [code for code, _ in CLASS_CHOICES]
    assert records["status"]["enum"] == ["pending", "running", "done", "failed", "inconclusive"]
    assert records["q"]["maxLength"] == 100 and records["date_from"]["format"] == "date"
    articles = parameters("/api/v1/articles/")
    assert set(ArticleSearchForm.base_fields) | {"page"} == set(articles)
    assert articles["q"]["maxLength"] == 200 and "N" in articles["code"]["enum"]
    usage = parameters("/api/v1/usage/metrics/")
    assert set(PeriodForm.base_fields) == set(usage)
    assert usage["days"] == {"type": "integer", "enum": list(PRESETS)}


def test_every_error_answer_in_the_schema_has_a_code_and_a_detail():
    schema = _schema()
    error = schema["components"]["schemas"]["CommonError"]
    assert {"code", "detail"} <= set(error["required"])
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"429", "500"} <= codes, (method, path)
            if operation.get("requestBody") or any(p["in"] == "query" for p in operation.get("parameters", [])):
                assert "400" in codes, (method, path)


# Schemathesis: generated requests against the API in this process, as a signed-in patient.

@pytest.fixture
def api_schema(db):
    from django.core.wsgi import get_wsgi_application

    # The test database lives in one transaction; a request must not close its connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def token(db):
    return Token.objects.create(user=UserFactory()).key


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_the_api_answers_as_its_schema_says(case, token):
    case.call_and_validate(
        headers={"Authorization": f"Token {token}"},
        checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                response_headers_conformance, response_schema_conformance],
    )
