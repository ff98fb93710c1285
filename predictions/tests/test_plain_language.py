"""The words a patient reads first: what was seen, and how soon to see a doctor."""

import pytest
from django.urls import reverse

from predictions.plain_language import explain
from predictions.tests.factories import DonePredictionFactory, ECGRecordFactory


def test_a_normal_strip_reassures_without_diagnosing():
    words = explain(heart_rate={"mean": 71.8, "median": 72, "low": 66, "high": 78}, counts={"N": 80}, rhythm_label="normal")
    assert words.sentences[0].startswith("Your heart beat about 72 times a minute (most beats between 66 and 78)")
    assert "regular" in " ".join(words.sentences)
    assert not words.urgent and "Nothing here needs urgent attention" in words.advice


def test_a_few_pvcs_are_explained_in_lay_words():
    words = explain(heart_rate={"mean": 70}, counts={"N": 594, "V": 6})
    text = " ".join(words.sentences)
    assert "6 extra beats from the lower chambers (premature ventricular contractions, PVCs)" in text
    assert "about 1 in every 100 beats" in text and "often harmless" in text


def test_atrial_fibrillation_asks_for_a_doctor_and_vf_for_an_emergency():
    af = explain(heart_rate={"mean": 96}, counts={"N": 100}, rhythm_label="atrial_fibrillation")
    assert "atrial fibrillation (AF)" in " ".join(af.sentences) and "doctor" in af.advice and not af.urgent
    vf = explain(heart_rate=None, counts={"VF": 12})
    assert vf.urgent and "emergency number" in vf.advice


@pytest.mark.django_db
def test_the_result_page_and_the_api_say_it_first(patient_client, patient, api):
    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient))
    html = patient_client.get(reverse("predictions:detail", kwargs={"uuid": prediction.record.uuid})).content.decode()
    assert 'id="what-it-means"' in html and "2 extra beats from the lower chambers" in html
    assert html.index('id="what-it-means"') < html.index('id="result-stats"')
    body = api.get(reverse("predictions-api:record-result", kwargs={"uuid": prediction.record.uuid})).json()
    assert body["plain_language"]["advice"] and "Your heart beat about 71 times a minute" in body["plain_language"]["sentences"][0]
