"""A doctor's review counts: relabelled beats (one, a selection, a whole shape), confirmed,
rejected and added findings, the rhythm corrected. The reviewed reading is what the page, the
counts, the viewer, the PDF, FHIR and the API show from then on; the model's own stays visible.
Also the worklist (results, urgent first) and symptoms reported at upload."""

import io

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from ml import assessment as clinical
from predictions import selectors, services
from predictions.models import Prediction
from predictions.tests.factories import DonePredictionFactory, ECGRecordFactory, ReviewFactory

pytestmark = pytest.mark.django_db

FS = 360.0
PEAKS = [100, 400, 700, 1000, 1300, 1600, 1900, 2200]


def _with_signal(prediction):
    """Store a signal with two beat shapes: narrow upright (beats 1, 2, 4, 5, 7, 8) and wide
    inverted (beats 3 and 6), as the factory's labels say."""
    t = np.arange(2400) / FS
    x = np.zeros_like(t)
    for i, p in enumerate(PEAKS):
        if prediction.beats["labels"][i] == "V":
            x -= 1.5 * np.exp(-((t - p / FS) / 0.035) ** 2)
        else:
            x += 1.0 * np.exp(-((t - p / FS) / 0.010) ** 2)
    buffer = io.BytesIO()
    np.save(buffer, x.astype(np.float16))
    prediction.signal.save("signal.npy", ContentFile(buffer.getvalue()), save=False)
    prediction.signal_fs = FS
    prediction.save()
    return prediction


def _detail(client, prediction):
    return client.get(reverse("predictions:detail", kwargs={"uuid": prediction.record.uuid})).content.decode()


def _review(client, prediction, data):
    return client.post(reverse("predictions:review", kwargs={"uuid": prediction.record.uuid}), data)


def test_relabelled_beats_change_counts_labels_and_the_reading_and_the_models_stays(client, patient, doctor):
    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient))
    assert prediction.level == "abnormal"  # 2 of 8 beats ventricular: frequent PVCs
    client.force_login(doctor)
    response = _review(client, prediction, {"verdict": "disagree", "beats": "3, 6", "corrected_code": "N",
                                            "note": "Both are aberrant normal beats."})
    assert response.status_code == 302
    prediction.refresh_from_db()
    assert prediction.beats["labels"] == ["N"] * 8 and prediction.beats["corrected"] == [2, 5]
    assert {c.code: c.count for c in prediction.beat_counts.all()} == {"N": 8}
    assert clinical.PVC[0] not in {f["code"] for f in prediction.assessment["findings"]}
    assert prediction.level == "normal" and prediction.reviewed_by == "Dora Doc"
    assert prediction.model_reading["counts"] == {"N": 6, "V": 2}
    assert prediction.model_reading["assessment"]["level"] == "abnormal"
    html = _detail(client, prediction)
    assert 'id="reading-reviewed"' in html and "The model's own reading was" in html
    assert 'id="model-counts"' in html and "V&nbsp;2" in html


def test_a_later_review_builds_on_the_model_not_on_the_previous_review(client, patient, doctor):
    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient))
    client.force_login(doctor)
    _review(client, prediction, {"verdict": "disagree", "beats": "3", "corrected_code": "N"})
    _review(client, prediction, {"verdict": "disagree", "beats": "3-4", "corrected_code": "A"})
    prediction.refresh_from_db()
    assert prediction.beats["labels"][:4] == ["N", "N", "A", "A"] and prediction.beats["labels"][5] == "V"
    assert prediction.model_reading["labels"] == ["N", "N", "V", "N", "N", "V", "N", "N"]


def test_every_beat_of_a_shape_is_relabelled_at_once(client, patient, doctor):
    prediction = _with_signal(DonePredictionFactory(record=ECGRecordFactory(owner=patient)))
    families = selectors.beat_families(prediction=prediction)
    assert [f["size"] for f in families] == [6, 2] and families[1]["indices"] == [2, 5]
    assert families[1]["labels"] == "V 2"
    client.force_login(doctor)
    html = _detail(client, prediction)
    assert "Shape 2: 2 beats (V 2)" in html
    assert _review(client, prediction, {"verdict": "disagree", "family": "1", "corrected_code": "E"}).status_code == 302
    prediction.refresh_from_db()
    assert {c.code: c.count for c in prediction.beat_counts.all()} == {"N": 6, "E": 2}
    assert prediction.reviews.get().beat_indices == [2, 5]
    window = client.get(reverse("predictions:trace", kwargs={"uuid": prediction.record.uuid})).json()
    assert [b["code"] for b in window["beats"]] == ["N", "N", "E", "N", "N", "E", "N", "N"]


