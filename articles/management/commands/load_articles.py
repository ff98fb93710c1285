from django.core.management.base import BaseCommand
from django.db import transaction

from articles.services import CONTENT_DIR, article_load_content


class Command(BaseCommand):
    help = "Create the articles in articles/content/*.md that do not exist yet (--overwrite replaces edits)."

    def add_arguments(self, parser):
        parser.add_argument("--directory", default=str(CONTENT_DIR))
        parser.add_argument(
            "--overwrite", action="store_true", help="Replace existing articles with the files' content."
        )

    def handle(self, *args, directory, overwrite, **options):
        with transaction.atomic():
            created, updated = article_load_content(directory=directory, overwrite=overwrite)
        self.stdout.write(f"{created} article(s) created, {updated} updated.")
