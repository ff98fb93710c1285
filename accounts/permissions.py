"""The one access policy: who may see, change and review a patient's data, and the audit of it.

Seeing: the patient, a verified doctor the patient linked (active CareLink), staff.
Changing (delete, re-run, export): the patient; delete and re-run also staff.
Reviewing: a verified doctor linked to the patient (never the patient themself).

Views do not fetch clinical objects themselves: they call the ``*_or_404`` helpers here, which
apply the policy and write the audit event in the same step, so a new view cannot forget either.
Anything a user may not see is a 404, never a 403: its existence is not revealed.
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404

from accounts.models import User
# The rules live in accounts.rules (below the selectors); views reach them through here.
from accounts.rules import (  # noqa: F401
    _is_active_user,
    can_change_record,
    can_export_patient,
    can_review,
    can_view_patient,
    can_view_record,
    doctors_of,
    is_staff_member,
    patients_of,
    records_visible_to_doctor,
    visible_records,
)


def staff_required(view):
    """Send anonymous visitors to sign in; refuse signed-in users who are not staff (403)."""

    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not is_staff_member(request.user):
            raise PermissionDenied("This page is for administrators.")
        return view(request, *args, **kwargs)

    return wrapped


# --- audit ----------------------------------------------------------------------------------


def _door(request):
    from audit.models import AuditEvent

    path = getattr(request, "path", "") or ""
    if path.startswith("/admin/"):
        return AuditEvent.Door.ADMIN
    # DRF wraps Django's request; its Request has ``accepted_renderer`` once negotiated.
    if path.startswith("/api/") or hasattr(request, "accepted_renderer"):
        return AuditEvent.Door.API
    return AuditEvent.Door.PAGE


def record_access(*, request=None, actor=None, patient, action, obj=None, object_type="", object_id="", door=None):
    """Write one audit event: ``actor`` (default: the request's user) did ``action`` to ``patient``'s data.

    ``obj`` is the object touched (its type and uuid are stored); ``door`` defaults to the one the
    request came through (page, API, admin). Called outside a request (a task, a service) the
    door is ``system`` and there is no address.
    """
    from audit.services import audit_event_create

    if actor is None and request is not None:
        actor = request.user
    if obj is not None:
        object_type = object_type or obj._meta.model_name
        object_id = object_id or str(getattr(obj, "uuid", None) or obj.pk)
    return audit_event_create(
        actor=actor if _is_active_user(actor) else None,
        patient=patient,
        action=action,
        door=door or (_door(request) if request is not None else "system"),
        object_type=object_type,
        object_id=str(object_id),
        ip_address=_client_ip(request),
    )


def _client_ip(request):
    if request is None:
        return None
    # REMOTE_ADDR only: X-Forwarded-For is set by the client unless a trusted proxy rewrites it.
    return request.META.get("REMOTE_ADDR") or None


# --- fetch-and-audit helpers for views --------------------------------------------------------


def _view_action():
    from audit.models import AuditEvent

    return AuditEvent.Action.VIEW


def record_or_404(*, request, uuid, action=None, change=False, review=False, audit=True, counts=True):
    """Return the ECG record ``uuid`` if the request's user may see it, and audit the access.

    ``change=True`` also requires the right to delete / re-run it, ``review=True`` the right to
    review it. Anything else is a 404. One audit event is written per call, unless ``audit=False``.
    ``counts=False`` leaves the current prediction's beat counts unread (a status read).
    """
    from predictions import selectors
    from predictions.models import ECGRecord

    try:
        record = selectors.ecg_record_get(user=request.user, uuid=uuid, counts=counts)
    except ECGRecord.DoesNotExist:
        raise Http404("No such ECG record.") from None
    if change and not can_change_record(user=request.user, record=record):
        raise Http404("No such ECG record.")
    if review and not can_review(user=request.user, record=record):
        raise Http404("No such ECG record.")
    if audit:
        record_access(request=request, patient=record.owner, action=action or _view_action(), obj=record)
    return record


def record_status_or_404(*, request, uuid):
    """Return (record, its current prediction or None) for a status poll of a record the user may see.

    Polled every second or so: only an answer about a finished analysis is audited. A "still
    queued / running" answer holds no clinical data, and auditing it would flood the trail.
    """
    from predictions import selectors

    record = record_or_404(request=request, uuid=uuid, audit=False, counts=False)
    prediction = selectors.prediction_status(record=record)
    if prediction is not None and prediction.is_finished:
        record_access(request=request, patient=record.owner, action=_view_action(), obj=record)
    return record, prediction


def image_or_404(*, request, uuid, image_id):
    """Return a derived image of a record the request's user may see, and audit the access."""
    from predictions import selectors
    from predictions.models import PredictionImage

    try:
        image = selectors.prediction_image_get(user=request.user, record_uuid=uuid, image_id=image_id)
    except PredictionImage.DoesNotExist:
        raise Http404("No such image.") from None
    record = image.prediction.record
    record_access(
        request=request, patient=record.owner, action=_view_action(), object_type="predictionimage", object_id=record.uuid
    )
    return image


def patient_or_404(*, request, patient_id=None, public_id=None):
    """Return the patient (by ``patient_id`` on pages, ``public_id`` in the API) whose records the
    request's user may list (not themself)."""
    lookup = {"public_id": public_id} if public_id is not None else {"pk": patient_id}
    patient = User.objects.filter(**lookup).first()
    if patient is None or patient.pk == request.user.pk or not can_view_patient(viewer=request.user, patient=patient):
        raise Http404("No such patient.")
    record_access(request=request, patient=patient, action=_view_action(), object_type="record_list")
    return patient


def own_records_listed(*, request):
    """Audit that the request's user listed their own records (history page, API list)."""
    record_access(request=request, patient=request.user, action=_view_action(), object_type="record_list")


def export_or_404(*, request, uuid):
    """Return the data export ``uuid`` if it belongs to the request's user.

    Someone else's export is a 404. A download (the archive is ready, the link not expired) is
    audited; the caller answers an expired or unfinished export.
    """
    from audit.models import AuditEvent
    from exports.models import DataExport

    export = DataExport.objects.filter(uuid=uuid).select_related("owner").first()
    if export is None or not can_export_patient(user=request.user, patient=export.owner):
        raise Http404("No such export.")
    if export.is_downloadable():
        record_access(request=request, patient=export.owner, action=AuditEvent.Action.DOWNLOAD, obj=export)
    return export
