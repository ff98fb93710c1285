"""Writes for articles: record a read, load the shipped Markdown content."""

from pathlib import Path

from articles.frontmatter import parse_article

CONTENT_DIR = Path(__file__).resolve().parent / "content"


def article_record_view(*, article):
    """Record one read of a published article (drafts seen by staff are not counted)."""
    from articles.models import ArticleView

    if article.published:
        ArticleView.objects.create(article=article)


def article_load_content(*, directory=CONTENT_DIR, overwrite=False, models=None):
    """Create the articles described by ``directory/*.md``; return (created, updated) counts.

    Idempotent: existing articles (matched by slug) are left as staff edited them unless
    ``overwrite``. ``models`` lets a data migration pass its historical models.
    """
    if models is None:
        from articles.models import Article, ArticleBeatCode, ArticleReference

        models = {"Article": Article, "ArticleBeatCode": ArticleBeatCode, "ArticleReference": ArticleReference}
    Article = models["Article"]
    ArticleBeatCode = models["ArticleBeatCode"]
    ArticleReference = models["ArticleReference"]

    parsed = [parse_article(path) for path in sorted(Path(directory).glob("*.md"))]
    created = updated = 0
    touched = {}
    for item in parsed:
        fields = {
            "title": item["title"],
            "summary": item["summary"],
            "body": item["body"],
            "kind": item["kind"],
            "reviewed_on": item["reviewed_on"],
            "published": item["published"],
        }
        article = Article.objects.filter(slug=item["slug"]).first()
        if article is None:
            article = Article.objects.create(slug=item["slug"], **fields)
            created += 1
        elif overwrite:
            for name, value in fields.items():
                setattr(article, name, value)
            article.save()
            article.beat_codes.all().delete()
            article.references.all().delete()
            updated += 1
        else:
            continue
        ArticleBeatCode.objects.bulk_create(ArticleBeatCode(article=article, code=c) for c in item["codes"])
        ArticleReference.objects.bulk_create(
            ArticleReference(article=article, name=name, url=url, position=i)
            for i, (name, url) in enumerate(item["references"])
        )
        touched[item["slug"]] = (article, item["conditions"])

    # Links need every article to exist first, so they are set in a second pass.
    for article, condition_slugs in touched.values():
        article.related_conditions.set(Article.objects.filter(slug__in=condition_slugs))
    return created, updated
