"""The REST API: upload, list with filters, detail, status, result, re-run, delete, files, PDF, reviews."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from predictions.throttles import UploadRateThrottle
from predictions.models import ECGRecord
from predictions.tests.conftest import media_files, upload
from predictions.tests.factories import DonePredictionFactory, ECGRecordFactory, PredictionFactory, PredictionImageFactory

pytestmark = pytest.mark.django_db


def test_upload_returns_the_record_and_links_to_follow(api, wfdb_uploads, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            reverse("predictions-api:record-list"),
            {"file": wfdb_uploads, "lead": "MLII", "note": "holter"},
            format="multipart",
        )
    assert response.status_code == 201, response.content
    body = response.json()
    record = ECGRecord.objects.get()
    assert body["uuid"] == str(record.uuid) and response["Location"] == body["links"]["detail"]
    assert body["file_format"] == "wfdb" and body["original_filename"] == "x119.hea"
    assert body["prediction"]["status"] in ("pending", "done")

    status = api.get(body["links"]["status"]).json()
    assert status["status"] == "done" and status["is_finished"] is True
    result = api.get(body["links"]["result"]).json()
    assert result["status"] == "done" and result["model_version"] == "stub-1"
    assert sum(result["counts"].values()) == result["beat_total"] == len(result["beats"]["labels"])
    assert result["counts"]["V"] > 0 and result["heart_rate"]["mean"] > 0
    assert {im["kind"] for im in result["images"]} == {"spectral", "saliency"}  # the trace is drawn by the page
    assert "not a diagnosis" in result["disclaimer"]
    image = api.get(result["images"][0]["url"])
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    pdf = api.get(body["links"]["report"])
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    file = api.get(body["links"]["file"])
    assert b"".join(file.streaming_content).startswith(b"x119 2 360")
    data = api.get(body["links"]["file"] + "?part=data")
    assert data.status_code == 200 and data["Content-Disposition"].endswith('filename="x119.dat"')


def test_result_is_409_until_finished(api, patient):
    prediction = PredictionFactory(record=ECGRecordFactory(owner=patient))
    response = api.get(reverse("predictions-api:record-result", kwargs={"uuid": prediction.record.uuid}))
    assert response.status_code == 409 and response.json()["status"] == "pending"


def test_list_filters_and_paginates(api, patient, other_patient):
    DonePredictionFactory(record=ECGRecordFactory(owner=patient, original_filename="v.csv"), counts={"N": 3, "V": 2})
    PredictionFactory(record=ECGRecordFactory(owner=patient, original_filename="waiting.csv", note="night"))
    ECGRecordFactory(owner=other_patient)
    url = reverse("predictions-api:record-list")
    body = api.get(url).json()
    assert body["count"] == 2 and [r["original_filename"] for r in body["results"]] == ["waiting.csv", "v.csv"]
    assert [r["original_filename"] for r in api.get(url, {"code": "V"}).json()["results"]] == ["v.csv"]
    assert [r["original_filename"] for r in api.get(url, {"status": "pending"}).json()["results"]] == ["waiting.csv"]
    assert [r["original_filename"] for r in api.get(url, {"q": "night"}).json()["results"]] == ["waiting.csv"]
    assert api.get(url, {"status": "nonsense"}).status_code == 400


def test_a_doctor_lists_a_linked_patients_records(patient, doctor):
    ECGRecordFactory(owner=patient, original_filename="theirs.csv")
    api = APIClient()
    api.force_authenticate(doctor)
    body = api.get(reverse("predictions-api:record-list"), {"patient": str(patient.public_id)}).json()
    assert [r["original_filename"] for r in body["results"]] == ["theirs.csv"]
    assert body["results"][0]["owner"] == str(patient.public_id)  # never the sequential user id
    assert api.get(reverse("predictions-api:record-list"), {"patient": patient.pk}).status_code == 404
    assert api.get(reverse("predictions-api:record-list")).json()["count"] == 0


def test_rerun_and_delete(api, patient, settings, django_capture_on_commit_callbacks):
    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient))
    PredictionImageFactory(prediction=prediction)
    uuid = prediction.record.uuid
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(reverse("predictions-api:record-rerun", kwargs={"uuid": uuid}))
    assert response.status_code == 202
    assert prediction.record.predictions.count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(reverse("predictions-api:record-detail", kwargs={"uuid": uuid})).status_code == 204
    assert not ECGRecord.objects.exists() and media_files(settings) == []
    assert api.get(reverse("predictions-api:record-detail", kwargs={"uuid": uuid})).status_code == 404


def test_a_linked_doctor_posts_a_review(patient, doctor):
    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient))
    api = APIClient()
    api.force_authenticate(doctor)
    url = reverse("predictions-api:record-reviews", kwargs={"uuid": prediction.record.uuid})
    assert api.post(url, {"verdict": "disagree", "beat_indices": [2]}, format="json").status_code == 400
    assert api.post(url, {"verdict": "disagree", "beat_indices": [99], "corrected_code": "A"}, format="json").status_code == 400
    assert api.post(url, {"verdict": "agree", "finding_decisions": {"nope": "confirmed"}}, format="json").status_code == 400
    response = api.post(url, {"verdict": "disagree", "beat_indices": [2], "corrected_code": "A", "note": "atrial"}, format="json")
    assert response.status_code == 201 and response.json()["doctor_name"] == "Dora Doc"
    patient_api = APIClient()
    patient_api.force_authenticate(patient)
    assert patient_api.get(url).json()[0]["corrected_code"] == "A"


def test_uploads_are_rate_limited(api, csv_bytes, monkeypatch):
    monkeypatch.setattr(UploadRateThrottle, "THROTTLE_RATES", {**UploadRateThrottle.THROTTLE_RATES, "uploads": "2/hour"})
    url = reverse("predictions-api:record-list")
    # Three different files (the same one again within a minute would be the same ECG).
    codes = [api.post(url, {"file": [upload("a.csv", csv_bytes + b"\n" * i)]}, format="multipart").status_code
             for i in range(3)]
    assert codes == [201, 201, 429]
    assert api.get(url).status_code == 200  # reading is not limited by the upload scope


def test_token_authentication_works(patient):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=patient)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get(reverse("predictions-api:record-list")).status_code == 200


def test_the_openapi_schema_documents_and_validates_the_endpoints(client):
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)
    ours = [m for m in list(GENERATOR_STATS._warn_cache) + list(GENERATOR_STATS._error_cache) if "predictions" in m]
    assert ours == []
    paths = schema["paths"]
    for path in ("/api/v1/records/", "/api/v1/records/{uuid}/status/", "/api/v1/records/{uuid}/result/", "/api/v1/records/{uuid}/report/"):
        assert path in paths, path
    assert "multipart/form-data" in paths["/api/v1/records/"]["post"]["requestBody"]["content"]
    assert "400" in paths["/api/v1/records/"]["post"]["responses"]
    assert client.get(reverse("api-schema")).status_code == 200
