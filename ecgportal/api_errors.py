"""The one place API errors become JSON: ``{"code": ..., "detail": ...}`` for every error.

DRF's own exceptions keep their status and gain a ``code`` (serializer field errors keep DRF's
``{field: [messages]}`` shape); the portal's ``UploadError`` and
Django's ``ValidationError`` (raised by services and model constraints) become 400s with their
message, so views and services raise instead of each building its own error response.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from predictions.errors import UploadError


def api_exception_handler(exc, context):
    """Return the JSON response for ``exc`` raised in an API view (REST_FRAMEWORK's EXCEPTION_HANDLER)."""
    if isinstance(exc, UploadError):
        return Response(exc.as_dict(), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoValidationError):
        return Response({"code": exc.code or "invalid", "detail": "; ".join(exc.messages)},
                        status=status.HTTP_400_BAD_REQUEST)
    response = exception_handler(exc, context)
    if response is None or isinstance(exc, exceptions.ValidationError):
        return response  # serializer field errors keep DRF's shape: {field: [messages]}
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
