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
            from allauth.account.models import EmailAddress

            admin = User.objects.create_superuser(email=email, password=password)
            # The operator chose this address: mark it verified so they can sign in at once
            # (mandatory email confirmation applies to people who sign up, not to the installer).
            EmailAddress.objects.update_or_create(
                user=admin, email=admin.email, defaults={"verified": True, "primary": True}
            )
            self.stdout.write(f"Created administrator {email} (email verified)")
        self.stdout.write(self.style.SUCCESS(f"Portal ready at {settings.SITE_URL}"))
