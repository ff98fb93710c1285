"""One assessment, computed once and stored, shown the same on every surface: the result page, the
PDF, the FHIR bundle, the API, the history, the doctor's worklist and the data export."""

import json

import pytest
from django.urls import reverse

from ml.assessment import assess
from predictions.tests.factories import DonePredictionFactory, ECGRecordFactory, link

pytestmark = pytest.mark.django_db

AF = {"label": "atrial_fibrillation", "probability": 0.93, "model_version": "rhythm-test", "episodes": [
    {"start_s": 600.0, "end_s": 1320.0, "duration_s": 720.0}], "af_seconds": 720.0, "duration_s": 1800.0}


def _af_prediction(patient, *, rate=88.0):
    reading = assess(kind="signal", lead="MLII", n_leads=2, duration_s=1800, counts={"N": 2400},
                     heart_rate={"mean": rate}, rhythm=AF).to_dict()
    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient), assessment=reading,
                                       level=reading["level"], heart_rate_bpm=rate)
    prediction.summary = {**prediction.summary, "rhythm": AF, "duration_s": 1800}
    prediction.save()
    return prediction


def _pdf_text(client, prediction):
    import pypdfium2

    pdf = client.get(reverse("predictions:report", kwargs={"uuid": prediction.record.uuid}))
    doc = pypdfium2.PdfDocument(pdf.content)
    return " ".join(" ".join(doc[i].get_textpage().get_text_range() for i in range(len(doc))).split())


def test_the_page_leads_with_the_reading_its_findings_and_what_was_not_assessed(patient_client, patient):
    prediction = _af_prediction(patient)
    html = patient_client.get(reverse("predictions:detail", kwargs={"uuid": prediction.record.uuid})).content.decode()
    assert 'id="reading" data-level="abnormal"' in html
    assert html.index('id="reading"') < html.index('id="result-stats"')
    assert 'data-code="164889003"' in html  # atrial fibrillation, SNOMED CT
    assert "AF in 40 % of the recording (1 episode, longest 720 s)" in html
    assert 'data-goto-s="600.0"' in html  # the episode's time jumps the viewer there
    assert "ST segments and signs of a heart attack" in html
    assert "Mostly normal beats" not in html
    assert f'href="{reverse("articles:detail", args=["atrial-fibrillation-and-flutter"])}"' in html
    # One heart rate per result.
    assert "Heart rate 88/min" in html and ">88<span" in html


def test_the_pdf_fhir_api_and_export_carry_the_same_reading(patient_client, api, patient):
    prediction = _af_prediction(patient)
    text = _pdf_text(patient_client, prediction)
    assert "Clinical reading: Abnormal: a doctor should see it" in text
    assert "Atrial fibrillation burden" in text and "164889003" in text
    assert "Not assessed: ST segments and signs of a heart attack" in text
    assert text.index("Clinical reading") < text.index("Beats analysed")

    bundle = patient_client.get(reverse("predictions:fhir", kwargs={"uuid": prediction.record.uuid})).json()
    report = bundle["entry"][0]["resource"]
    assert report["resourceType"] == "DiagnosticReport"
    assert report["conclusion"].startswith("Abnormal: a doctor should see it. Atrial fibrillation burden (40 %)")
    assert {c["coding"][0]["code"] for c in report["conclusionCode"]} == {"164889003"}
    observations = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    loinc = {o["code"]["coding"][0]["code"]: o for o in observations if o["code"]["coding"][0]["system"] == "http://loinc.org"}
    assert loinc["8867-4"]["valueQuantity"]["value"] == 88
    af = [o for o in observations if o["code"]["coding"][0]["code"] == "164889003"]
    assert af and af[0]["interpretation"][0]["coding"][0]["code"] == "A"

    body = api.get(reverse("predictions-api:record-result", kwargs={"uuid": prediction.record.uuid})).json()
    assert body["assessment"] == prediction.assessment
    assert body["heart_rate_bpm"] == 88
    assert body["conclusion"] == report["conclusion"].split(" Automated screening")[0]
    listed = api.get(reverse("predictions-api:record-list"), {"level": "abnormal"}).json()
    assert [r["prediction"]["level"] for r in listed["results"]] == ["abnormal"]
    assert api.get(reverse("predictions-api:record-list"), {"level": "normal"}).json()["results"] == []


