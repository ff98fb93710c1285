"""Count a signed-in user active on each day they use the portal, not only when they sign in."""

from django.utils import timezone

from usage.services import activity_record

SESSION_KEY = "usage_active_day"


class ActivityMiddleware:
    """Record one activity row per user and day; the session remembers the day, so one write a day."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            today = timezone.localdate().isoformat()
            if request.session.get(SESSION_KEY) != today:
                activity_record(user=user)
                request.session[SESSION_KEY] = today
        return self.get_response(request)
