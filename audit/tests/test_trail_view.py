""""Who has seen my ECGs" in words: one row per visit, the ECG by its name, others only on request."""

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from predictions.tests.factories import DonePredictionFactory, ECGRecordFactory, PredictionImageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(db):
    from accounts.tests.factories import UserFactory

    return UserFactory(first_name="Pat", last_name="Ient")


def _visit(client, prediction, images):
    record = prediction.record
    client.get(reverse("predictions:detail", kwargs={"uuid": record.uuid}))
    for image in images:
        client.get(reverse("predictions:image", kwargs={"uuid": record.uuid, "image_id": image.pk}))
    client.get(reverse("predictions:status", kwargs={"uuid": record.uuid}))


def test_a_visit_is_one_row_naming_the_ecg_and_others_only_hides_mine(patient, client):
    from accounts.tests.factories import DoctorFactory
    from predictions.tests.factories import link

    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient, original_filename="holter-monday.csv"))
    images = [PredictionImageFactory(prediction=prediction, kind="spectral", beat_index=i) for i in range(3)]
    client.force_login(patient)
    _visit(client, prediction, images)
    doctor = DoctorFactory(first_name="Dora", last_name="Doc")
    link(patient=patient, doctor=doctor)
    other = Client()
    other.force_login(doctor)
    _visit(other, prediction, images)
    assert AuditEvent.objects.filter(patient=patient, object_type__in=("ecgrecord", "predictionimage")).count() >= 10

    html = client.get(reverse("accounts:profile")).content.decode()
    rows = html.split('class="trail-row"')[1:]
    ecg_rows = [r for r in rows if "holter-monday.csv" in r]
    assert len(ecg_rows) == 2  # my visit and the doctor's, each one row
    assert "reads in one visit" in ecg_rows[0] and "Dora Doc" in ecg_rows[0] and "You" in ecg_rows[1]
    assert "predictionimage" not in html and "ecgrecord" not in html

    others = client.get(reverse("accounts:profile"), {"trail": "others"}).content.decode()
    assert "Dora Doc" in others and ">You<" not in others and "Showing others only" in others


def test_a_share_link_open_says_so_with_its_address(patient, client):
    from predictions import services

    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient, original_filename="for-the-clinic.csv"))
    _, token, _ = services.share_link_create(owner=patient, records=[prediction.record])
    Client(REMOTE_ADDR="198.51.100.7").get(reverse("shared:open", kwargs={"token": token}))
    client.force_login(patient)
    html = client.get(reverse("accounts:profile"), {"trail": "others"}).content.decode()
    assert "Someone with your share link" in html and "for-the-clinic.csv, through a share link" in html
    assert "198.51.100.7" in html
