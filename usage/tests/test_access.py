"""Only staff see usage metrics: on the page, in the CSV export and through the API."""

import pytest
from django.urls import reverse

from accounts.tests.factories import DoctorFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

PAGE = reverse("usage:dashboard")
CSV = reverse("usage:export_csv")
API = reverse("usage-api:metrics")


@pytest.mark.parametrize("url", [PAGE, CSV])
def test_anonymous_visitors_are_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_anonymous_api_request_is_refused(client):
    assert client.get(API).status_code in (401, 403)


@pytest.mark.parametrize("factory", [UserFactory, DoctorFactory], ids=["patient", "doctor"])
@pytest.mark.parametrize("url", [PAGE, CSV, API])
def test_patients_and_doctors_are_forbidden(client, factory, url):
    client.force_login(factory())
    response = client.get(url)
    assert response.status_code == 403
    assert b"Accounts" not in response.content


def test_staff_get_the_page_the_csv_and_the_api(client):
    client.force_login(StaffFactory())
    assert client.get(PAGE).status_code == 200
    assert client.get(CSV)["Content-Type"].startswith("text/csv")
    assert client.get(API).json()["period"]["days"] == 30


def test_the_navbar_links_staff_to_the_dashboard(client):
    client.force_login(StaffFactory())
    assert PAGE.encode() in client.get(reverse("articles:list")).content
