import pytest
from django.test import Client
from django.urls import reverse

from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["home", "about", "how_it_works", "privacy"])
def test_public_pages_render_with_the_not_a_diagnosis_notice(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert "not a diagnosis" in response.content.decode()


def test_home_sends_a_signed_in_user_to_the_dashboard(client):
    client.force_login(UserFactory())
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response.url == reverse("dashboard")


def test_dashboard_requires_login(client):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert reverse("account_login") in response.url


def test_unknown_page_gets_the_portal_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_server_error_page_is_plain_and_reassuring(settings):
    """A crash shows the static 500 page, not a traceback."""
    from django.urls import path

    def boom(request):
        raise RuntimeError("boom")

    import ecgportal.urls as root

    settings.ROOT_URLCONF = type("U", (), {"urlpatterns": root.urlpatterns + [path("boom/", boom)],
                                           "handler500": root.handler500})
    response = Client(raise_request_exception=False).get("/boom/")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


def test_openapi_schema_and_docs_are_served(client):
    assert client.get(reverse("api-schema")).status_code == 200
    assert client.get(reverse("api-docs")).status_code == 200


def test_the_administrator_made_by_make_run_can_sign_in_at_once(client, monkeypatch, settings):
    import copy
    import uuid

    from django.core.management import call_command

    caches = copy.deepcopy(settings.CACHES)  # own rate-limit counters: reruns must not throttle it
    caches["default"]["KEY_PREFIX"] = f"test-seed-{uuid.uuid4().hex[:12]}"
    settings.CACHES = caches

    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "admin@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-admin-password-1")
    call_command("seed_portal")
    response = client.post(
        reverse("account_login"), {"login": "admin@example.com", "password": "a-long-admin-password-1"}, follow=True
    )
    assert "verification" not in response.content.decode().lower()
    assert response.wsgi_request.user.is_authenticated
    assert client.get(reverse("admin:index")).status_code == 200
