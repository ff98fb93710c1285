import pytest

from accounts.tests.factories import StaffFactory
from articles.tests.factories import ArticleFactory

pytestmark = pytest.mark.django_db


def test_api_lists_published_articles_without_login(client):
    ArticleFactory(published=False, title="Draft")
    data = client.get("/api/v1/articles/").json()
    titles = [item["title"] for item in data["results"]]
    assert data["count"] == 16
    assert "Draft" not in titles
    first = data["results"][0]
    assert set(first) >= {"slug", "title", "summary", "kind", "beat_codes", "url"}


def test_api_search_and_filters():
    from rest_framework.test import APIClient

    client = APIClient()
    data = client.get("/api/v1/articles/", {"q": "defibrillator", "kind": "condition"}).json()
    assert "sudden-cardiac-arrest" in {item["slug"] for item in data["results"]}
    data = client.get("/api/v1/articles/", {"code": "E"}).json()
    assert {item["slug"] for item in data["results"]} == {
        "ventricular-escape-beat",
        "conduction-system-disease",
        "pacemakers",
    }
    assert client.get("/api/v1/articles/", {"kind": "nonsense"}).status_code == 400


def test_api_detail_has_sanitised_html_references_and_conditions(client):
    data = client.get("/api/v1/articles/paced-beat/").json()
    assert data["beat_codes"] == ["P"]
    assert "<h2>For clinicians</h2>" in data["body_html"]
    assert {"name", "url"} == set(data["references"][0])
    assert "pacemakers" in {c["slug"] for c in data["related_conditions"]}


def test_api_unknown_and_unpublished_are_404_except_for_staff(client):
    assert client.get("/api/v1/articles/nope/").status_code == 404
    draft = ArticleFactory(published=False)
    assert client.get(f"/api/v1/articles/{draft.slug}/").status_code == 404
    client.force_login(StaffFactory())
    assert client.get(f"/api/v1/articles/{draft.slug}/").status_code == 200
