"""Writes for data exports: request one, build its archive (in a Celery task), record downloads."""

import io
import json
import logging
import zipfile

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from exports.models import DataExport
from ecgportal.celery import task

logger = logging.getLogger(__name__)

README = """Everything the ECG Portal holds about you, exported on {date}.

profile.json            your account
care_links.json         the doctors you shared your records with (and requests), past and present
reviews.json            every doctor's review of your results
audit_trail.csv         who opened, downloaded, reviewed or exported your records, when, and how
records/<id>/original/  the files you uploaded, byte for byte
records/<id>/result.json       each analysis of the record (newest first): status, the clinical reading (level,
                                assessment), beats, counts, summary
records/<id>/result.fhir.json  the current result as a FHIR R4 Bundle (for other health systems)
records/<id>/report.pdf        the PDF report of the current result

The analysis is automated screening, not a diagnosis.
"""


def _now():
    return timezone.now()


def data_export_request(*, user):
    """Queue a new export of everything about ``user``; return it (the email follows when ready)."""
    export = DataExport.objects.create(owner=user)
    transaction.on_commit(lambda: task("exports.build_data_export").delay(export.pk))
    return export


def _json(data):
    return json.dumps(data, indent=2, cls=DjangoJSONEncoder, ensure_ascii=False)


def _prediction_data(prediction):
    return {
        "uuid": prediction.uuid,
        "status": prediction.status,
        "level": prediction.level,
        "assessment": prediction.assessment,
        "is_current": prediction.is_current,
        "model_version": prediction.model_version,
        "created_at": prediction.created_at,
        "finished_at": prediction.finished_at,
        "beat_total": prediction.beat_total,
        "heart_rate_bpm": prediction.heart_rate_bpm,
        "confidence": prediction.confidence,
        "counts": {c.code: c.count for c in prediction.beat_counts.all()},
        "summary": prediction.summary,
        "beats": prediction.beats,
        "inconclusive_reason": prediction.inconclusive_reason,
        "error_code": prediction.error_code,
        "error_message": prediction.error_message,
    }


def _write_records(archive, *, user):
    from exports import fhir
    from predictions.models import ECGRecord, Review
    from predictions.services import pdf_report_bytes

    for record in ECGRecord.objects.filter(owner=user).order_by("created_at", "id"):
        folder = f"records/{record.uuid}"
        for field, name in ((record.file, record.original_filename), (record.companion_file, record.companion_filename)):
            if field:
                with field.storage.open(field.name, "rb") as f:
                    archive.writestr(f"{folder}/original/{name or field.name.rsplit('/', 1)[-1]}", f.read())
        predictions = list(record.predictions.order_by("-created_at", "-id").prefetch_related("beat_counts"))
        archive.writestr(
            f"{folder}/result.json",
            _json({
                "record": {
                    "uuid": record.uuid, "original_filename": record.original_filename, "format": record.file_format,
                    "uploaded_at": record.created_at, "recorded_on": record.recorded_on, "note": record.note,
                    "sha256": record.sha256, "size_bytes": record.size_bytes,
                },
                "predictions": [_prediction_data(p) for p in predictions],
            }),
        )
        current = next((p for p in predictions if p.is_current and p.is_finished), None)
        if current is not None:
            archive.writestr(
                f"{folder}/result.fhir.json",
                fhir.result_bundle_json(record=record, prediction=current, base_url=settings.SITE_URL),
            )
            archive.writestr(f"{folder}/report.pdf", pdf_report_bytes(record=record, prediction=current, user=user))
    reviews = Review.objects.filter(prediction__record__owner=user).select_related("prediction__record")
    archive.writestr("reviews.json", _json([
        {
            "record": r.prediction.record.uuid, "prediction": r.prediction.uuid, "doctor": r.doctor_name,
            "verdict": r.verdict, "beat_indices": r.beat_indices, "corrected_code": r.corrected_code,
            "finding_decisions": r.finding_decisions, "rhythm": r.rhythm, "added_findings": r.added_findings,
            "complete": r.complete, "note": r.note, "created_at": r.created_at,
        }
        for r in reviews.order_by("created_at", "id")
    ]))


def data_export_build(*, export_id):
    """Build the archive of export ``export_id`` and email its owner; running it twice builds it once."""
    from accounts.models import CareLink
    from accounts.permissions import record_access
    from audit.csv_export import audit_events_csv
    from audit.models import AuditEvent
    from audit.selectors import audit_trail_of_patient
    from notifications.services import export_ready_notify

    with transaction.atomic():
        export = DataExport.objects.select_for_update().select_related("owner").get(pk=export_id)
        if export.status != DataExport.Status.PENDING:
            return export
        user = export.owner
        # The export is itself an access: record it first so the archive's trail includes it.
        record_access(actor=user, patient=user, action=AuditEvent.Action.EXPORT, obj=export)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("README.txt", README.format(date=_now().date().isoformat()))
            archive.writestr("profile.json", _json({
                "id": user.pk, "email": user.email, "first_name": user.first_name, "last_name": user.last_name,
                "sex": user.sex, "birth_date": user.birth_date, "role": user.role, "date_joined": user.date_joined,
            }))
            links = CareLink.objects.filter(patient=user).select_related("doctor").order_by("created_at", "id")
            archive.writestr("care_links.json", _json([
                {
                    "doctor": str(link.doctor), "doctor_email": link.doctor.email, "status": link.status,
                    "requested_by_doctor": link.requested_by_id == link.doctor_id, "created_at": link.created_at,
                    "activated_at": link.activated_at, "ended_at": link.ended_at,
                }
                for link in links
            ]))
            _write_records(archive, user=user)
            archive.writestr("audit_trail.csv", audit_events_csv(audit_trail_of_patient(patient=user)))
        export.file.save("export.zip", ContentFile(buffer.getvalue()), save=False)
        export.size_bytes = len(buffer.getvalue())
        export.status = DataExport.Status.READY
        export.ready_at = _now()
        export.save()
        export_ready_notify(export=export)
    logger.info("Built data export %s (%s bytes)", export.uuid, export.size_bytes)
    return export


def data_export_fail(*, export_id, message):
    """Mark export ``export_id`` as failed (the page offers to ask again)."""
    DataExport.objects.filter(pk=export_id, status=DataExport.Status.PENDING).update(
        status=DataExport.Status.FAILED, error_message=message[:2000]
    )
