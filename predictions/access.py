"""Who may see, change and review a patient's ECGs; the rules themselves live in accounts.

Seeing: the patient, a verified doctor the patient linked (active CareLink), staff.
Changing (delete, re-run): the patient, staff. Reviewing: a verified, linked doctor.
"""

from accounts import selectors as account_selectors


def can_view_patient(*, viewer, patient):
    """Return True when ``viewer`` may see ``patient``'s records and results."""
    if not getattr(viewer, "is_authenticated", False) or not viewer.is_active:
        return False
    return account_selectors.can_view_patient(viewer=viewer, patient=patient)


def patients_of(*, doctor):
    """Return the queryset of patients who linked ``doctor`` (empty for anyone else)."""
    return account_selectors.patients_of(doctor=doctor)


def can_change_record(*, user, record):
    """Return True when ``user`` may delete or re-run ``record``."""
    return user.is_authenticated and user.is_active and (record.owner_id == user.pk or user.is_staff)


def can_review(*, user, record):
    """Return True when ``user`` is a verified doctor linked to the record's owner."""
    return (
        user.is_authenticated
        and user.is_active
        and getattr(user, "is_verified_doctor", False)
        and record.owner_id != user.pk
        and patients_of(doctor=user).filter(pk=record.owner_id).exists()
    )
