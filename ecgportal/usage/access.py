from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied


def staff_required(view):
    """Send anonymous visitors to sign in; refuse signed-in users who are not staff (403)."""

    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied("Usage metrics are for administrators.")
        return view(request, *args, **kwargs)

    return wrapped
