"""The shipped articles: present after migrations, complete, linked, and loaded idempotently."""

from urllib.parse import urlsplit

import pytest

from articles.frontmatter import ArticleFileError, parse_article
from articles.models import Article
from articles.services import CONTENT_DIR, article_load_content
from ml.classes import CODES

REQUIRED_CONDITIONS = {
    "atrial-fibrillation-and-flutter",
    "heart-failure",
    "coronary-artery-disease-and-heart-attack",
    "cardiomyopathy",
    "stroke",
    "sudden-cardiac-arrest",
    "conduction-system-disease",
    "pacemakers",
}
# Health services, government health institutes, professional societies and the data set's home.
REPUTABLE_HOSTS = {
    "www.nhs.uk", "www.nhlbi.nih.gov", "medlineplus.gov", "www.heart.org", "cpr.heart.org", "www.escardio.org",
    "www.resus.org.uk", "www.stroke.org", "physionet.org",
}
BEAT_SECTIONS = (
    "## What it is",
    "## How it shows on an ECG",
    "## Symptoms",
    "## Possible side effects and complications",
    "## When to seek care",
    "## Prevention and management",
    "## For clinicians",
)


def _files():
    return [parse_article(path) for path in sorted(CONTENT_DIR.glob("*.md"))]


@pytest.mark.django_db
def test_data_migration_loaded_one_published_article_per_beat_class_and_the_conditions():
    beat_articles = Article.objects.filter(kind=Article.Kind.BEAT_CLASS, published=True)
    assert sorted(beat_articles.values_list("beat_codes__code", flat=True)) == sorted(CODES)
    slugs = set(Article.objects.filter(kind=Article.Kind.CONDITION, published=True).values_list("slug", flat=True))
    assert REQUIRED_CONDITIONS <= slugs
    assert Article.objects.count() == len(_files())


def test_every_beat_article_has_every_section_and_cites_sources():
    for item in _files():
        assert len(item["references"]) >= 3, item["slug"]
        assert all(url.startswith("https://") for _, url in item["references"])
        assert "## For clinicians" in item["body"], item["slug"]
        assert "emergency number" in item["body"], item["slug"]
        if item["kind"] == "beat_class":
            for heading in BEAT_SECTIONS:
                assert heading in item["body"], (item["slug"], heading)


@pytest.mark.django_db
def test_loading_again_keeps_staff_edits_unless_overwrite(tmp_path):
    article = Article.objects.get(slug="premature-ventricular-contraction")
    article.summary = "Edited by staff."
    article.save()

    assert article_load_content() == (0, 0)
    article.refresh_from_db()
    assert article.summary == "Edited by staff."

    created, updated = article_load_content(overwrite=True)
    article.refresh_from_db()
    assert (created, updated) == (0, len(_files()))
    assert article.summary != "Edited by staff."
    assert article.references.count() >= 3
    assert list(article.beat_codes.values_list("code", flat=True)) == ["V"]


@pytest.mark.django_db
def test_loader_creates_missing_articles_and_links_conditions(tmp_path):
    (tmp_path / "a.md").write_text(
        "---\ntitle: Beat X\nslug: beat-x\nkind: beat_class\ncodes: V\nconditions: cond-y\n"
        "summary: S\nreference: Src | https://example.org/\n---\nBody\n"
    )
    (tmp_path / "b.md").write_text("---\ntitle: Cond Y\nslug: cond-y\nkind: condition\nsummary: S\n---\nBody\n")
    assert article_load_content(directory=tmp_path) == (2, 0)
    assert article_load_content(directory=tmp_path) == (0, 0)
    beat = Article.objects.get(slug="beat-x")
    assert [a.slug for a in beat.related_conditions.all()] == ["cond-y"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("no header", "must start"),
        ("---\ntitle: T\n", "not closed"),
        ("---\ntitle: T\nslug: s\nkind: condition\n---\n", "missing summary"),
        ("---\ntitle: T\nslug: s\nkind: other\nsummary: S\n---\n", "kind must be"),
        ("---\ntitle: T\nslug: s\nkind: condition\nsummary: S\nreference: x | http://insecure\n---\n", "reference"),
        ("---\ntitle: T\nslug: s\nkind: condition\nsummary: S\ncolour: red\n---\n", "unknown key"),
    ],
)
def test_bad_article_files_are_rejected_with_a_clear_message(tmp_path, text, message):
    path = tmp_path / "bad.md"
    path.write_text(text)
    with pytest.raises(ArticleFileError, match=message):
        parse_article(path)


def test_every_article_cites_reputable_sources_by_name_and_link():
    for item in _files():
        for name, url in item["references"]:
            assert len(name.strip()) >= 5, (item["slug"], name)  # the organisation, by name
            assert urlsplit(url).hostname in REPUTABLE_HOSTS, (item["slug"], url)
