"""Writes to the audit trail: append an event, anonymise a deleted account's events. Nothing else."""

from django.db import connection

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


def audit_events_anonymise(*, user_id):
    """Take the deleted account ``user_id`` out of the trail; keep the events and the chain.

    The only way any event changes. What stays: when, which kind of object, what was done, by
    which role, through which door, and the salted digests the hash chain covers (audit.chain).
    In PostgreSQL the application may not UPDATE the table: it calls a function owned by the
    table's owner, and the table's trigger lets the update through only for an account that no
    longer exists. Call it after the account's row is deleted, in the same transaction.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT audit_anonymise_deleted_account(%s)", [user_id])
        return
    from accounts.models import User

    if User.objects.filter(pk=user_id).exists():
        raise ValueError("Only a deleted account's audit events may be anonymised.")
    AuditEvent.objects.filter(actor_id=user_id).update(actor=None, actor_label="", actor_salt="", ip_address=None)
    AuditEvent.objects.filter(patient_id=user_id).update(patient=None, patient_label="", patient_salt="")
