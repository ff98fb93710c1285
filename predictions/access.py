"""Access rules for ECG records: kept as a name predictions' selectors import; the rules live in
``accounts.permissions`` (the one access policy), which also writes the audit trail."""

from accounts.permissions import (
    can_change_record,
    can_review,
    can_view_patient,
    can_view_record,
    patients_of,
    records_visible_to_doctor,
    visible_records,
)

__all__ = ["can_change_record", "can_review", "can_view_patient", "can_view_record", "patients_of",
           "records_visible_to_doctor", "visible_records"]
