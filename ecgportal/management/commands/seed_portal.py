"""Prepare a fresh installation: a site record and, when asked, an administrator account."""

import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the administrator from DJANGO_SUPERUSER_EMAIL/PASSWORD if set. Idempotent."

    def handle(self, *args, **options):
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        User = get_user_model()
        if email and password and not User.objects.filter(email__iexact=email).exists():
            User.objects.create_superuser(email=email, password=password)
            self.stdout.write(f"Created administrator {email}")
        self.stdout.write(self.style.SUCCESS(f"Portal ready at {settings.SITE_URL}"))
