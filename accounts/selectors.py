"""Reads about users and their care links. Who may see whose records: ``accounts.permissions``."""

from django.db.models import QuerySet

from accounts.models import CareLink


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


def user_has_totp(*, user) -> bool:
    """Return True if the user signs in with an authenticator app (TOTP)."""
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
