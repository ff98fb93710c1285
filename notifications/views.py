"""Pages: the list of one's notifications, opening one, email preferences, unsubscribing.

A notification belongs to its recipient: anyone else asking for it gets a 404. The unsubscribe
page needs no sign-in; its signed token says whose email to stop and which kind.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import permissions
from accounts.models import User
from notifications import selectors, services
from notifications.forms import EmailPreferencesForm

PAGE_SIZE = 20


@login_required
@require_GET
def notification_list(request):
    """Show the user's notifications, newest first, unread ones marked."""
    page = Paginator(selectors.notification_list(user=request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    # Notifications quote readings and names: audited, one event per patient they are about.
    shown = {n.patient_id for n in page.object_list if n.patient_id}
    for patient in User.objects.filter(pk__in=shown).order_by("pk"):
        permissions.record_access(request=request, patient=patient, action="view", object_type="notification_list")
    return render(request, "notifications/list.html", {"page": page})


@login_required
@require_POST
def notification_open(request, pk):
    """Mark the notification read and go where it points (a POST: reading a page changes nothing)."""
    notification = selectors.notification_get(user=request.user, pk=pk)
    services.notification_mark_read(notification=notification)
    target = notification.link_url
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts=None):
        return redirect(target)
    return redirect("notifications:list")


@login_required
@require_POST
def notification_mark_all_read(request):
    count = services.notification_mark_all_read(user=request.user)
    if count:
        messages.success(request, f"{count} notification{'s' if count != 1 else ''} marked as read.")
    return redirect("notifications:list")


@login_required
@require_POST
def email_preferences(request):
    """Save which events email the user (the profile page's notification settings)."""
    form = EmailPreferencesForm(request.POST, user=request.user)
    if form.is_valid():
        services.email_preferences_update(user=request.user, emailed_kinds=form.cleaned_data["emailed"])
        messages.success(request, "Your notification settings have been saved.")
    else:
        messages.error(request, "Those notification settings could not be saved.")
    return redirect("accounts:profile")


# Mail providers POST the RFC 8058 one-click unsubscribe without a CSRF token; the signed token
# is the authorisation, and it only ever turns an email off.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    """GET asks to confirm (link scanners follow GET links); POST turns that kind of email off.

    An expired link says so (410) and points to the profile page; a forged one is a 404.
    """
    try:
        user, kind = services.unsubscribe_token_read(token=token)
    except ValidationError as error:
        if error.code != "expired_token":
            raise Http404("This unsubscribe link is not valid.") from None
        return render(request, "notifications/unsubscribe.html", {"expired": True}, status=410)
    done = request.method == "POST"
    if done:
        services.email_opt_out(user=user, kind=kind)
    return render(request, "notifications/unsubscribe.html", {"kind": kind, "done": done, "email": user.email})
