"""Rough edges a new user met (issue 21), each with the test that would have caught it."""

import re

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import User
from predictions.models import ECGRecord
from predictions.tests.factories import DonePredictionFactory, ECGRecordFactory
from predictions.validation import ACCEPT, FORMATS

pytestmark = pytest.mark.django_db


def test_the_upload_page_names_the_formats_once_and_the_picker_takes_each(patient_client):
    html = patient_client.get(reverse("predictions:upload")).content.decode()
    assert html.count("WebP") == 1  # the format list is said once (the field's help), not twice differently
    accept = re.search(r'accept="([^"]+)"', html).group(1)
    assert accept == ACCEPT
    for suffix in (".mat", ".hea", ".dat", ".edf", ".bdf", ".csv", ".pdf", ".heic"):
        assert suffix in accept.split(","), suffix
    assert ".mat" in FORMATS and "BDF" in FORMATS


def test_a_wfdb_record_with_its_annotation_file_is_accepted(patient_client, wfdb_pair):
    hea, dat, _ = wfdb_pair
    files = [SimpleUploadedFile("x119.hea", hea), SimpleUploadedFile("x119.dat", dat),
             SimpleUploadedFile("x119.atr", b"\x00\x01" * 64)]
    response = patient_client.post(reverse("predictions:upload"), {"file": files})
    assert response.status_code == 302, response.content.decode()[:500]
    record = ECGRecord.objects.get()
    assert (record.original_filename, record.companion_filename) == ("x119.hea", "x119.dat")


def test_doctor_only_fields_at_sign_up_are_not_called_optional(client):
    html = client.get(reverse("account_signup")).content.decode()
    label = re.search(r'for="id_licence_number">(.*?)</label>', html, re.S).group(1)
    assert "(required for doctors)" in label and "(optional)" not in label


def test_the_admin_index_shows_doctors_waiting_for_verification(client):
    admin = User.objects.create_superuser(email="root@example.org", password="a-long-password-1")
    User.objects.create_user(email="doc@example.org", password="a-long-password-1", role=User.Role.DOCTOR,
                             licence_number="123")
    client.force_login(admin)
    html = client.get(reverse("admin:index")).content.decode()
    assert 'id="doctors-waiting"' in html and "1 doctor waiting for verification" in html
    assert "verification=pending" in html


def test_a_single_beat_picture_is_not_drawn_on_scaled_paper(patient_client, patient):
    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient, input_kind="image", file_format="png"),
                                       signal_fs=100.0)
    prediction.summary = {**prediction.summary, "kind": "image-beat"}
    prediction.signal.save("signal.npy", ContentFile(b"x"), save=False)  # the page only needs it to exist
    prediction.save()
    html = patient_client.get(reverse("predictions:detail", kwargs={"uuid": prediction.record.uuid})).content.decode()
    assert 'data-scale-known="false"' in html and "The picture has no scale" in html


def test_the_trace_window_gives_every_lead_when_asked_and_gaps_as_null(patient_client, patient):
    import io

    import numpy as np

    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient), signal_fs=100.0)
    prediction.summary = {**prediction.summary, "lead_names": ["I", "II", "V1"]}
    leads = np.vstack([np.zeros(1000), np.ones(1000), np.full(1000, np.nan)]).astype(np.float16)
    for field, data in (("signal", np.zeros(1000, np.float16)), ("leads_signal", leads)):
        buffer = io.BytesIO()
        np.save(buffer, data)
        getattr(prediction, field).save(f"{field.split('_')[0]}.npy", ContentFile(buffer.getvalue()), save=False)
    prediction.save()
    url = reverse("predictions:trace", kwargs={"uuid": prediction.record.uuid})
    assert "leads" not in patient_client.get(url, {"end": 2}).json()
    window = patient_client.get(url, {"end": 2, "leads": "all"}).json()
    assert [lead["name"] for lead in window["leads"]] == ["I", "II", "V1"]
    assert window["leads"][1]["values"][:3] == [1.0, 1.0, 1.0] and set(window["leads"][2]["values"]) == {None}
    html = patient_client.get(reverse("predictions:detail", kwargs={"uuid": prediction.record.uuid})).content.decode()
    assert "All 3 leads" in html