def test_findings_are_confirmed_rejected_added_and_the_rhythm_corrected(client, patient, doctor):
    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient))
    pvc = clinical.Finding.from_dict(next(f for f in prediction.assessment["findings"] if f["code"] == clinical.PVC[0]))
    client.force_login(doctor)
    html = _detail(client, prediction)
    assert 'id="review-findings"' in html
    index = [f["code"] for f in prediction.assessment["findings"]].index(pvc.code)
    response = _review(client, prediction, {"verdict": "disagree", f"finding_{index}": "rejected",
                                            "rhythm": clinical.ATRIAL_FIBRILLATION[0],
                                            "added_findings": ["164931005"]})
    assert response.status_code == 302
    prediction.refresh_from_db()
    codes = {f["code"]: f for f in prediction.assessment["findings"]}
    assert pvc.code not in codes and codes[clinical.ATRIAL_FIBRILLATION[0]]["reviewed"] == "added"
    assert prediction.level == "urgent"  # the doctor's STEMI
    assert [f["code"] for f in prediction.assessment["review"]["rejected"]] == [pvc.code]
    html = _detail(client, prediction)
    assert "added by the doctor" in html and "not confirmed by the doctor: Premature ventricular" in html


def test_bad_review_inputs_are_refused_with_a_reason_and_save_nothing(client, patient, doctor):
    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient))
    client.force_login(doctor)
    cases = [
        ({"verdict": "disagree", "corrected_code": "A"}, "Say which beats to relabel"),
        ({"verdict": "disagree", "beats": "0", "corrected_code": "A"}, "outside them"),
        ({"verdict": "disagree", "beats": "2-", "corrected_code": "A"}, "is not a beat number"),
        ({"verdict": "agree", "rhythm": "12345"}, "Select a valid choice"),
        ({"verdict": "agree", "added_findings": ["12345"]}, "Select a valid choice"),
        ({"verdict": "agree", "family": "7", "corrected_code": "A"}, "Select a valid choice"),
    ]
    for data, message in cases:
        response = _review(client, prediction, data)
        assert response.status_code == 400 and message in response.content.decode(), data
    prediction.refresh_from_db()
    assert not prediction.reviews.exists() and prediction.reviewed_at is None and not prediction.model_reading


def test_only_a_linked_doctor_reviews(client, patient, doctor, other_patient):
    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=other_patient))
    client.force_login(doctor)
    assert _review(client, prediction, {"verdict": "agree"}).status_code == 404
    client.force_login(patient)
    own = DonePredictionFactory(record=ECGRecordFactory(owner=patient))
    assert _review(client, own, {"verdict": "agree"}).status_code == 404
    assert not own.reviews.exists()


def test_a_complete_review_lets_a_12_lead_reading_be_normal_and_every_surface_says_so(client, patient, doctor):
    from ml.twelve_lead import TwelveLeadReading

    twelve = TwelveLeadReading(findings=[], measurements={"qrs_ms": 90}, not_assessed=[], assessed=("st",), per_lead={})
    reading = clinical.assess(kind="signal", n_leads=12, lead="II", duration_s=10, counts={"N": 8},
                              heart_rate={"mean": 72.0}, rhythm={"label": "normal", "probability": 0.9},
                              twelve_lead=twelve).to_dict()
    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient), assessment=reading,
                                       level=reading["level"], counts={"N": 8},
                                       beats={"r_peaks": PEAKS, "labels": ["N"] * 8, "confidence": [0.99] * 8})
    assert prediction.level == "inconclusive"
    client.force_login(doctor)
    assert _review(client, prediction, {"verdict": "agree", "complete": "on"}).status_code == 302
    prediction.refresh_from_db()
    assert prediction.level == "normal"
    client.force_login(patient)
    api = client.get(reverse("predictions-api:record-result", kwargs={"uuid": prediction.record.uuid})).json()
    assert api["assessment"]["level"] == "normal" and api["assessment"]["review"]["complete"] is True
    assert "Reviewed by Dora Doc" in api["conclusion"]
    bundle = client.get(reverse("predictions:fhir", kwargs={"uuid": prediction.record.uuid})).json()
    report = bundle["entry"][0]["resource"]
    assert report["conclusion"].startswith("Normal reading") and "Reviewed by Dora Doc" in report["conclusion"]
    import pypdfium2

    pdf = pypdfium2.PdfDocument(client.get(reverse("predictions:report", kwargs={"uuid": prediction.record.uuid})).content)
    text = " ".join(" ".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf))).split())
    assert "Clinical reading: Normal reading" in text and "Reviewed by Dora Doc" in text


