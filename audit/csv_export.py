"""The audit trail as CSV: what administrators download and what a patient's export contains."""

import csv
import io

CSV_COLUMNS = [
    "created_at", "actor_id", "actor_role", "actor", "patient_id", "patient",
    "action", "object_type", "object_id", "door", "ip_address",
]


def audit_events_csv(events):
    """Return ``events`` as CSV text, one row per event, oldest first."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for e in events.order_by("created_at", "id"):
        writer.writerow([
            e.created_at.isoformat(), e.actor_id or "", e.actor_role, e.actor_display, e.patient_id or "",
            e.patient_label, e.action, e.object_type, e.object_id, e.door, e.ip_address or "",
        ])
    return out.getvalue()
