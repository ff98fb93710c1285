"""Writes of the usage app: remember which days each user was active."""

from django.utils import timezone

from usage.models import DailyActivity


def activity_record(*, user, when=None):
    """Mark ``user`` active on the (local) day of ``when``, now by default; a second call that day is a no-op."""
    if user is None or not getattr(user, "pk", None):
        return
    day = timezone.localdate(when) if when is not None else timezone.localdate()
    # ignore_conflicts: one row per user and day, and no read before the write.
    DailyActivity.objects.bulk_create([DailyActivity(user_id=user.pk, day=day)], ignore_conflicts=True)
