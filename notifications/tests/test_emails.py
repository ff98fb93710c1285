"""People are told by email when something happens to their records (over a real SMTP server)."""

import pytest
from django.urls import reverse

from accounts.models import CareLink
from accounts.tests.factories import DoctorFactory, UserFactory
from accounts.tests.mailbox import body_of, link_in
from audit.models import AuditEvent
from predictions.tests.factories import DonePredictionFactory, ECGRecordFactory

pytestmark = pytest.mark.django_db


def test_the_doctor_is_told_of_a_patients_invitation_and_the_patient_of_the_answer(
    client, mailbox, django_capture_on_commit_callbacks
):
    patient = UserFactory(first_name="Pat", last_name="Ient", email="pat@example.org")
    doctor = DoctorFactory(email="dora@clinic.example", last_name="Doc")
    client.force_login(patient)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:care_team"), {"doctor_email": "dora@clinic.example"})
    message = mailbox.last_to("dora@clinic.example")
    assert "invites you to see their ECG records" in message["Subject"]
    assert "Pat Ient" in body_of(message)
    client.force_login(doctor)
    assert client.get(link_in(message, "/profile/care-team/").split("127.0.0.1:8000", 1)[1]).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:care_link_accept", args=[CareLink.objects.get().pk]))
    assert "accepted your invitation" in mailbox.last_to("pat@example.org")["Subject"]
    assert "Doc" in body_of(mailbox.last_to("pat@example.org"))
    share = AuditEvent.objects.get(action="share")
    assert (share.actor, share.patient, share.object_type) == (patient, patient, "carelink")


def test_the_doctor_is_told_when_the_patient_accepts_their_request(client, mailbox, django_capture_on_commit_callbacks):
    patient, doctor = UserFactory(email="pat@example.org"), DoctorFactory(email="house@clinic.example")
    client.force_login(doctor)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:care_team"), {"patient_email": "pat@example.org"})
    assert "asks to see your ECG records" in body_of(mailbox.last_to("pat@example.org"))
    assert mailbox.to("house@clinic.example", timeout=0.2) == [], "nothing is shared yet"
    client.force_login(patient)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:care_link_accept", args=[CareLink.objects.get().pk]))
    assert "shared their ECG records" in mailbox.last_to("house@clinic.example")["Subject"]


def test_the_patient_is_told_when_a_doctor_reviews_a_result(client, mailbox, patient, doctor, django_capture_on_commit_callbacks):
    record = ECGRecordFactory(owner=patient, original_filename="strip.csv")
    DonePredictionFactory(record=record)
    client.force_login(doctor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("predictions:review", kwargs={"uuid": record.uuid}), {"verdict": "agree", "note": "Fine."})
    assert response.status_code == 302
    message = mailbox.last_to(patient.email)
    assert "reviewed your ECG result" in message["Subject"]
    assert "Dora Doc reviewed the result of strip.csv" in body_of(message)
    assert f"/records/{record.uuid}/" in link_in(message, "/records/")


def test_the_patient_is_told_when_their_export_is_ready(client, mailbox, patient, django_capture_on_commit_callbacks):
    client.force_login(patient)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("exports:request"))
    message = mailbox.last_to(patient.email)
    assert "export is ready" in message["Subject"]
    url = link_in(message, "/my-data/")
    assert client.get(url.split("127.0.0.1:8000", 1)[1]).status_code == 200


def test_a_failed_review_sends_nothing(client, mailbox, patient, doctor, django_capture_on_commit_callbacks):
    record = ECGRecordFactory(owner=patient)
    DonePredictionFactory(record=record)
    client.force_login(doctor)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("predictions:review", kwargs={"uuid": record.uuid}), {"verdict": "nonsense"})
    assert mailbox.to(patient.email, timeout=0.3) == []


def test_a_review_through_the_api_tells_the_patient_too(patient, doctor, django_capture_on_commit_callbacks):
    from django.core import mail
    from rest_framework.test import APIClient

    record = ECGRecordFactory(owner=patient)
    DonePredictionFactory(record=record)
    api = APIClient()
    api.force_authenticate(doctor)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(reverse("predictions-api:record-reviews", kwargs={"uuid": record.uuid}), {"verdict": "agree"}, format="json")
    assert response.status_code == 201
    assert [m.subject for m in mail.outbox if patient.email in m.to] == ["[ECG Portal] A doctor reviewed your ECG result"]


def test_the_owner_is_told_when_a_slow_analysis_finishes(client, mailbox, patient, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    from notifications.models import EmailOptOut, Notification
    from predictions import services as prediction_services
    from predictions.tests.factories import PredictionFactory

    record = ECGRecordFactory(owner=patient, original_filename="night.edf")
    prediction = PredictionFactory(record=record, created_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        prediction_services.prediction_start(prediction_id=prediction.pk, task_id="t1")
        prediction_services.prediction_mark_inconclusive(prediction_id=prediction.pk, reason="Too noisy to read.")
    message = mailbox.last_to(patient.email)
    assert "could not be analysed" in message["Subject"]
    assert "night.edf could not be read as a usable ECG: Too noisy to read." in body_of(message)
    assert Notification.objects.get(recipient=patient).kind == "analysis_finished"
    client.force_login(patient)
    assert client.get(link_in(message, "/records/").split("127.0.0.1:8000", 1)[1]).status_code == 200
    client.logout()
    # The unsubscribe link at the foot of the email works without signing in.
    assert client.post(link_in(message, "/unsubscribe/").split("127.0.0.1:8000", 1)[1]).status_code == 200
    assert EmailOptOut.objects.filter(user=patient, kind="analysis_finished").exists()
