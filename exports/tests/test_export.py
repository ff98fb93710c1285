"""A patient downloads everything about them as one archive, built by a Celery task, by an expiring link."""

import csv
import io
import json
import re
import zipfile
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle

from audit.models import AuditEvent
from exports.models import DataExport
from predictions.tests.factories import CSV_BYTES, DonePredictionFactory, ECGRecordFactory, ReviewFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(patient, doctor, client):
    """A patient with one reviewed result, a linked doctor who opened it."""
    record = ECGRecordFactory(owner=patient, original_filename="holter-day1.csv")
    prediction = DonePredictionFactory(record=record)
    ReviewFactory(prediction=prediction, doctor=doctor, doctor_name="Dora Doc", note="Two PVCs, benign.")
    client.force_login(doctor)
    assert client.get(reverse("predictions:detail", kwargs={"uuid": record.uuid})).status_code == 200
    client.logout()
    return record


def _export(client, user, django_capture_on_commit_callbacks):
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("exports:request"))
    assert response.status_code == 302
    return DataExport.objects.get(owner=user)


def test_the_export_is_built_emailed_and_holds_everything(client, patient, history, django_capture_on_commit_callbacks):
    export = _export(client, patient, django_capture_on_commit_callbacks)
    assert export.status == "ready"
    (message,) = [m for m in mail.outbox if patient.email in m.to]
    link = re.search(r"https?://\S+/my-data/\S+/", message.body).group(0)
    assert link.startswith("http://127.0.0.1:8000/") and str(export.uuid) in link
    response = client.get(link.replace("http://127.0.0.1:8000", ""))
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    folder = f"records/{history.uuid}"
    names = set(archive.namelist())
    assert {
        "README.txt", "profile.json", "care_links.json", "reviews.json", "audit_trail.csv",
        f"{folder}/original/holter-day1.csv", f"{folder}/result.json", f"{folder}/result.fhir.json", f"{folder}/report.pdf",
    } <= names
    assert archive.read(f"{folder}/original/holter-day1.csv") == CSV_BYTES
    assert archive.read(f"{folder}/report.pdf").startswith(b"%PDF")
    result = json.loads(archive.read(f"{folder}/result.json"))
    assert result["predictions"][0]["counts"] == {"N": 6, "V": 2}
    Bundle.model_validate_json(archive.read(f"{folder}/result.fhir.json"))
    assert json.loads(archive.read("reviews.json"))[0]["note"] == "Two PVCs, benign."
    assert json.loads(archive.read("care_links.json"))[0]["doctor"] == "Dora Doc"
    trail = list(csv.DictReader(io.StringIO(archive.read("audit_trail.csv").decode())))
    assert [(r["actor"], r["action"], r["object_id"]) for r in trail][:1] == [("Dora Doc", "view", str(history.uuid))]
    assert trail[-1]["action"] == "export"
    downloaded = AuditEvent.objects.filter(action="download", object_type="dataexport").get()
    assert (downloaded.actor, downloaded.patient, downloaded.door) == (patient, patient, "page")


def test_only_the_owner_can_download_the_export(client, patient, other_patient, doctor, history, django_capture_on_commit_callbacks):
    export = _export(client, patient, django_capture_on_commit_callbacks)
    url = reverse("exports:download", kwargs={"uuid": export.uuid})
    for outsider in (other_patient, doctor):
        client.force_login(outsider)
        assert client.get(url).status_code == 404
    assert not AuditEvent.objects.filter(action="download").exists()


def test_the_link_expires(client, patient, history, django_capture_on_commit_callbacks):
    export = _export(client, patient, django_capture_on_commit_callbacks)
    DataExport.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get(reverse("exports:download", kwargs={"uuid": export.uuid}))
    assert response.status_code == 410
    assert "expired" in response.content.decode()
    assert not AuditEvent.objects.filter(action="download").exists(), "nothing was downloaded"


def test_the_archive_holds_only_the_owners_data(client, patient, other_patient, history, django_capture_on_commit_callbacks):
    mine = ECGRecordFactory(owner=other_patient, original_filename="mine.csv")
    export = _export(client, other_patient, django_capture_on_commit_callbacks)
    archive = zipfile.ZipFile(export.file.open("rb"))
    names = archive.namelist()
    assert any("mine.csv" in n for n in names) and not any(str(history.uuid) in n for n in names)
    assert "Dora Doc" not in archive.read("audit_trail.csv").decode()
    assert str(mine.uuid) in archive.read(f"records/{mine.uuid}/result.json").decode()


def test_building_twice_builds_once(client, patient, history, django_capture_on_commit_callbacks):
    from exports.services import data_export_build

    export = _export(client, patient, django_capture_on_commit_callbacks)
    name = export.file.name
    data_export_build(export_id=export.pk)
    export.refresh_from_db()
    assert export.file.name == name
    assert AuditEvent.objects.filter(action="export").count() == 1
