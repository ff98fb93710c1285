import pytest
from django.urls import reverse

from accounts.tests.factories import StaffFactory, UserFactory
from articles.models import Article, ArticleView
from articles.tests.factories import ArticleFactory

pytestmark = pytest.mark.django_db


def test_list_shows_published_articles_to_anyone(client):
    ArticleFactory(title="Hidden draft", published=False)
    response = client.get(reverse("articles:list"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Premature ventricular contraction (V)" in content
    assert "Sudden cardiac arrest" in content
    assert "Hidden draft" not in content


def test_search_and_filters_narrow_the_list(client):
    response = client.get(reverse("articles:list"), {"q": "pacemaker", "kind": "condition"})
    content = response.content.decode()
    assert "Pacemakers" in content
    assert "Paced beat (P)" not in content  # a beat-class article, filtered out by kind
    response = client.get(reverse("articles:list"), {"code": "VF"})
    content = response.content.decode()
    assert "Ventricular flutter or fibrillation wave (VF)" in content
    assert "Stroke" not in content


def test_search_with_no_match_says_so(client):
    response = client.get(reverse("articles:list"), {"q": "xylophone"})
    assert "No articles match your search." in response.content.decode()


def test_detail_shows_rendered_body_references_and_conditions(client):
    response = client.get(reverse("articles:detail", args=["premature-atrial-contraction"]))
    assert response.status_code == 200
    content = response.content.decode()
    assert "<h2>For clinicians</h2>" in content
    assert 'href="https://www.nhs.uk/conditions/heart-palpitations/"' in content
    assert 'href="/articles/atrial-fibrillation-and-flutter/"' in content
    assert "Association is not diagnosis" in content


def test_condition_page_links_back_to_beat_classes(client):
    content = client.get(reverse("articles:detail", args=["stroke"])).content.decode()
    assert 'href="/articles/premature-atrial-contraction/"' in content


def test_unknown_slug_is_404(client):
    assert client.get("/articles/no-such-article/").status_code == 404


def test_unpublished_article_is_404_for_patients_and_visible_to_staff(client):
    draft = ArticleFactory(published=False, title="Draft article")
    client.force_login(UserFactory())
    assert client.get(draft.get_absolute_url()).status_code == 404
    client.force_login(StaffFactory())
    response = client.get(draft.get_absolute_url())
    assert response.status_code == 200
    assert "Draft: not visible to patients" in response.content.decode()


def test_reading_a_published_article_is_counted_but_a_staff_draft_preview_is_not(client):
    article = Article.objects.get(slug="stroke")
    client.get(article.get_absolute_url())
    client.get(article.get_absolute_url())
    assert ArticleView.objects.filter(article=article).count() == 2
    draft = ArticleFactory(published=False)
    client.force_login(StaffFactory())
    client.get(draft.get_absolute_url())
    assert not ArticleView.objects.filter(article=draft).exists()


def test_script_in_body_is_not_in_the_page(client):
    article = ArticleFactory(body="Hi <script>window.__pwned=1</script> [x](javascript:alert(1))")
    content = client.get(article.get_absolute_url()).content.decode()
    assert "__pwned" not in content
    assert "javascript:alert" not in content


def test_links_include_renders_the_disclaimer_and_links():
    from django.template.loader import render_to_string

    from articles.selectors import article_links_for_codes

    html = render_to_string(
        "articles/includes/links_for_codes.html", {"article_links": article_links_for_codes(codes=["L"])}
    )
    assert "Association is not diagnosis:" in html
    assert 'href="/articles/left-bundle-branch-block-beat/"' in html
    assert 'href="/articles/conduction-system-disease/"' in html


def test_links_template_tag_renders_the_same_include():
    from django.template import Context, Template

    html = Template("{% load article_tags %}{% article_links_for_codes codes %}").render(Context({"codes": ["V"]}))
    assert 'href="/articles/premature-ventricular-contraction/"' in html
    assert "Association is not diagnosis:" in html
