import factory

from articles.models import Article, ArticleBeatCode, ArticleReference


class ArticleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Article
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Test article {n}")
    slug = factory.Sequence(lambda n: f"test-article-{n}")
    summary = "A short test summary."
    body = "## Heading\n\nSome **plain** text about heartbeats.\n"
    kind = Article.Kind.CONDITION
    published = True

    @factory.post_generation
    def codes(obj, create, extracted, **kwargs):
        if create and extracted:
            ArticleBeatCode.objects.bulk_create(ArticleBeatCode(article=obj, code=c) for c in extracted)

    @factory.post_generation
    def references(obj, create, extracted, **kwargs):
        if create and extracted:
            ArticleReference.objects.bulk_create(
                ArticleReference(article=obj, name=name, url=url, position=i) for i, (name, url) in enumerate(extracted)
            )
