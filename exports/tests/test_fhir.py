"""The FHIR R4 export of a result: every resource validates, and it parses back to the same numbers."""

import json

import pytest
from django.urls import reverse
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from rest_framework.test import APIClient

from exports import fhir
from predictions.tests.factories import DonePredictionFactory, ECGRecordFactory, ReviewFactory

pytestmark = pytest.mark.django_db

RHYTHM = {
    "label": "atrial_fibrillation",
    "probability": 0.87,
    "episodes": [{"start_s": 12.0, "end_s": 48.5, "duration_s": 36.5}],
}


@pytest.fixture
def finished(patient):
    record = ECGRecordFactory(owner=patient)
    prediction = DonePredictionFactory(record=record)
    prediction.summary = {**prediction.summary, "rhythm": RHYTHM}
    prediction.save(update_fields=["summary"])
    return record, prediction


def _bundle(record, prediction):
    return json.loads(fhir.result_bundle_json(record=record, prediction=prediction, base_url="https://ecg.example.org/"))


def _resources(bundle, kind):
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_every_exported_resource_validates_against_fhir_r4(finished, doctor):
    record, prediction = finished
    ReviewFactory(prediction=prediction, doctor=doctor, doctor_name="Dora Doc")
    bundle = _bundle(record, prediction)
    Bundle.model_validate(bundle)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert sorted(set(kinds)) == ["DiagnosticReport", "DocumentReference", "Observation", "Patient", "Practitioner"]
    for entry in bundle["entry"]:
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])
    assert len({e["fullUrl"] for e in bundle["entry"]}) == len(bundle["entry"])


def test_the_patient_resource_carries_sex_and_birth_date_when_stated(finished):
    import datetime

    from fhir.resources.R4B.patient import Patient

    record, prediction = finished
    assert "gender" not in _resources(_bundle(record, prediction), "Patient")[0]
    owner = record.owner
    owner.sex, owner.birth_date = "F", datetime.date(1960, 5, 2)
    owner.save(update_fields=["sex", "birth_date"])
    patient = _resources(_bundle(record, prediction), "Patient")[0]
    Patient.model_validate(patient)
    assert (patient["gender"], patient["birthDate"]) == ("female", "1960-05-02")


def test_a_round_trip_gives_back_the_heart_rate_counts_and_findings(finished):
    record, prediction = finished
    parsed = Bundle.model_validate(_bundle(record, prediction))
    resources = [get_fhir_model_class(e.resource.get_resource_type()).model_validate(e.resource.model_dump()) for e in parsed.entry]
    observations = [r for r in resources if r.get_resource_type() == "Observation"]
    by_code = {}
    for obs in observations:
        coding = obs.code.coding[0]
        by_code[(coding.system, coding.code)] = obs
    heart_rate = by_code[("http://loinc.org", "8867-4")]
    assert float(heart_rate.valueQuantity.value) == 72.0 and heart_rate.valueQuantity.code == "/min"
    counts = {code: obs.valueInteger for (system, code), obs in by_code.items() if system == fhir.BEAT_CLASS_SYSTEM}
    assert counts == {"N": 6, "V": 2}
    rhythm = by_code[("http://loinc.org", "8884-9")]
    assert rhythm.valueCodeableConcept.coding[0].code == "atrial_fibrillation"
    episode = next(c for c in rhythm.component if c.valueRange is not None)
    assert (float(episode.valueRange.low.value), float(episode.valueRange.high.value)) == (12.0, 48.5)
    report = next(r for r in resources if r.get_resource_type() == "DiagnosticReport")
    assert report.status == "final" and report.code.coding[0].code == "11524-6"
    # Heart rate (LOINC), the finding (SNOMED CT), two beat counts, the rhythm.
    assert len(report.result) == len(observations) == 5
    pvc = by_code[("http://snomed.info/sct", "427172004")]
    assert pvc.interpretation[0].coding[0].code == "A" and int(pvc.valueQuantity.value) == 2
    assert [c.coding[0].code for c in report.conclusionCode] == ["427172004"]
    assert "Premature ventricular" in report.conclusion and "not a diagnosis" in report.conclusion
    assert not any(r.get_resource_type() == "Practitioner" for r in resources), "no review, no practitioner"


def test_the_original_file_is_referenced_with_its_size_and_hash(finished):
    import base64
    import hashlib

    record, prediction = finished
    document = _resources(_bundle(record, prediction), "DocumentReference")[0]
    attachment = document["content"][0]["attachment"]
    data = record.file.open("rb").read()
    assert attachment["size"] == len(data)
    assert attachment["hash"] == base64.b64encode(hashlib.sha1(data).digest()).decode()  # noqa: S324
    assert attachment["url"] == f"https://ecg.example.org/api/v1/records/{record.uuid}/file/"
    assert "data" not in attachment


def test_a_result_without_a_rhythm_finding_has_no_rhythm_observation(patient):
    record = ECGRecordFactory(owner=patient)
    prediction = DonePredictionFactory(record=record)
    codes = [o["code"]["coding"][0]["code"] for o in _resources(_bundle(record, prediction), "Observation")]
    assert "8884-9" not in codes and "8867-4" in codes


def test_the_api_serves_the_bundle_as_fhir_json(finished, doctor):
    record, prediction = finished
    ReviewFactory(prediction=prediction, doctor=doctor, doctor_name="Dora Doc")
    api = APIClient()
    api.force_authenticate(doctor)
    response = api.get(reverse("predictions-api:record-fhir", kwargs={"uuid": record.uuid}))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    bundle = Bundle.model_validate_json(response.content)
    practitioner = next(e.resource for e in bundle.entry if e.resource.get_resource_type() == "Practitioner")
    assert practitioner.name[0].text == "Dora Doc"


def test_the_result_page_offers_the_bundle_for_download(patient_client, finished):
    record, _ = finished
    page = patient_client.get(reverse("predictions:detail", kwargs={"uuid": record.uuid})).content.decode()
    url = reverse("predictions:fhir", kwargs={"uuid": record.uuid})
    assert url in page
    response = patient_client.get(url)
    assert response["Content-Type"] == "application/fhir+json"
    assert "attachment" in response["Content-Disposition"]
    Bundle.model_validate_json(response.content)


def test_another_patient_gets_404_for_the_bundle(client, finished, other_patient):
    record, _ = finished
    client.force_login(other_patient)
    assert client.get(reverse("predictions:fhir", kwargs={"uuid": record.uuid})).status_code == 404
    api = APIClient()
    api.force_authenticate(other_patient)
    assert api.get(reverse("predictions-api:record-fhir", kwargs={"uuid": record.uuid})).status_code == 404


