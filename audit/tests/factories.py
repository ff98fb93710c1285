import factory

from accounts.tests.factories import DoctorFactory, UserFactory
from audit.models import AuditEvent


class AuditEventFactory(factory.django.DjangoModelFactory):
    """A doctor's view of a patient's record, through a page."""

    class Meta:
        model = AuditEvent

    actor = factory.SubFactory(DoctorFactory)
    actor_role = factory.LazyAttribute(lambda o: o.actor.role if o.actor else "")
    actor_label = factory.LazyAttribute(lambda o: (o.actor.get_full_name() or o.actor.email) if o.actor else "")
    patient = factory.SubFactory(UserFactory)
    patient_label = factory.LazyAttribute(lambda o: (o.patient.get_full_name() or o.patient.email) if o.patient else "")
    object_type = "ecgrecord"
    object_id = factory.Faker("uuid4")
    action = AuditEvent.Action.VIEW
    door = AuditEvent.Door.PAGE
    ip_address = "192.0.2.10"
