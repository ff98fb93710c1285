"""The one place API errors become JSON: ``{"code": ..., "detail": ...}`` for every error.

DRF's own exceptions keep their status and gain a ``code``; serializer and form errors become
``{"code": "invalid", "detail": the first message, "fields": {field: [messages]}}`` (the shape the
upload and the filters already answer with); the portal's ``UploadError`` and Django's
``ValidationError`` (raised by services and model constraints) become 400s with their message, so
views and services raise instead of each building its own error response. What never reaches a
DRF view under /api/ (an unmatched path, a request Django refuses before any view) is answered by
the handlers at the end of this module, in the same shape.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from ecgportal import views
from predictions.errors import UploadError


def api_exception_handler(exc, context):
    """Return the JSON response for ``exc`` raised in an API view (REST_FRAMEWORK's EXCEPTION_HANDLER)."""
    if isinstance(exc, UploadError):
        return Response(exc.as_dict(), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoValidationError):
        return Response({"code": getattr(exc, "code", None) or "invalid", "detail": "; ".join(exc.messages)},
                        status=status.HTTP_400_BAD_REQUEST)
    response = exception_handler(exc, context)
    if response is None:
        return response
    if isinstance(exc, exceptions.ValidationError):
        response.data = _invalid(response.data)
        return response
    if isinstance(response.data, dict) and "code" not in response.data:
        if isinstance(exc, Http404):
            code = "not_found"
        elif isinstance(exc, DjangoPermissionDenied):
            code = "permission_denied"
        else:
            codes = exc.get_codes() if hasattr(exc, "get_codes") else None
            code = codes if isinstance(codes, str) else getattr(exc, "default_code", "error")
        response.data["code"] = code
    return response


def _messages(errors, prefix=""):
    """Yield (field, message) for DRF's nested error data (dicts, lists, strings)."""
    if isinstance(errors, dict):
        for name, value in errors.items():
            yield from _messages(value, f"{prefix}.{name}" if prefix else str(name))
    elif isinstance(errors, list):
        for value in errors:
            yield from _messages(value, prefix)
    else:
        yield prefix, str(errors)


def _invalid(errors):
    """Return the error body for serializer or form errors: the first message, and all per field."""
    fields = {}
    for name, message in _messages(errors):
        fields.setdefault(name or "non_field_errors", []).append(message)
    field, messages = next(iter(fields.items()), ("non_field_errors", ["Invalid input."]))
    detail = messages[0] if field == "non_field_errors" else f"{field}: {messages[0]}"
    body = {"code": "invalid", "detail": detail}
    if set(fields) != {"non_field_errors"}:
        body["fields"] = fields
    return body


def _json(status, code, detail):
    return JsonResponse({"code": code, "detail": detail}, status=status)


def bad_request(request, exception):
    """handler400: JSON under /api/ (a request Django refused before any view), Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return _json(400, "bad_request", "The request could not be read; check its headers and body.")
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    """handler403: JSON under /api/, the portal's page elsewhere."""
    if request.path.startswith("/api/"):
        return _json(403, "permission_denied", "You do not have permission to perform this action.")
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception):
    """handler404: JSON under /api/ (the README promises it for every API path), the page elsewhere."""
    if request.path.startswith("/api/"):
        return _json(404, "not_found", f"No API endpoint at {request.path}; see /api/docs/ for the list.")
    return views.page_not_found(request, exception)
