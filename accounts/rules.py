"""The access rules: who may see, change, review and export a patient's data, as predicates and
querysets. Pure: no audit, no 404s, no fetching of records. Selectors use them to scope their
queries; ``accounts.permissions`` (the policy the views call) applies them and audits.

Imports run one way: views -> accounts.permissions -> selectors -> accounts.rules -> models
(``ecgportal/tests/test_layers.py`` checks it).
"""

from django.db.models import Q, QuerySet

from accounts.models import CareLink, User


def _is_active_user(user):
    return user is not None and getattr(user, "is_authenticated", False) and user.is_active


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
