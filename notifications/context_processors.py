from functools import partial

from notifications.selectors import notification_unread_count


def unread_notifications(request):
    """Return the unread count for the navigation badge, counted only if a template uses it.

    A callable: the template calls it when it renders the badge, so the status fragments that
    poll every few seconds do not pay for a query they never show.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notification_count": partial(notification_unread_count, user=user)}
