"""Reads about users and who may see whose records. Every clinical read goes through here."""

from django.db.models import QuerySet

from accounts.models import CareLink, User


def patients_of(*, doctor) -> QuerySet[User]:
    """Return the patients who gave ``doctor`` active access; none unless the doctor is verified."""
    if not getattr(doctor, "is_authenticated", False) or not doctor.is_active or not doctor.is_verified_doctor:
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


def can_view_patient(*, viewer, patient) -> bool:
    """Return True if ``viewer`` may see ``patient``'s records.

    The patient themself, a verified doctor the patient linked (active link), or staff.
    """
    if viewer is None or not getattr(viewer, "is_authenticated", False) or not viewer.is_active:
        return False
    if viewer.pk == patient.pk or viewer.is_staff:
        return True
    return (
        viewer.is_verified_doctor
        and CareLink.objects.filter(patient=patient, doctor=viewer, status=CareLink.Status.ACTIVE).exists()
    )


def care_links_of_patient(*, patient) -> QuerySet[CareLink]:
    """Return the patient's open links (active and pending), newest first."""
    return (
        CareLink.objects.filter(
            patient=patient, status__in=[CareLink.Status.ACTIVE, CareLink.Status.PENDING]
        )
        .select_related("doctor", "requested_by")
        .order_by("status", "-created_at")
    )


def care_links_of_doctor(*, doctor) -> QuerySet[CareLink]:
    """Return the doctor's open links (active and pending), patients by name."""
    return (
        CareLink.objects.filter(
            doctor=doctor, status__in=[CareLink.Status.ACTIVE, CareLink.Status.PENDING]
        )
        .select_related("patient")
        .order_by("status", "patient__last_name", "patient__first_name", "patient__email")
    )


def doctors_awaiting_verification() -> QuerySet[User]:
    """Return doctors an administrator has not verified yet, oldest sign-up first."""
    return User.objects.filter(
        role=User.Role.DOCTOR, doctor_verified_at__isnull=True, is_active=True
    ).order_by("date_joined")


def user_has_totp(*, user) -> bool:
    """Return True if the user signs in with an authenticator app (TOTP)."""
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
