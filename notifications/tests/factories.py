import factory

from accounts.tests.factories import UserFactory
from notifications.models import Kind, Notification


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    recipient = factory.SubFactory(UserFactory)
    kind = Kind.REVIEW_CREATED
    title = factory.Sequence(lambda n: f"Notification {n}")
    body = "Something happened to your records."
    link_url = "/records/"
