"""Reads about users and their care links. Who may see whose records: ``accounts.permissions``."""

from django.db.models import F, Q, QuerySet

from accounts.models import CareLink


def care_links_of_patient(*, patient) -> QuerySet[CareLink]:
    """Return the patient's active links and the doctors' requests waiting for them, newest first.

    Invitations the patient sent stay unlisted until accepted: listing them would tell the
    patient which addresses belong to a doctor here.
    """
    return (
        CareLink.objects.filter(patient=patient)
        .filter(Q(status=CareLink.Status.ACTIVE) | Q(status=CareLink.Status.PENDING, requested_by=F("doctor")))
        .select_related("doctor", "requested_by")
        .order_by("status", "-created_at")
    )


def care_links_of_doctor(*, doctor) -> QuerySet[CareLink]:
    """Return the doctor's active links and the patients' invitations waiting for them, by name.

    Requests the doctor sent stay unlisted until the patient accepts (see care_links_of_patient).
    """
    return (
        CareLink.objects.filter(doctor=doctor)
        .filter(Q(status=CareLink.Status.ACTIVE) | Q(status=CareLink.Status.PENDING, requested_by=F("patient")))
        .select_related("patient")
        .order_by("status", "patient__last_name", "patient__first_name", "patient__email")
    )


def user_has_totp(*, user) -> bool:
    """Return True if the user signs in with an authenticator app (TOTP)."""
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
