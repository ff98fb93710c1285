"""Reads of the audit trail."""

from audit.models import AuditEvent


def audit_trail_of_patient(*, patient):
    """Return every event about ``patient``'s data, newest first (what their profile shows)."""
    return AuditEvent.objects.filter(patient=patient).order_by("-created_at", "-id")


def audit_trail_by_others(*, patient):
    """Return the events where someone other than ``patient`` touched their data, newest first."""
    return audit_trail_of_patient(patient=patient).exclude(actor=patient)
