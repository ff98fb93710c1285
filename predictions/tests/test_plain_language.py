"""The words a patient reads first, built from the stored reading: what was seen, what could not be
seen, and how soon to see a doctor."""

import pytest
from django.urls import reverse

from ml.assessment import assess, inconclusive
from predictions.plain_language import CHEST_PAIN, NOT_RULED_OUT, explain
from predictions.tests.factories import DonePredictionFactory, ECGRecordFactory

NORMAL = {"label": "normal", "episodes": []}


def test_a_normal_one_lead_strip_reassures_only_about_what_it_could_show():
    reading = assess(kind="signal", duration_s=30, counts={"N": 36}, heart_rate={"mean": 71.8}, rhythm=NORMAL).to_dict()
    words = explain(reading)
    assert words.sentences[0] == "Your heart beat about 72 times a minute."
    assert "regular" in " ".join(words.sentences)
    assert not words.urgent
    assert "Nothing here needs urgent attention" not in words.advice
    assert CHEST_PAIN in words.advice  # a one-lead strip cannot show a heart attack, and says so
    assert any(n.startswith("ST segments") for n in words.not_assessed)


def test_a_few_pvcs_are_explained_in_lay_words():
    reading = assess(kind="signal", duration_s=600, counts={"N": 594, "V": 6}, heart_rate={"mean": 70}, rhythm=NORMAL).to_dict()
    text = " ".join(explain(reading).sentences)
    assert "6 extra beat(s) from the lower chambers (premature ventricular contractions, PVCs)" in text
    assert "often harmless" in text


def test_atrial_fibrillation_asks_for_a_doctor_and_vf_for_an_emergency():
    af = explain(assess(kind="signal", duration_s=30, counts={"N": 40}, heart_rate={"mean": 96},
                        rhythm={"label": "atrial_fibrillation", "episodes": []}).to_dict())
    assert "atrial fibrillation (AF)" in " ".join(af.sentences) and "doctor" in af.advice and not af.urgent
    vf = explain(assess(kind="image-beat", counts={"VF": 1}).to_dict())
    assert vf.urgent and "emergency number" in vf.advice


def test_an_unreadable_recording_says_why():
    words = explain(inconclusive("The recording is too noisy.").to_dict())
    assert words.advice == "This ECG could not be read. The recording is too noisy."


@pytest.mark.django_db
def test_the_result_page_and_the_api_say_it_first(patient_client, patient, api):
    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient))
    html = patient_client.get(reverse("predictions:detail", kwargs={"uuid": prediction.record.uuid})).content.decode()
    assert 'id="reading"' in html and 'data-level="abnormal"' in html
    assert "2 extra beat(s) from the lower chambers" in html
    assert html.index('id="reading"') < html.index('id="result-stats"')
    body = api.get(reverse("predictions-api:record-result", kwargs={"uuid": prediction.record.uuid})).json()
    assert body["assessment"] == prediction.assessment
    assert body["plain_language"]["sentences"][0] == "Your heart beat about 72 times a minute."
    assert body["conclusion"].startswith("Abnormal")


def test_a_12_lead_reading_never_says_the_recording_cannot_show_a_heart_attack():
    from ml.twelve_lead import TwelveLeadReading

    reading = TwelveLeadReading(findings=[], measurements={"qrs_ms": 90}, not_assessed=[],
                                assessed=("st", "morphology"), per_lead={})
    words = explain(assess(kind="signal", n_leads=12, duration_s=10, counts={"N": 12}, heart_rate={"mean": 70},
                           rhythm=NORMAL, twelve_lead=reading).to_dict())
    assert CHEST_PAIN not in words.advice and NOT_RULED_OUT in words.advice
    assert words.advice.startswith("This reading is incomplete (signs of an acute heart attack")
    unread = explain(assess(kind="signal", n_leads=12, duration_s=10, counts={"N": 12}, heart_rate={"mean": 70},
                            rhythm=NORMAL).to_dict())  # 12 leads, read on one
    assert CHEST_PAIN not in unread.advice and NOT_RULED_OUT in unread.advice
