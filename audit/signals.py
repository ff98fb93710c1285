"""Anonymise the trail of an account about to be deleted (by the user, or by an administrator)."""

from django.conf import settings
from django.db.models.signals import pre_delete
from django.dispatch import receiver


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="audit_anonymise_deleted_user")
def anonymise_deleted_user(sender, instance, **kwargs):
    from audit.services import audit_events_anonymise

    audit_events_anonymise(user=instance)
