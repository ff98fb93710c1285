import pytest

from articles.models import Article
from articles.selectors import article_links_for_codes, article_list
from articles.tests.factories import ArticleFactory
from ml.classes import CODES

pytestmark = pytest.mark.django_db


def test_links_exist_for_every_beat_class_after_the_data_migration():
    links = article_links_for_codes(codes=list(CODES))
    assert [link["code"] for link in links] == list(CODES)
    for link in links:
        assert link["title"] and link["url"].startswith("/articles/")
    by_code = {link["code"]: link for link in links}
    assert {"title": "Sudden cardiac arrest", "url": "/articles/sudden-cardiac-arrest/"} in by_code["VF"]["conditions"]
    assert any(c["url"] == "/articles/atrial-fibrillation-and-flutter/" for c in by_code["A"]["conditions"])
    assert any(c["url"] == "/articles/pacemakers/" for c in by_code["P"]["conditions"])


def test_links_follow_the_given_order_skip_unknown_codes_and_accept_mitbih_symbols():
    links = article_links_for_codes(codes=["V", "nonsense", "/", "V", "!"])
    assert [link["code"] for link in links] == ["V", "P", "VF"]
    assert article_links_for_codes(codes=[]) == []


def test_unpublished_articles_and_conditions_are_not_linked():
    Article.objects.filter(slug="heart-failure").update(published=False)
    Article.objects.filter(slug="ventricular-escape-beat").update(published=False)
    links = {link["code"]: link for link in article_links_for_codes(codes=["V", "E"])}
    assert "E" not in links
    assert all("heart-failure" not in c["url"] for c in links["V"]["conditions"])


def test_links_take_a_constant_number_of_queries(django_assert_num_queries):
    with django_assert_num_queries(2):
        article_links_for_codes(codes=list(CODES))


def test_search_requires_every_word_and_covers_title_summary_and_body():
    ArticleFactory(title="Zebra rhythm", summary="Unrelated", body="plain")
    ArticleFactory(title="Other", summary="A zebra summary", body="quagga in body")
    assert {a.title for a in article_list(query="zebra")} == {"Zebra rhythm", "Other"}
    assert {a.title for a in article_list(query="zebra quagga")} == {"Other"}


def test_filter_by_kind_and_code():
    beat_titles = {a.title for a in article_list(kind="beat_class")}
    assert len(beat_titles) == 8
    v_articles = {a.slug for a in article_list(code="V")}
    assert {"premature-ventricular-contraction", "cardiomyopathy"} <= v_articles
    assert "stroke" not in v_articles
    assert list(article_list(code="XX")) == []
