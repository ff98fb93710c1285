"""Pages: ask for an export of everything about you; download it while the link is valid."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts import permissions
from exports import services


@login_required
@require_POST
def request_export(request):
    """Queue an export of the user's data; an email follows when it is ready."""
    services.data_export_request(user=request.user)
    messages.success(
        request, "Your export is being prepared. We will email you a download link when it is ready."
    )
    return redirect("accounts:profile")


@login_required
@require_GET
def download(request, uuid):
    """Stream the export archive to its owner while the link is valid; someone else gets a 404."""
    export = permissions.export_or_404(request=request, uuid=uuid)
    if not export.is_downloadable():
        return render(request, "exports/unavailable.html", {"export": export}, status=410)
    response = FileResponse(
        export.file.storage.open(export.file.name, "rb"),
        as_attachment=True,
        filename=f"ecg-portal-export-{export.created_at:%Y-%m-%d}.zip",
        content_type="application/zip",
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
