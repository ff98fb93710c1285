"""The trail is append-only in the database itself; deleting an account leaves it anonymised."""

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from accounts.services import user_delete
from accounts.tests.factories import DoctorFactory, UserFactory
from audit.models import AuditEvent
from audit.tests.factories import AuditEventFactory
from ecgportal.testing import require
from predictions.tests.factories import DonePredictionFactory, ECGRecordFactory, link

pytestmark = pytest.mark.django_db


@pytest.fixture
def postgres():
    require(connection.vendor == "postgresql", "the append-only trigger exists on PostgreSQL only")


def _refused(statement, params):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(statement, params)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET action = 'download' WHERE id = %s",
        "UPDATE audit_auditevent SET actor_label = 'someone else' WHERE id = %s",
        "UPDATE audit_auditevent SET created_at = created_at - interval '1 day' WHERE id = %s",
        "UPDATE audit_auditevent SET object_id = 'x' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ],
)
def test_the_database_refuses_to_change_or_delete_an_event(postgres, statement):
    event = AuditEventFactory()
    _refused(statement, [event.pk])
    event.refresh_from_db()
    assert (event.action, event.object_type) == ("view", "ecgrecord")


def test_the_orm_cannot_delete_events_either(postgres):
    event = AuditEventFactory()
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_the_events_of_a_living_account_cannot_be_anonymised(postgres):
    """Blanking names used to be allowed on any row; now only for an account that is gone."""
    event = AuditEventFactory()
    _refused(
        "UPDATE audit_auditevent SET actor_id = NULL, actor_label = '', actor_salt = '', ip_address = NULL WHERE id = %s",
        [event.pk],
    )
    _refused("UPDATE audit_auditevent SET patient_id = NULL, patient_label = '', patient_salt = '' WHERE id = %s", [event.pk])
    _refused("SELECT audit_anonymise_deleted_account(%s)", [event.patient_id])
    # Setting a foreign key to another user is not anonymisation either.
    _refused("UPDATE audit_auditevent SET patient_id = %s WHERE id = %s", [UserFactory().pk, event.pk])
    event.refresh_from_db()
    assert event.actor_label and event.patient_label and event.ip_address == "192.0.2.10"


def test_deleting_a_doctor_keeps_an_anonymised_trail(postgres):
    patient, doctor = UserFactory(), DoctorFactory(first_name="Dora", last_name="Doc")
    link(patient=patient, doctor=doctor)
    event = AuditEventFactory(actor=doctor, patient=patient)
    user_delete(user=doctor)
    event.refresh_from_db()
    assert (event.actor_id, event.actor_label, event.ip_address) == (None, "", None)
    assert event.actor_role == "doctor" and event.patient == patient and event.action == "view"
    assert event.actor_display == "a deleted doctor account"


def test_deleting_a_patient_keeps_their_records_trail_without_their_name(postgres):
    patient = UserFactory(first_name="Pat", last_name="Ient")
    record = ECGRecordFactory(owner=patient)
    DonePredictionFactory(record=record)
    seen = AuditEventFactory(patient=patient, object_id=str(record.uuid))
    own = AuditEventFactory(actor=patient, patient=patient, object_id=str(record.uuid))
    user_delete(user=patient)
    assert AuditEvent.objects.count() == 2
    for event in (seen, own):
        event.refresh_from_db()
        assert (event.patient_id, event.patient_label) == (None, "")
        assert event.object_id == str(record.uuid)
    assert "Pat Ient" not in str(list(AuditEvent.objects.values_list("actor_label", "patient_label")))
