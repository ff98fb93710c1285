# The predictions fixtures (patient, doctor, outsiders, in-process analysis) serve these tests too.
from predictions.tests.conftest import (  # noqa: F401
    _fresh_throttles,
    _in_process_analysis,
    doctor,
    other_patient,
    patient,
    patient_client,
    unlinked_doctor,
    unverified_doctor,
)
