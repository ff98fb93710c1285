"""Writes to the audit trail: append an event, anonymise a deleted account's events. Nothing else."""

from audit.models import AuditEvent


def _label(user):
    return (user.get_full_name() or user.email) if user is not None else ""


def audit_event_create(*, actor, patient, action, door, object_type="", object_id="", ip_address=None):
    """Append one event; the labels keep the names as they were at the time."""
    return AuditEvent.objects.create(
        actor=actor,
        actor_role=getattr(actor, "role", "") if actor is not None else "",
        actor_label=_label(actor),
        patient=patient,
        patient_label=_label(patient),
        object_type=object_type,
        object_id=object_id,
        action=action,
        door=door,
        ip_address=ip_address,
    )


def audit_events_anonymise(*, user):
    """Take ``user``'s identity out of the trail before the account is deleted; keep the events.

    What stays: when, which kind of object, what was done, by which role, through which door.
    The database trigger allows exactly this update (foreign keys to NULL, labels blanked).
    """
    AuditEvent.objects.filter(actor=user).update(actor=None, actor_label="", ip_address=None)
    AuditEvent.objects.filter(patient=user).update(patient=None, patient_label="")