def test_the_worklist_lists_results_urgent_first_with_why_and_steps_to_the_next(client, patient, doctor):
    def reading(counts, rhythm=None):
        return clinical.assess(kind="signal", lead="MLII", duration_s=1800, counts=counts,
                               heart_rate={"mean": 72.0}, rhythm=rhythm).to_dict()

    vf = clinical.assess(kind="image-beat", counts={"VF": 1}, single_beat_label="VF").to_dict()
    normal = DonePredictionFactory(record=ECGRecordFactory(owner=patient, original_filename="normal.csv"),
                                   assessment=reading({"N": 100}, {"label": "normal"}), level="normal")
    abnormal = DonePredictionFactory(record=ECGRecordFactory(owner=patient, original_filename="pvc.csv"))
    urgent = DonePredictionFactory(record=ECGRecordFactory(owner=patient, original_filename="vf.png"),
                                   assessment=vf, level="urgent")
    assert normal.level == "normal" and urgent.level == "urgent"
    client.force_login(doctor)
    html = client.get(reverse("predictions:cases")).content.decode()
    order = [html.index(f'data-uuid="{p.record.uuid}"') for p in (urgent, abnormal, normal)]
    assert order == sorted(order)
    assert "Ventricular fibrillation or flutter" in html
    assert selectors.worklist_next(doctor=doctor, after=urgent) == abnormal
    # Reviewing moves a result out of "to review"; "Save and open the next case" goes there.
    response = _review(client, urgent, {"verdict": "agree", "then": "next"})
    assert response.status_code == 302 and str(abnormal.record.uuid) in response["Location"]
    html = client.get(reverse("predictions:cases")).content.decode()
    assert f'data-uuid="{urgent.record.uuid}"' not in html
    reviewed = client.get(reverse("predictions:cases"), {"state": "reviewed"}).content.decode()
    assert f'data-uuid="{urgent.record.uuid}"' in reviewed and "reviewed by Dora Doc" in reviewed
    only_normal = client.get(reverse("predictions:cases"), {"level": "normal"}).content.decode()
    assert f'data-uuid="{normal.record.uuid}"' in only_normal and f'data-uuid="{abnormal.record.uuid}"' not in only_normal


def test_the_worklist_never_lists_another_doctors_patients(client, doctor, other_patient):
    DonePredictionFactory(record=ECGRecordFactory(owner=other_patient, original_filename="secret.csv"))
    client.force_login(doctor)
    html = client.get(reverse("predictions:cases")).content.decode()
    assert "secret.csv" not in html and str(other_patient.email) not in html
    assert not selectors.worklist(doctor=doctor, state="all").filter(record__owner=other_patient).exists()


def test_symptoms_at_upload_are_stored_raise_an_abnormal_reading_and_reach_fhir(patient, patient_client, csv_bytes,
                                                                                doctor):
    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = patient_client.post(reverse("predictions:upload"), {
        "file": SimpleUploadedFile("strip.csv", csv_bytes, content_type="text/csv"), "symptoms": ["none", "chest_pain"]})
    assert bad.status_code == 400 and "cannot go with a symptom" in bad.content.decode()
    unknown = patient_client.post(reverse("predictions:upload"), {
        "file": SimpleUploadedFile("strip.csv", csv_bytes, content_type="text/csv"), "symptoms": ["hiccups"]})
    assert unknown.status_code == 400
    from predictions.models import ECGRecord

    assert not ECGRecord.objects.exists()
    record = ECGRecordFactory(owner=patient, symptoms=["chest_pain"])
    prediction = DonePredictionFactory(record=record, assessment=clinical.with_symptoms(
        DonePredictionFactory.build().assessment, record.symptoms))
    prediction.level = prediction.assessment["level"]
    prediction.save()
    assert prediction.level == "urgent"  # 2 of 8 beats ventricular, with chest pain
    html = _detail(patient_client, prediction)
    assert 'id="reading-symptoms"' in html and "You reported chest pain" in html
    bundle = patient_client.get(reverse("predictions:fhir", kwargs={"uuid": record.uuid})).json()
    surveys = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"
               and e["resource"].get("category", [{}])[0].get("coding", [{}])[0].get("code") == "survey"]
    assert [s["code"]["coding"][0]["code"] for s in surveys] == ["29857009"]
    from django.test import Client

    doctor_client = Client()
    doctor_client.force_login(doctor)
    worklist = doctor_client.get(reverse("predictions:cases")).content.decode()
    assert "Symptoms: chest pain" in worklist and "chest_pain" not in worklist


def test_the_worker_applies_the_symptoms_when_it_stores_the_reading(patient):
    from types import SimpleNamespace

    record = ECGRecordFactory(owner=patient, symptoms=["fainting"])
    prediction = Prediction.objects.create(record=record)  # pending, as the upload leaves it
    reading = DonePredictionFactory.build().assessment
    result = SimpleNamespace(counts={"N": 6, "V": 2}, r_peaks=PEAKS, labels=["N", "N", "V", "N", "N", "V", "N", "N"],
                             probabilities=[[0.9]] * 8, assessment=reading, representatives=[], model_version="m",
                             confidence=0.9, signal=None, fs=FS, to_dict=lambda: {"model_version": "m"})
    services.prediction_complete(prediction_id=prediction.pk, result=result)
    prediction.refresh_from_db()
    assert prediction.level == "urgent" and prediction.assessment["symptoms"] == ["fainting"]


def test_admin_metrics_give_doctor_model_agreement_per_class(client, patient, doctor):
    from usage.period import Period
    from usage.selectors import doctor_agreement

    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient))
    client.force_login(doctor)
    _review(client, prediction, {"verdict": "disagree", "beats": "3", "corrected_code": "N"})
    agreement = doctor_agreement(period=Period.last_days(7))
    rows = {r["code"]: r for r in agreement["classes"]}
    assert (rows["V"]["beats"], rows["V"]["kept"], rows["V"]["agreement"]) == (2, 1, 0.5)
    assert (rows["N"]["beats"], rows["N"]["kept"]) == (6, 6)
    assert agreement["reviewed_readings"] == 1
