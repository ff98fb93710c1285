"""Refuse a request body larger than the upload limit before a byte of it is read.

Django writes a multipart file to a temporary file while it reads the body, and the size check of
``predictions.validation`` runs once the whole file is there: a 1 GB upload landed on disk before
it was refused (issue 24). A body's size is known from its Content-Length before it is read (Django
reads no further than that; a chunked body without one reaches Django empty), so a body larger
than the limit plus room for the form's other fields is answered 413 here, with the sentence the
upload form uses. A file just over the limit inside that room still gets that sentence from the
upload checks, having touched the disk by at most the limit plus :data:`ENVELOPE_BYTES`.

The proxy in front (deploy/nginx.conf) refuses larger bodies still by its own
``client_max_body_size`` and shows this page through ``proxy_too_large``.
"""

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render

from predictions.errors import upload_too_large

# The multipart envelope: part headers, file names, the CSRF token and the form's small fields
# (a note of 2,000 characters at most) come to well under this.
ENVELOPE_BYTES = 64 * 1024


def _content_length(request):
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def too_large_response(request, size, *, api=None):
    """Return the 413 answer: JSON ``{"code", "detail"}`` for the API, the message page for people."""
    error = upload_too_large(size, settings.ECG_UPLOAD_MAX_BYTES)
    if request.path.startswith("/api/") if api is None else api:
        return JsonResponse(error.as_dict(), status=413)
    return render(request, "413.html", {"message": error.message}, status=413)


def proxy_too_large(request):
    """Answer for the proxy, which refused a body over its own limit (nginx ``error_page 413``).

    The proxy passes on the refused request's path and length; the answer is the one the portal
    gives itself, so a person reads the same sentence whichever of the two refused the upload.
    """
    try:
        size = int(request.headers.get("X-Original-Content-Length") or 0)
    except ValueError:
        size = 0
    api = request.headers.get("X-Original-URI", "").startswith("/api/")
    return too_large_response(request, size or settings.ECG_UPLOAD_MAX_BYTES + ENVELOPE_BYTES, api=api)


class UploadLimitMiddleware:
    """Answer 413 to a request whose declared body is over ECG_UPLOAD_MAX_BYTES plus the envelope."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        size = _content_length(request)
        if size > settings.ECG_UPLOAD_MAX_BYTES + ENVELOPE_BYTES:
            return too_large_response(request, size)
        return self.get_response(request)