def test_the_history_and_the_worklist_show_the_level_urgent_first(client, patient, other_patient, doctor):
    _af_prediction(patient)
    other = other_patient
    link(patient=other, doctor=doctor)
    vf = assess(kind="image-beat", counts={"VF": 1}).to_dict()
    DonePredictionFactory(record=ECGRecordFactory(owner=other), assessment=vf, level=vf["level"])
    client.force_login(patient)
    history = client.get(reverse("predictions:history")).content.decode()
    assert 'data-level="abnormal"' in history and "Atrial fibrillation burden" in history
    client.force_login(doctor)
    cases = client.get(reverse("predictions:cases")).content.decode()
    assert cases.index(str(other.email)) < cases.index(str(patient.email))  # urgent first
    assert "1 urgent" in cases


def test_a_surface_that_drops_the_reading_would_be_caught(patient_client, patient):
    """The stored assessment is the only source: change it, and every surface follows."""
    prediction = _af_prediction(patient)
    prediction.assessment = {**prediction.assessment, "findings": [], "level": "normal"}
    prediction.level = "normal"
    prediction.save()
    html = patient_client.get(reverse("predictions:detail", kwargs={"uuid": prediction.record.uuid})).content.decode()
    assert 'data-code="164889003"' not in html and 'data-level="normal"' in html
    bundle = json.loads(patient_client.get(reverse("predictions:fhir", kwargs={"uuid": prediction.record.uuid})).content)
    assert "conclusionCode" not in bundle["entry"][0]["resource"]
    assert "Atrial fibrillation" not in _pdf_text(patient_client, prediction)


def test_the_pdf_of_a_12_lead_result_has_its_true_scale_12_lead_page(patient_client, patient):
    import io

    import numpy as np
    import pypdfium2
    from django.core.files.base import ContentFile

    from ml.twelve_lead import STANDARD_LEADS
    from predictions.plots import twelve_lead_png

    stemi = {"code": "164931005", "display": "ST elevation: STEMI criteria met", "severity": "urgent",
             "start_s": None, "end_s": None, "leads": ["V2", "V3"], "value": 0.3, "unit": "mV",
             "evidence": "ST elevation up to 3.0 mm at the J point in V2, V3", "unsure": False,
             "basis": "leads", "reviewed": ""}
    reading = {"level": "urgent", "findings": [stemi], "measurements": {"qrs_ms": 96, "axis_deg": 45},
               "not_assessed": []}
    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient), assessment=reading,
                                       level="urgent", signal_fs=250.0)
    prediction.summary = {**prediction.summary, "lead_names": list(STANDARD_LEADS)}
    t = np.arange(2500) / 250.0
    beat = np.exp(-((t % 1.0) - 0.5) ** 2 / 0.0002)
    for field, data in (("signal", beat), ("leads_signal", np.vstack([beat * (1 + i / 12) for i in range(12)]))):
        buffer = io.BytesIO()
        np.save(buffer, data.astype(np.float16))
        getattr(prediction, field).save(f"{field}.npy", ContentFile(buffer.getvalue()), save=False)
    prediction.save()

    pdf = patient_client.get(reverse("predictions:report", kwargs={"uuid": prediction.record.uuid}))
    doc = pypdfium2.PdfDocument(pdf.content)
    pages = [(doc[i].get_size(), " ".join(doc[i].get_textpage().get_text_range().split())) for i in range(len(doc))]
    twelve = [(size, text) for size, text in pages if "The 12 leads (25 mm/s, 10 mm/mV" in text]
    assert len(twelve) == 1
    (width, height), text = twelve[0]
    assert width > height  # landscape A4: the 260-mm print fits at true scale
    assert "ST elevation: STEMI criteria met (urgent)" in text and "QRS" in text
    assert all(w < h for (w, h), t in pages if t not in {text})  # every other page portrait
    # True scale: the picture is 260 x 120 mm (10.4 s x 25 mm/s; 4 rows of 3 mV x 10 mm/mV).
    _, (w_mm, h_mm) = twelve_lead_png({name: beat for name in STANDARD_LEADS}, fs=250.0)
    assert (w_mm, h_mm) == (260.0, 120.0)


def test_the_pdf_of_a_one_lead_result_has_no_12_lead_page(patient_client, patient):
    assert "The 12 leads" not in _pdf_text(patient_client, _af_prediction(patient))
