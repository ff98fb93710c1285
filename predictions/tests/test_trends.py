"""A patient's readings over time: the history chart and its table, the API, and who may see them."""

from datetime import date

import pytest
from django.urls import reverse

from ml import assessment as clinical
from predictions import selectors
from predictions.tests.factories import DonePredictionFactory, ECGRecordFactory

pytestmark = pytest.mark.django_db

AF = {"label": "atrial_fibrillation", "probability": 0.9, "episodes": [{"start_s": 0.0, "end_s": 900.0, "duration_s": 900.0}],
      "af_seconds": 900.0}


def _three_recordings(patient):
    normal = clinical.assess(kind="signal", lead="MLII", duration_s=1800, counts={"N": 2000},
                             heart_rate={"mean": 64.0}, rhythm={"label": "normal"}).to_dict()
    af = clinical.assess(kind="signal", lead="MLII", duration_s=1800, counts={"N": 2000},
                         heart_rate={"mean": 96.0}, rhythm=AF).to_dict()
    made = []
    for day, reading, rhythm in ((3, af, AF), (1, normal, {"label": "normal"}), (2, None, {"label": "normal"})):
        prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient, recorded_on=date(2026, 11, day)),
                                           **({"assessment": reading, "level": reading["level"], "counts": {"N": 8}}
                                              if reading else {}))
        prediction.summary = {**prediction.summary, "rhythm": rhythm}
        prediction.save()
        made.append(prediction)
    return made


def test_trends_are_one_point_per_recording_oldest_first_and_unmeasured_is_none(patient):
    _three_recordings(patient)
    points = selectors.patient_trends(user=patient)
    assert [p["date"] for p in points] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert [p["af_burden_pct"] for p in points] == [0.0, 0.0, 50.0]
    assert points[1]["ectopic_pct"] == 25.0 and points[0]["ectopic_pct"] == 0.0  # 2 of 8 ventricular
    assert points[0]["qtc_ms"] is None  # no intervals measured: not a zero
    assert [p["level"] for p in points] == ["normal", "abnormal", "abnormal"]


def test_the_history_page_draws_the_chart_with_its_table(patient_client, patient):
    _three_recordings(patient)
    html = patient_client.get(reverse("predictions:history")).content.decode()
    assert 'id="trend-chart"' in html and 'id="trend-data"' in html and "chart.umd.min.js" in html
    assert html.count("<tr><td>2026-11-0") == 3 and "not measured" in html


def test_one_recording_draws_no_chart(patient_client, patient):
    DonePredictionFactory(record=ECGRecordFactory(owner=patient))
    assert 'id="trend-chart"' not in patient_client.get(reverse("predictions:history")).content.decode()


def test_the_api_gives_trends_to_the_patient_and_their_doctor_only(client, patient, doctor, other_patient):
    _three_recordings(patient)
    url = reverse("predictions-api:trends")
    client.force_login(patient)
    assert len(client.get(url).json()) == 3
    client.force_login(doctor)
    assert len(client.get(url, {"patient": str(patient.public_id)}).json()) == 3
    assert client.get(url, {"patient": str(other_patient.public_id)}).status_code == 404
    assert client.get(url, {"patient": "not-a-uuid"}).status_code == 404
    client.force_login(other_patient)
    assert client.get(url).json() == []
    assert client.get(url, {"patient": str(patient.public_id)}).status_code == 404
    assert selectors.patient_trends(user=other_patient, patient=patient) == []
