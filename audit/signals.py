"""Anonymise the trail of a deleted account (deleted by the user, or by an administrator)."""

from django.conf import settings
from django.db.models.signals import post_delete
from django.dispatch import receiver


@receiver(post_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="audit_anonymise_deleted_user")
def anonymise_deleted_user(sender, instance, **kwargs):
    # After the DELETE, inside the deletion's transaction: the foreign keys are checked at commit,
    # by which time no event points at the account any more.
    from audit.services import audit_events_anonymise

    audit_events_anonymise(user_id=instance.pk)
