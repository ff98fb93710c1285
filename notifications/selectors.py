"""Reads for notifications, always scoped by the person asking."""

from django.shortcuts import get_object_or_404

from notifications.models import ALWAYS_EMAILED, EmailOptOut, Kind, Notification


def notification_list(*, user):
    """Return ``user``'s notifications, newest first."""
    return Notification.objects.filter(recipient=user)


def notification_get(*, user, pk):
    """Return ``user``'s notification ``pk``; anyone else's is a 404, as if it did not exist."""
    return get_object_or_404(Notification, pk=pk, recipient=user)


def notification_unread_count(*, user):
    """Return how many of ``user``'s notifications are unread (the navigation badge)."""
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def kinds_for_user(*, user):
    """Return the kinds of event whose emails ``user`` may turn off: only doctors are shared
    records, only patients are asked for access; urgent results are always emailed."""
    excluded = {Kind.CARE_LINK_REQUESTED, Kind.CARE_LINK_SHARED, *ALWAYS_EMAILED}
    if user.role == "doctor":
        excluded.discard(Kind.CARE_LINK_SHARED)
    elif user.role == "patient":
        excluded.discard(Kind.CARE_LINK_REQUESTED)
    return [kind for kind in Kind if kind not in excluded]


def emailed_kinds(*, user):
    """Return the kinds of event ``user`` is emailed about (those they did not turn off)."""
    off = set(EmailOptOut.objects.filter(user=user).values_list("kind", flat=True))
    return [kind for kind in kinds_for_user(user=user) if kind not in off]
