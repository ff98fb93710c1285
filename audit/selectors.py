"""Reads of the audit trail."""

from audit.models import AuditEvent


def audit_trail_of_patient(*, patient):
    """Return every event about ``patient``'s data, newest first (what their profile shows)."""
    return AuditEvent.objects.filter(patient=patient).order_by("-created_at", "-id")


def audit_trail_by_others(*, patient):
    """Return the events where someone other than ``patient`` touched their data, newest first."""
    return audit_trail_of_patient(patient=patient).exclude(actor=patient)


# What each kind of event means, said to the patient ("Who has seen my ECGs").
_WHAT = {
    "ecgrecord": "the ECG {name}",
    "predictionimage": "the ECG {name}",
    "shared_link": "the ECG {name}, through a share link",
    "record_list": "your list of ECGs",
    "case_list": "you in their worklist",
    "dashboard": "your dashboard",
    "notification_list": "notifications about you",
    "records_trail": "this list",
}
# Events of one person on one thing within this many seconds are one visit (a result page loads
# its trace, images and status as several audited reads).
VISIT_S = 600
# The profile reads at most this many of the newest events to build its rows (the data export
# has them all): one long visit can be thousands of reads.
MAX_EVENTS_READ = 5000


def audit_trail_rows(*, patient, others_only=False, limit=50):
    """Return "who has seen my ECGs" for ``patient``: the events in words, newest first, the reads
    of one visit (same person, door, action and ECG within :data:`VISIT_S`) as one row with
    their count. Nothing is left out: the rows only group the events. Return (rows, more)."""
    from predictions.models import ECGRecord

    events = audit_trail_by_others(patient=patient) if others_only else audit_trail_of_patient(patient=patient)
    rows = []
    for event in events[:MAX_EVENTS_READ].iterator(chunk_size=500):
        key = (event.actor_id, event.actor_label, event.door, event.action,
               "ecg" if event.object_type in ("ecgrecord", "predictionimage") else event.object_type, event.object_id)
        last = rows[-1] if rows else None
        if last and last["key"] == key and (last["first"] - event.created_at).total_seconds() <= VISIT_S:
            last["first"], last["count"] = event.created_at, last["count"] + 1
            continue
        if len(rows) == limit:
            return _named(rows, ECGRecord), True
        rows.append({"key": key, "event": event, "when": event.created_at, "first": event.created_at, "count": 1})
    return _named(rows, ECGRecord), events[MAX_EVENTS_READ:MAX_EVENTS_READ + 1].exists()


def _named(rows, record_model):
    names = dict(record_model.objects.filter(uuid__in=[r["event"].object_id for r in rows if _is_uuid(r["event"].object_id)])
                 .values_list("uuid", "original_filename"))
    names = {str(k): v for k, v in names.items()}
    for row in rows:
        event = row["event"]
        template = _WHAT.get(event.object_type, event.object_type.replace("_", " ") or "your records")
        row["what"] = f"{event.get_action_display()} " + template.format(
            name=names.get(event.object_id, "that was later deleted") if event.object_id else "")
        row["who"] = ("Someone with your share link" if event.object_type == "shared_link" and event.actor_id is None
                      else event.actor_display)
    return rows


def _is_uuid(value):
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
