import pytest
from django.urls import reverse

from accounts.tests.factories import StaffFactory, UserFactory
from articles.models import Article

pytestmark = pytest.mark.django_db


def _form_data(article, **changes):
    data = {
        "title": article.title,
        "slug": article.slug,
        "kind": article.kind,
        "codes": list(article.beat_codes.values_list("code", flat=True)),
        "summary": article.summary,
        "body": article.body,
        "published": "on" if article.published else "",
        "reviewed_on": "",
        "related_conditions": [str(pk) for pk in article.related_conditions.values_list("pk", flat=True)],
        "references-TOTAL_FORMS": "0",
        "references-INITIAL_FORMS": "0",
        "references-MIN_NUM_FORMS": "0",
        "references-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


def test_staff_can_edit_an_article_codes_and_references_in_the_admin(client):
    client.force_login(StaffFactory())
    article = Article.objects.get(slug="stroke")
    existing_refs = article.references.count()
    url = reverse("admin:articles_article_change", args=[article.pk])

    page = client.get(url)
    assert page.status_code == 200
    assert "Preview (as saved, sanitised)" in page.content.decode()

    data = _form_data(article, summary="Updated by an editor.", codes=["A", "VF"], reviewed_on="2025-01-15")
    data["references-TOTAL_FORMS"] = "1"
    data.update({"references-0-position": "9", "references-0-name": "CDC — Stroke", "references-0-url": "https://www.cdc.gov/stroke/"})
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]

    article.refresh_from_db()
    assert article.summary == "Updated by an editor."
    assert article.codes == ["A", "VF"]
    assert article.reviewed_on.isoformat() == "2025-01-15"
    assert article.references.count() == existing_refs + 1
    assert client.get(article.get_absolute_url()).content.decode().count("Updated by an editor.") == 1


def test_staff_can_add_a_draft_article(client):
    client.force_login(StaffFactory())
    response = client.post(
        reverse("admin:articles_article_add"),
        {
            "title": "Long QT syndrome",
            "slug": "long-qt-syndrome",
            "kind": "condition",
            "summary": "An inherited or acquired delay in the heart's recovery.",
            "body": "## What it is\n\nText.",
            "references-TOTAL_FORMS": "0",
            "references-INITIAL_FORMS": "0",
            "references-MIN_NUM_FORMS": "0",
            "references-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302
    assert Article.objects.get(slug="long-qt-syndrome").published is False


def test_admin_is_closed_to_non_staff(client):
    client.force_login(UserFactory())
    response = client.get(reverse("admin:articles_article_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
