"""Load the articles shipped in articles/content/*.md. Idempotent: existing slugs are left as staff edited them."""

from django.db import migrations


def load(apps, schema_editor):
    from articles.services import article_load_content

    names = ("Article", "ArticleBeatCode", "ArticleReference")
    article_load_content(models={name: apps.get_model("articles", name) for name in names})


class Migration(migrations.Migration):
    dependencies = [("articles", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
