"""Per-record sharing with linked doctors: a patient lets a doctor see all their ECGs, or only the
ones they choose; every door (page, API, files, worklist, lists, trends, notifications) follows."""

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import CareLink
from audit.models import AuditEvent
from notifications.models import Notification
from notifications.services import urgent_result_notify
from predictions import selectors
from predictions.tests.factories import DonePredictionFactory, ECGRecordFactory

pytestmark = pytest.mark.django_db


def _doors(record):
    kw = {"uuid": record.uuid}
    return [reverse("predictions:detail", kwargs=kw), reverse("predictions:trace", kwargs=kw),
            reverse("predictions:report", kwargs=kw), reverse("predictions:fhir", kwargs=kw),
            reverse("predictions:file", kwargs=kw), reverse("predictions-api:record-detail", kwargs=kw),
            reverse("predictions-api:record-result", kwargs=kw)]


def test_a_doctor_who_sees_chosen_ecgs_sees_those_only_through_every_door(patient, doctor):
    shared = DonePredictionFactory(record=ECGRecordFactory(owner=patient, original_filename="shared.csv"))
    private = DonePredictionFactory(record=ECGRecordFactory(owner=patient, original_filename="private.csv"))
    link = CareLink.objects.get(patient=patient, doctor=doctor)
    owner = Client()
    owner.force_login(patient)
    assert owner.post(reverse("accounts:care_link_scope", kwargs={"pk": link.pk}), {"scope": "chosen"}).status_code == 302
    assert owner.post(reverse("predictions:record_doctors", kwargs={"uuid": shared.record.uuid}),
                      {"links": [str(link.pk)]}).status_code == 302
    assert list(shared.record.shared_in.all()) == [link]

    client = Client()
    client.force_login(doctor)
    for url in _doors(private.record):
        assert client.get(url).status_code == 404, url
    assert client.get(_doors(shared.record)[0]).status_code == 200
    review = reverse("predictions:review", kwargs={"uuid": private.record.uuid})
    assert client.post(review, {"verdict": "agree"}).status_code == 404
    history = client.get(reverse("predictions:patient_history", kwargs={"patient_id": patient.pk})).content.decode()
    assert "shared.csv" in history and "private.csv" not in history
    worklist = client.get(reverse("predictions:cases")).content.decode()
    assert str(shared.record.uuid) in worklist and str(private.record.uuid) not in worklist
    assert selectors.doctor_case_list(doctor=doctor)[0]["record_count"] == 1
    assert [p["record"] for p in selectors.patient_trends(user=doctor, patient=patient)] == [str(shared.record.uuid)]
    api = APIClient()
    api.force_authenticate(doctor)
    listed = api.get(reverse("predictions-api:record-list"), {"patient": str(patient.public_id)}).json()
    assert [r["original_filename"] for r in listed["results"]] == ["shared.csv"]

    # Urgent news of an ECG the doctor does not see goes to the patient only.
    urgent_result_notify(prediction=private)
    assert not Notification.objects.filter(recipient=doctor).exists()
    urgent_result_notify(prediction=shared)
    assert Notification.objects.filter(recipient=doctor).count() == 1
    assert AuditEvent.objects.filter(object_type="record_share", action="share", patient=patient).count() == 1

    # Back to all: the private one is visible again.
    owner.post(reverse("accounts:care_link_scope", kwargs={"pk": link.pk}), {"scope": "all"})
    assert client.get(_doors(private.record)[0]).status_code == 200


def test_unsharing_and_bad_inputs(patient, doctor, other_patient):
    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient))
    link = CareLink.objects.get(patient=patient, doctor=doctor)
    owner = Client()
    owner.force_login(patient)
    scope_url = reverse("accounts:care_link_scope", kwargs={"pk": link.pk})
    assert owner.post(scope_url, {"scope": "everything"}).status_code == 302
    link.refresh_from_db()
    assert link.scope == "all"  # refused, with a message
    owner.post(scope_url, {"scope": "chosen"})
    share_url = reverse("predictions:record_doctors", kwargs={"uuid": prediction.record.uuid})
    owner.post(share_url, {"links": [str(link.pk)]})
    assert owner.post(share_url, {}).status_code == 302  # nothing ticked: unshared
    assert not prediction.record.shared_in.exists()
    assert owner.post(share_url, {"links": ["not-a-number"]}).status_code == 302
    assert not prediction.record.shared_in.exists()
    stranger = Client()
    stranger.force_login(other_patient)
    assert stranger.post(scope_url, {"scope": "all"}).status_code == 404
    assert stranger.post(share_url, {"links": [str(link.pk)]}).status_code == 404
    assert not prediction.record.shared_in.exists()
    doctor_client = Client()
    doctor_client.force_login(doctor)
    assert doctor_client.post(share_url, {"links": [str(link.pk)]}).status_code == 404
