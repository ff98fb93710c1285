"""Site-wide pages: landing, information pages, the dashboard hub and error pages."""

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render


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
    """Return the signed-in user's hub; each app contributes a panel through its selectors."""
    from predictions.views import dashboard_context

    return render(request, "pages/dashboard.html", dashboard_context(request.user))


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
