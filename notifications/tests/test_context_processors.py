"""The unread badge beside the user menu."""

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from notifications.tests.factories import NotificationFactory

pytestmark = pytest.mark.django_db


def _badge(client):
    html = client.get(reverse("dashboard")).content.decode()
    marker = 'data-testid="unread-count">'
    return int(html.split(marker, 1)[1].split("<", 1)[0]) if marker in html else 0


def test_the_badge_counts_my_unread_notifications_only(client):
    user = UserFactory()
    NotificationFactory.create_batch(2, recipient=user)
    NotificationFactory(recipient=user, read_at=timezone.now())
    NotificationFactory.create_batch(4)  # other people's
    client.force_login(user)
    assert _badge(client) == 2
    opened = user.notifications.filter(read_at__isnull=True).first()
    client.post(reverse("notifications:open", args=[opened.pk]))
    assert _badge(client) == 1


def test_no_badge_when_everything_is_read_or_signed_out(client):
    user = UserFactory()
    NotificationFactory(recipient=user, read_at=timezone.now())
    client.force_login(user)
    assert _badge(client) == 0
    client.logout()
    assert "notifications-link" not in client.get(reverse("about")).content.decode()
