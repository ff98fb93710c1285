"""Responses the result pages and the API build the same way: private files, the PDF report, the
FHIR bundle. Views fetch (through ``accounts.permissions``), then return one of these.
"""

from django.http import FileResponse, HttpResponse

from exports import fhir
from predictions import services


def _private(response):
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def file_response(field_file, *, filename, content_type, attachment=True):
    """Stream a stored file (never cached by browsers or proxies, never sniffed)."""
    stream = field_file.storage.open(field_file.name, "rb")
    return _private(FileResponse(stream, as_attachment=attachment, filename=filename, content_type=content_type))


def pdf_response(*, record, prediction, user):
    """Return the PDF report of ``prediction`` as a download."""
    response = HttpResponse(
        services.pdf_report_bytes(record=record, prediction=prediction, user=user), content_type="application/pdf"
    )
    response["Content-Disposition"] = f'attachment; filename="ecg-report-{record.uuid}.pdf"'
    return _private(response)


def fhir_response(*, request, record, prediction, attachment=True):
    """Return the FHIR R4 Bundle of ``prediction`` (``application/fhir+json``), as a download for pages."""
    bundle = fhir.result_bundle_json(record=record, prediction=prediction, base_url=request.build_absolute_uri("/"))
    response = HttpResponse(bundle, content_type=fhir.CONTENT_TYPE)
    if attachment:
        response["Content-Disposition"] = f'attachment; filename="ecg-result-{record.uuid}.fhir.json"'
    return _private(response)
