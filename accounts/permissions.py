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
from django.db.models import Q, QuerySet
from django.http import Http404

from accounts.models import CareLink, User


def _is_active_user(user):
    return user is not None and getattr(user, "is_authenticated", False) and user.is_active


# --- rules ----------------------------------------------------------------------------------


def patients_of(*, doctor) -> QuerySet[User]:
    """Return the patients who gave ``doctor`` active access; none unless the doctor is verified."""
    if not _is_active_user(doctor) or not doctor.is_verified_doctor:
        return User.objects.none()
    return (
        User.objects.filter(
            role=User.Role.PATIENT,
            is_active=True,
            doctor_links__doctor=doctor,
            doctor_links__status=CareLink.Status.ACTIVE,
        )
        .distinct()
        .order_by("last_name", "first_name", "email")
    )


def doctors_of(*, patient, record=None) -> QuerySet[User]:
    """Return the verified, active doctors ``patient`` gave active access to (with ``record``:
    those whose link covers that record)."""
    covers = Q() if record is None else Q(patient_links__scope=CareLink.Scope.ALL) | Q(patient_links__records=record)
    # One filter() call: every condition is on the same link (not on any link of the doctor's).
    return User.objects.filter(
        covers,
        role=User.Role.DOCTOR,
        is_active=True,
        patient_links__patient=patient,
        patient_links__status=CareLink.Status.ACTIVE,
        doctor_verified_at__isnull=False,
    ).distinct()


def can_view_patient(*, viewer, patient) -> bool:
    """Return True if ``viewer`` may see ``patient``'s records and results."""
    if not _is_active_user(viewer):
        return False
    if viewer.pk == patient.pk or viewer.is_staff:
        return True
    return (
        viewer.is_verified_doctor
        and CareLink.objects.filter(patient=patient, doctor=viewer, status=CareLink.Status.ACTIVE).exists()
    )


def records_visible_to_doctor(*, doctor):
    """Return a Q over ECGRecord: the records of the patients who linked ``doctor``, all of them
    where the link's scope is "all", else only those the patient shared in the link."""
    from django.db.models import Exists, OuterRef

    from predictions.models import ECGRecord

    if not _is_active_user(doctor) or not doctor.is_verified_doctor:
        return Q(pk__in=[])
    active = CareLink.objects.filter(doctor=doctor, status=CareLink.Status.ACTIVE, patient__is_active=True)
    every = active.filter(scope=CareLink.Scope.ALL, patient=OuterRef("owner"))
    chosen = ECGRecord.shared_in.through.objects.filter(
        ecgrecord=OuterRef("pk"), carelink__in=active.filter(scope=CareLink.Scope.CHOSEN))
    return Q(Exists(every)) | Q(Exists(chosen))


def visible_records(*, viewer, records):
    """Return ``records`` (an ECGRecord queryset of one patient ``viewer`` may see) without the
    ones a doctor's link does not cover; the patient and staff see every record."""
    if getattr(viewer, "is_staff", False) or not getattr(viewer, "is_verified_doctor", False):
        return records
    return records.filter(records_visible_to_doctor(doctor=viewer))


def can_view_record(*, viewer, record) -> bool:
    """Return True if ``viewer`` may see ``record``: its patient's rule, then the link's scope."""
    if not can_view_patient(viewer=viewer, patient=record.owner):
        return False
    if viewer.pk == record.owner_id or viewer.is_staff:
        return True
    return visible_records(viewer=viewer, records=type(record).objects.filter(pk=record.pk)).exists()


def can_change_record(*, user, record) -> bool:
    """Return True when ``user`` may delete or re-run ``record``."""
    return _is_active_user(user) and (record.owner_id == user.pk or user.is_staff)


def can_review(*, user, record) -> bool:
    """Return True when ``user`` is a verified doctor linked to the record's owner."""
    return (
        _is_active_user(user)
        and user.is_verified_doctor
        and record.owner_id != user.pk
        and patients_of(doctor=user).filter(pk=record.owner_id).exists()
        and can_view_record(viewer=user, record=record)
    )


def can_export_patient(*, user, patient) -> bool:
    """Return True when ``user`` may download everything held about ``patient``: only the patient."""
    return _is_active_user(user) and user.pk == patient.pk


def is_staff_member(user) -> bool:
    """Return True for an active administrator (usage metrics, the audit trail of everyone)."""
    return _is_active_user(user) and user.is_staff


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


def record_or_404(*, request, uuid, action=None, change=False, review=False, audit=True):
    """Return the ECG record ``uuid`` if the request's user may see it, and audit the access.

    ``change=True`` also requires the right to delete / re-run it, ``review=True`` the right to
    review it. Anything else is a 404. One audit event is written per call, unless ``audit=False``.
    """
    from predictions import selectors
    from predictions.models import ECGRecord

    try:
        record = selectors.ecg_record_get(user=request.user, uuid=uuid)
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

    record = record_or_404(request=request, uuid=uuid, audit=False)
    prediction = selectors.prediction_current(record=record)
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
