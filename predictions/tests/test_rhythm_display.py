"""The rhythm verdict comes first, in plain language, on the result page, in the PDF and the API."""

import pytest
from django.urls import reverse

from predictions.tests.factories import DonePredictionFactory, ECGRecordFactory

pytestmark = pytest.mark.django_db

AF = {
    "label": "atrial_fibrillation", "probability": 0.93, "model_version": "rhythm-test",
    "summary": "Signs of atrial fibrillation: an irregularly irregular rhythm without regular P waves. "
               "Atrial fibrillation for 12 of 30 minutes (1 episode).",
    "episodes": [{"start_s": 600.0, "end_s": 1320.0, "duration_s": 720.0}],
}


def _af_prediction(patient):
    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient))
    prediction.summary = {**prediction.summary, "rhythm": AF}
    prediction.save()
    return prediction


def test_the_result_page_shows_the_af_verdict_first_with_its_episodes_and_article(patient_client, patient):
    prediction = _af_prediction(patient)
    html = patient_client.get(reverse("predictions:detail", kwargs={"uuid": prediction.record.uuid})).content.decode()
    assert "Rhythm: Atrial fibrillation" in html
    assert html.index('id="rhythm-verdict"') < html.index('id="result-stats"')
    assert "12 of 30 minutes" in html and "from 600.0 s to 1320.0 s" in html
    assert f'href="{reverse("articles:detail", args=["atrial-fibrillation-and-flutter"])}"' in html
    assert patient_client.get(reverse("articles:detail", args=["atrial-fibrillation-and-flutter"])).status_code == 200


def test_the_pdf_and_the_api_carry_the_verdict(patient_client, api, patient):
    import pypdfium2

    prediction = _af_prediction(patient)
    pdf = patient_client.get(reverse("predictions:report", kwargs={"uuid": prediction.record.uuid}))
    doc = pypdfium2.PdfDocument(pdf.content)
    text = " ".join(" ".join(doc[i].get_textpage().get_text_range() for i in range(len(doc))).split())
    assert "Rhythm: Atrial fibrillation" in text and "12 of 30 minutes" in text
    assert text.index("Rhythm: Atrial fibrillation") < text.index("Beats analysed")
    body = api.get(reverse("predictions-api:record-result", kwargs={"uuid": prediction.record.uuid})).json()
    assert body["rhythm_verdict"]["label"] == "atrial_fibrillation"
    assert body["rhythm_verdict"]["episodes"][0]["duration_s"] == 720.0


def test_a_result_without_a_verdict_shows_none(patient_client, patient):
    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient))
    html = patient_client.get(reverse("predictions:detail", kwargs={"uuid": prediction.record.uuid})).content.decode()
    assert 'id="rhythm-verdict"' not in html
