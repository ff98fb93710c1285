"""Site-wide pages: landing, information pages, the dashboard hub and error pages."""

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.db import transaction
from django.shortcuts import redirect, render

from accounts import permissions
from audit.models import AuditEvent
from predictions import selectors as predictions_selectors


def home(request):
    if request.user.is_authenticated:
        return redirect("dashboard")
    return render(request, "pages/home.html")


def about(request):
    return render(request, "pages/about.html")


def how_it_works(request):
    return render(request, "pages/how_it_works.html")


def privacy(request):
    return render(request, "pages/privacy.html")


@login_required
def dashboard(request):
    """Return the signed-in user's hub; each app contributes a panel through its selectors.

    Audited like the pages it summarises: one event for the user's own records when any are
    shown, one per patient in a doctor's cases.
    """
    user = request.user
    context = {"predictions_panel": predictions_selectors.dashboard_summary(user=user)}
    shown = [user] if context["predictions_panel"]["record_count"] else []
    if user.is_verified_doctor:
        context["predictions_cases"] = predictions_selectors.doctor_case_list(doctor=user)[:5]
        shown += [case["patient"] for case in context["predictions_cases"]]
    with transaction.atomic():
        for patient in shown:
            permissions.record_access(
                request=request, patient=patient, action=AuditEvent.Action.VIEW, object_type="dashboard"
            )
    return render(request, "pages/dashboard.html", context)


def page_not_found(request, exception):
    return render(request, "404.html", status=404)


def server_error(request):
    """Answer an unhandled error: JSON for API clients, a page for people."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": "server_error", "detail": "Something went wrong on our side. It has been logged; try again in a minute."},
            status=500,
        )
    return render(request, "500.html", status=500)
