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


# Care-team events concern one role each; the rest concern everyone.
_DOCTORS_ONLY = {Kind.CARE_LINK_SHARED, Kind.CARE_LINK_INVITED}
_PATIENTS_ONLY = {Kind.CARE_LINK_REQUESTED, Kind.CARE_LINK_ACCEPTED}


def kinds_for_user(*, user):
    """Return the kinds of event whose emails ``user`` may turn off: care-team events of their
    own role only (administrators have none); urgent results are always emailed."""
    excluded = {*_DOCTORS_ONLY, *_PATIENTS_ONLY, *ALWAYS_EMAILED}
    if user.role == "doctor":
        excluded -= _DOCTORS_ONLY
    elif user.role == "patient":
        excluded -= _PATIENTS_ONLY
    return [kind for kind in Kind if kind not in excluded]


def emailed_kinds(*, user):
    """Return the kinds of event ``user`` is emailed about (those they did not turn off)."""
    off = set(EmailOptOut.objects.filter(user=user).values_list("kind", flat=True))
    return [kind for kind in kinds_for_user(user=user) if kind not in off]
