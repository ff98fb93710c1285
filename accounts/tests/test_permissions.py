"""The one access policy: the rules, and the fetch helpers that apply them and write the trail."""

import pytest
from django.http import Http404
from django.test import RequestFactory

from accounts import permissions
from accounts.tests.factories import CareLinkFactory, DoctorFactory, StaffFactory, UnverifiedDoctorFactory, UserFactory
from audit.models import AuditEvent
from predictions.tests.factories import ECGRecordFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def linked():
    link = CareLinkFactory()
    return link.patient, link.doctor


def _request(user, path="/records/x/"):
    request = RequestFactory().get(path, REMOTE_ADDR="203.0.113.5")
    request.user = user
    return request


def test_who_may_change_review_and_export(linked):
    patient, doctor = linked
    record = ECGRecordFactory(owner=patient)
    staff = StaffFactory()
    assert [permissions.can_change_record(user=u, record=record) for u in (patient, doctor, staff)] == [True, False, True]
    assert [permissions.can_review(user=u, record=record) for u in (patient, doctor, staff)] == [False, True, False]
    assert [permissions.can_export_patient(user=u, patient=patient) for u in (patient, doctor, staff)] == [True, False, False]
    assert not permissions.can_review(user=UnverifiedDoctorFactory(), record=record)


def test_record_or_404_audits_the_access_with_the_door_and_address(linked):
    patient, doctor = linked
    record = ECGRecordFactory(owner=patient)
    assert permissions.record_or_404(request=_request(doctor), uuid=record.uuid) == record
    permissions.record_or_404(request=_request(doctor, "/api/v1/records/x/"), uuid=record.uuid, action="download")
    events = list(AuditEvent.objects.order_by("id").values_list("actor", "patient", "action", "door", "ip_address", "object_id"))
    assert events == [
        (doctor.pk, patient.pk, "view", "page", "203.0.113.5", str(record.uuid)),
        (doctor.pk, patient.pk, "download", "api", "203.0.113.5", str(record.uuid)),
    ]
    assert AuditEvent.objects.first().actor_label == str(doctor)


@pytest.mark.parametrize("options", [{}, {"change": True}, {"review": True}])
def test_record_or_404_refuses_without_writing_anything(linked, options):
    patient, _ = linked
    record = ECGRecordFactory(owner=patient)
    outsider = DoctorFactory() if not options else (UserFactory() if "review" in options else DoctorFactory())
    with pytest.raises(Http404):
        permissions.record_or_404(request=_request(outsider), uuid=record.uuid, **options)
    assert not AuditEvent.objects.exists()


def test_a_linked_doctor_cannot_change_and_the_patient_cannot_review(linked):
    patient, doctor = linked
    record = ECGRecordFactory(owner=patient)
    with pytest.raises(Http404):
        permissions.record_or_404(request=_request(doctor), uuid=record.uuid, change=True)
    with pytest.raises(Http404):
        permissions.record_or_404(request=_request(patient), uuid=record.uuid, review=True)
    assert not AuditEvent.objects.exists()


def test_staff_required_refuses_everyone_else(rf):
    from django.core.exceptions import PermissionDenied

    view = permissions.staff_required(lambda request: "ok")
    request = rf.get("/staff/metrics/")
    request.user = UserFactory()
    with pytest.raises(PermissionDenied):
        view(request)
    request.user = StaffFactory()
    assert view(request) == "ok"
