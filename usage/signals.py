"""Count a user active on the days they sign in or upload an ECG."""

from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_save
from django.dispatch import receiver

from usage.services import activity_record
from predictions.models import ECGRecord


@receiver(user_logged_in, dispatch_uid="usage_activity_on_sign_in")
def _on_sign_in(sender, request, user, **kwargs):
    activity_record(user=user)


@receiver(post_save, sender=ECGRecord, dispatch_uid="usage_activity_on_upload")
def _on_upload(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        activity_record(user=instance.owner, when=instance.created_at)
