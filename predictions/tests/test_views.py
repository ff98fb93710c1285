"""Pages a user sees: upload, the self-updating result page, history, cases, dashboard, PDF."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from predictions.models import ECGRecord, Prediction
from predictions.tests.conftest import media_files, upload
from predictions.tests.factories import (
    reading_of,
    DonePredictionFactory,
    ECGRecordFactory,
    PredictionFactory,
    PredictionImageFactory,
    ReviewFactory,
)

pytestmark = pytest.mark.django_db


def test_the_upload_page_offers_drag_and_drop_and_a_file_picker(patient_client):
    html = patient_client.get(reverse("predictions:upload")).content.decode()
    assert 'id="dropzone"' in html and 'type="file"' in html and "multiple" in html
    assert "predictions/upload.js" in html
    for field in ("recorded_on", "lead", "sampling_rate", "note"):
        assert f'name="{field}"' in html


def test_uploading_a_wfdb_pair_leads_to_its_result(patient_client, wfdb_uploads, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = patient_client.post(
            reverse("predictions:upload"),
            {"file": wfdb_uploads, "recorded_on": "2024-05-01", "lead": "MLII", "note": "Palpitations at night"},
        )
    record = ECGRecord.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("predictions:detail", kwargs={"uuid": record.uuid})
    assert record.note == "Palpitations at night" and str(record.recorded_on) == "2024-05-01"
    html = patient_client.get(response["Location"]).content.decode()
    assert 'data-status="done"' in html
    assert 'id="trace-viewer"' in html and 'id="counts-chart"' in html
    assert 'class="d-flex align-items-center gap-2 mb-1 count-bar" data-code="V"' in html
    assert "Premature ventricular contraction" in html
    assert "Not a diagnosis." in html and "is not a diagnosis of that disease" in html
    assert "stub-1" in html  # the model version
    assert 'id="representatives"' in html and "Saliency" in html
    assert 'id="low-confidence"' in html  # the stub is unsure about every fifth beat
    assert 'id="reading"' in html and "bpm" in html


def test_the_result_page_polls_its_status_until_finished(patient_client, patient):
    prediction = PredictionFactory(record=ECGRecordFactory(owner=patient))
    url = reverse("predictions:detail", kwargs={"uuid": prediction.record.uuid})
    status_url = reverse("predictions:status", kwargs={"uuid": prediction.record.uuid})
    html = patient_client.get(url).content.decode()
    # A long-poll: asked at once, answered on news or after 20 s; polling every second only while none is in flight.
    assert 'data-status="pending"' in html and f'hx-get="{status_url}?wait=20"' in html
    assert 'hx-trigger="load, every 1000ms"' in html and 'hx-sync="this:drop"' in html
    assert "Queued" in html

    Prediction.objects.filter(pk=prediction.pk).update(status="running", started_at=timezone.now())
    fragment = patient_client.get(status_url, HTTP_HX_REQUEST="true")
    assert fragment["Cache-Control"] == "no-store"
    text = fragment.content.decode()
    assert "<html" not in text and 'data-status="running"' in text and "Analysing" in text and "hx-trigger" in text

    Prediction.objects.filter(pk=prediction.pk).update(
        status="inconclusive", finished_at=timezone.now(), inconclusive_reason="No ECG trace could be found in the image.",
        level="inconclusive", assessment=reading_of("inconclusive", "No ECG trace could be found in the image."))
    text = patient_client.get(status_url).content.decode()
    assert 'data-status="inconclusive"' in text and "No ECG trace could be found" in text
    assert "hx-trigger" not in text  # polling stops


def test_a_failed_result_says_so_and_offers_a_rerun(patient_client, patient):
    record = ECGRecordFactory(owner=patient)
    PredictionFactory(record=record, status="failed", finished_at=timezone.now(), error_code="timeout", error_message="The analysis took too long and was stopped.")
    html = patient_client.get(reverse("predictions:detail", kwargs={"uuid": record.uuid})).content.decode()
    assert "The analysis failed" in html and "took too long" in html and 'id="rerun-button"' in html


def test_rerun_from_the_page_queues_a_new_analysis(patient_client, patient, django_capture_on_commit_callbacks):
    old = DonePredictionFactory(record=ECGRecordFactory(owner=patient))
    with django_capture_on_commit_callbacks(execute=True):
        response = patient_client.post(reverse("predictions:rerun", kwargs={"uuid": old.record.uuid}))
    assert response.status_code == 302
    current = old.record.current_prediction
    assert current.pk != old.pk and current.is_finished  # ran eagerly with the stub
    html = patient_client.get(response["Location"]).content.decode()
    assert "Earlier analyses of this ECG" in html and "test-model-1" in html


def test_delete_asks_for_confirmation_then_removes_everything(patient_client, patient, csv_bytes, settings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        patient_client.post(reverse("predictions:upload"), {"file": [upload("ecg.csv", csv_bytes)]})
    record = ECGRecord.objects.get()
    url = reverse("predictions:delete", kwargs={"uuid": record.uuid})
    page = patient_client.get(url).content.decode()
    assert "cannot be undone" in page and ECGRecord.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = patient_client.post(url)
    assert response.status_code == 302 and response["Location"] == reverse("predictions:history")
    assert not ECGRecord.objects.exists() and media_files(settings) == []


def test_history_is_newest_first_paginated_and_filterable(patient_client, patient, other_patient):
    now = timezone.now()
    for i in range(12):
        record = ECGRecordFactory(owner=patient, original_filename=f"day-{i:02d}.csv", created_at=now - timedelta(days=i), note="after running" if i == 3 else "")
        if i == 0:
            DonePredictionFactory(record=record, counts={"N": 5, "V": 3})
        elif i == 1:
            DonePredictionFactory(record=record, counts={"N": 8})
        else:
            PredictionFactory(record=record)
    ECGRecordFactory(owner=other_patient, original_filename="not-mine.csv")
    url = reverse("predictions:history")
    page1 = patient_client.get(url).content.decode()
    assert page1.index("day-00.csv") < page1.index("day-01.csv") < page1.index("day-09.csv")
    assert "day-10.csv" not in page1 and "not-mine.csv" not in page1 and "Page 1 of 2" in page1
    page2 = patient_client.get(url, {"page": 2}).content.decode()
    assert "day-10.csv" in page2 and "day-11.csv" in page2

    assert _names(patient_client.get(url, {"code": "V"})) == ["day-00.csv"]
    assert _names(patient_client.get(url, {"status": "done"})) == ["day-00.csv", "day-01.csv"]
    assert _names(patient_client.get(url, {"q": "running"})) == ["day-03.csv"]
    since = (now - timedelta(days=1)).date().isoformat()
    assert _names(patient_client.get(url, {"date_from": since})) == ["day-00.csv", "day-01.csv"]
    until = (now - timedelta(days=10)).date().isoformat()
    assert _names(patient_client.get(url, {"date_to": until})) == ["day-10.csv", "day-11.csv"]
    assert "No ECG matches" in patient_client.get(url, {"q": "nothing like this"}).content.decode()


def _names(response):
    import re

    return re.findall(r'>(day-\d\d\.csv)</a>', response.content.decode())


def test_patient_sees_the_doctors_review_and_correction(patient_client, patient, doctor):
    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient))
    ReviewFactory(prediction=prediction, doctor=doctor, verdict="disagree", beat_indices=[2], corrected_code="A", note="Beat 3 is atrial.")
    html = patient_client.get(reverse("predictions:detail", kwargs={"uuid": prediction.record.uuid})).content.decode()
    assert "Dora Doc" in html and "Disagree" in html and "(beat 3) relabelled" in html
    assert "Premature atrial contraction" in html and "Beat 3 is atrial." in html
    assert 'id="review-form"' not in html


def test_a_doctor_reviews_with_a_beat_correction(client, patient, doctor):
    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient))
    client.force_login(doctor)
    url = reverse("predictions:detail", kwargs={"uuid": prediction.record.uuid})
    assert 'id="review-form"' in client.get(url).content.decode()
    review_url = reverse("predictions:review", kwargs={"uuid": prediction.record.uuid})
    bad = client.post(review_url, {"verdict": "disagree", "beats": "3"})
    assert bad.status_code == 400 and "Choose the correct class" in bad.content.decode()
    out_of_range = client.post(review_url, {"verdict": "disagree", "beats": "99", "corrected_code": "A"})
    assert out_of_range.status_code == 400 and "beats 1 to 8" in out_of_range.content.decode()
    garbled = client.post(review_url, {"verdict": "disagree", "beats": "3-x", "corrected_code": "A"})
    assert garbled.status_code == 400 and "is not a beat number" in garbled.content.decode()
    assert not prediction.reviews.exists()
    ok = client.post(review_url, {"verdict": "disagree", "beats": "3", "corrected_code": "A", "note": "Atrial."})
    assert ok.status_code == 302
    review = prediction.reviews.get()
    assert (review.beat_indices, review.corrected_code, review.doctor) == ([2], "A", doctor)


def test_cases_lists_linked_patients_with_pending_reviews(client, patient, doctor, other_patient):
    reviewed = DonePredictionFactory(record=ECGRecordFactory(owner=patient, created_at=timezone.now() - timedelta(days=2)))
    ReviewFactory(prediction=reviewed, doctor=doctor)
    DonePredictionFactory(record=ECGRecordFactory(owner=patient, original_filename="latest.csv"))
    ECGRecordFactory(owner=other_patient, original_filename="unlinked.csv")
    client.force_login(doctor)
    html = client.get(reverse("predictions:cases")).content.decode()
    assert "Pat Ient" in html and "latest.csv" in html and "unlinked.csv" not in html
    assert '<span class="badge text-bg-warning">1</span>' in html
    history = client.get(reverse("predictions:patient_history", kwargs={"patient_id": patient.pk})).content.decode()
    assert "ECGs of Pat Ient" in history and "latest.csv" in history


def test_cases_is_for_verified_doctors_only(patient_client, client, unverified_doctor):
    assert patient_client.get(reverse("predictions:cases")).status_code == 404
    client.force_login(unverified_doctor)
    assert client.get(reverse("predictions:cases")).status_code == 404


def test_the_dashboard_panel_shows_recent_results_and_counts(patient_client, patient):
    DonePredictionFactory(record=ECGRecordFactory(owner=patient, original_filename="recent.csv"), counts={"N": 4, "V": 1})
    PredictionFactory(record=ECGRecordFactory(owner=patient))
    html = patient_client.get(reverse("dashboard")).content.decode()
    assert 'id="predictions-panel"' in html and "recent.csv" in html
    assert reverse("predictions:upload") in html
    assert "1 analysis in progress" in html
    assert 'id="cases-panel"' not in html


def test_the_dashboard_shows_a_doctor_their_cases(client, doctor, patient):
    DonePredictionFactory(record=ECGRecordFactory(owner=patient))
    client.force_login(doctor)
    html = client.get(reverse("dashboard")).content.decode()
    assert 'id="cases-panel"' in html and "Pat Ient" in html and "1 to review" in html
    assert html.index('id="cases-panel"') < html.index('id="predictions-panel"')  # cases first
    assert "Your own ECGs" in html


def test_cases_are_ordered_for_triage_abnormal_unreviewed_first(client, doctor, patient):
    from accounts.tests.factories import UserFactory
    from predictions.tests.factories import link

    calm = UserFactory(first_name="Calm", last_name="Normal")
    link(patient=calm, doctor=doctor)
    DonePredictionFactory(record=ECGRecordFactory(owner=patient, created_at=timezone.now() - timedelta(days=3)))
    DonePredictionFactory(record=ECGRecordFactory(owner=calm), counts={"N": 8}, assessment=reading_of("done"))  # newer, normal
    client.force_login(doctor)
    html = client.get(reverse("predictions:cases")).content.decode()
    assert html.index("Pat Ient") < html.index("Calm Normal")
    assert "1 abnormal" in html


def test_the_pdf_report_carries_what_a_doctor_needs(patient_client, patient, doctor):
    import pypdfium2

    record = ECGRecordFactory(owner=patient, recorded_on="2024-03-02", note="Dizzy <b>spells</b>")
    prediction = DonePredictionFactory(record=record)
    PredictionImageFactory(prediction=prediction)
    ReviewFactory(prediction=prediction, doctor=doctor, note="Please repeat the ECG & call me.")
    response = patient_client.get(reverse("predictions:report", kwargs={"uuid": record.uuid}))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    pdf = pypdfium2.PdfDocument(response.content)
    text = " ".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    for expected in ("Pat Ient", "02 Mar 2024", "Beats analysed", "72 bpm", "Premature ventricular contraction",
                     "test-model-1", "Dora Doc", "Please repeat the ECG & call me.", "not a diagnosis", "Dizzy <b>spells</b>",
                     "Clinical reading", "extra beat(s) from the lower chambers", "427172004"):
        assert expected in text, expected


def test_the_pdf_waits_for_a_finished_result(patient_client, patient):
    prediction = PredictionFactory(record=ECGRecordFactory(owner=patient))
    assert patient_client.get(reverse("predictions:report", kwargs={"uuid": prediction.record.uuid})).status_code == 404


def test_the_result_links_to_articles_about_the_predicted_classes(patient_client, patient):
    from articles.selectors import article_links_for_codes

    links = article_links_for_codes(codes=["V"])
    assert links, "the shipped articles include premature ventricular contractions"
    prediction = DonePredictionFactory(record=ECGRecordFactory(owner=patient))
    html = patient_client.get(reverse("predictions:detail", kwargs={"uuid": prediction.record.uuid})).content.decode()
    assert f'href="{links[0]["url"]}"' in html and links[0]["title"] in html
    assert "is not a diagnosis of that disease" in html


def test_large_uploads_stream_through_temporary_files(patient_client, wfdb_pair, settings, django_capture_on_commit_callbacks):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # every file goes to a temporary file on disk
    hea, dat, _ = wfdb_pair
    with django_capture_on_commit_callbacks(execute=True):
        response = patient_client.post(reverse("predictions:upload"), {"file": [upload("x119.hea", hea), upload("x119.dat", dat)]})
    assert response.status_code == 302
    record = ECGRecord.objects.get()
    assert record.companion_file.open("rb").read() == dat
    assert record.current_prediction.status == "done"


def test_a_record_dated_in_the_future_is_invalid():
    from django.core.exceptions import ValidationError

    record = ECGRecordFactory.build(recorded_on=timezone.localdate() + timedelta(days=1))
    with pytest.raises(ValidationError):
        record.clean()


def test_page_uploads_share_the_api_rate_limit_and_save_nothing_when_refused(
        patient_client, patient, api, csv_bytes, monkeypatch, settings, django_capture_on_commit_callbacks):
    from predictions.throttles import UploadRateThrottle

    monkeypatch.setattr(UploadRateThrottle, "THROTTLE_RATES", {**UploadRateThrottle.THROTTLE_RATES, "uploads": "2/hour"})
    url = reverse("predictions:upload")
    with django_capture_on_commit_callbacks(execute=True):
        codes = [patient_client.post(url, {"file": [upload(f"{i}.csv", csv_bytes + b"\n" * i)]}).status_code
                 for i in range(2)]
    assert codes == [302, 302]
    refused = patient_client.post(url, {"file": [upload("third.csv", csv_bytes)]})
    assert refused.status_code == 429
    assert "Too many uploads in a short time. Nothing was saved" in refused.content.decode()
    assert ECGRecord.objects.filter(owner=patient).count() == 2
    kept = {name for record in ECGRecord.objects.filter(owner=patient) for name in record.file_names()}
    assert set(media_files(settings)) == kept  # nothing of the refused upload was stored
    assert patient_client.get(url).status_code == 200  # the page itself still opens
    api_upload = api.post(reverse("predictions-api:record-list"), {"file": [upload("api.csv", csv_bytes)]},
                          format="multipart")
    assert api_upload.status_code == 429  # one budget per user, whichever door
    assert ECGRecord.objects.filter(owner=patient).count() == 2


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_the_upload_answers_at_once_and_the_analysis_follows(patient, csv_bytes, settings):
    """The embedded default (make run, no Redis): the analysis runs in a thread, not in the request."""
    import time

    from django.test import Client

    settings.PREDICTIONS_IN_PROCESS_THREAD = True
    settings.PREDICTIONS_ANALYSER = "predictions.tests.fakes.slow_stub_analyse"
    client = Client()
    client.force_login(patient)
    started = time.monotonic()
    response = client.post(reverse("predictions:upload"), {"file": [upload("ecg.csv", csv_bytes)]})
    assert response.status_code == 302
    assert time.monotonic() - started < 1.5  # the analysis itself takes 2 s
    prediction = Prediction.objects.get(record__owner=patient)
    assert prediction.status in ("pending", "running")
    page = client.get(response["Location"]).content.decode()
    assert "This page updates itself" in page
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not prediction.is_finished:
        time.sleep(0.2)
        prediction.refresh_from_db()
    assert prediction.status == "done"


def test_the_trace_viewer_gets_windows_of_the_stored_signal(patient_client, wfdb_uploads, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        patient_client.post(reverse("predictions:upload"), {"file": wfdb_uploads})
    record = ECGRecord.objects.get()
    url = reverse("predictions:trace", kwargs={"uuid": record.uuid})
    whole = patient_client.get(url, {"start": 0, "end": 1e9, "columns": 300}).json()
    assert whole["kind"] == "minmax" and len(whole["min"]) == len(whole["max"]) == 300
    assert whole["duration_s"] == pytest.approx(30, abs=0.1) and whole["fs"] == 360
    assert max(whole["max"]) > 0.5  # the R peaks survive the reduction (mV)
    prediction = record.current_prediction
    assert [b["index"] for b in whole["beats"]] == list(range(prediction.beat_total))
    assert whole["episodes"] == []  # no atrial fibrillation in this excerpt of record 119
    close = patient_client.get(url, {"start": 10, "end": 12, "columns": 1200}).json()
    assert close["kind"] == "samples" and len(close["values"]) == 720
    assert all(10 <= b["t"] < 12 for b in close["beats"]) and close["beats"]


@pytest.mark.parametrize("params", [{"start": "x"}, {"columns": "many"}, {"end": "nan"}])
def test_the_trace_viewer_refuses_bad_windows(patient_client, wfdb_uploads, django_capture_on_commit_callbacks, params):
    with django_capture_on_commit_callbacks(execute=True):
        patient_client.post(reverse("predictions:upload"), {"file": wfdb_uploads})
    record = ECGRecord.objects.get()
    response = patient_client.get(reverse("predictions:trace", kwargs={"uuid": record.uuid}), params)
    assert response.status_code == 400 and "detail" in response.json()


def test_another_patient_cannot_read_the_trace(client, other_patient, wfdb_uploads, patient_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        patient_client.post(reverse("predictions:upload"), {"file": wfdb_uploads})
    record = ECGRecord.objects.get()
    client.force_login(other_patient)
    assert client.get(reverse("predictions:trace", kwargs={"uuid": record.uuid})).status_code == 404


def test_a_running_analysis_shows_the_stage_it_is_at(patient_client, patient):
    from django.core.cache import cache

    from predictions.models import stage_cache_key
    from predictions.tests.factories import PredictionFactory

    prediction = PredictionFactory(record=ECGRecordFactory(owner=patient), status="running",
                                   started_at=timezone.now(), attempts=1)
    cache.set(stage_cache_key(prediction.pk), "classifying")
    html = patient_client.get(reverse("predictions:status", kwargs={"uuid": prediction.record.uuid})).content.decode()
    assert "Analysing your ECG: classifying each beat" in html
    assert html.count('data-state="done"') == 3 and html.count('data-state="current"') == 1
    assert 'aria-valuenow="70"' in html
    assert 'hx-trigger="load, every 1000ms"' in html  # falls back to asking often at first


def test_re_run_is_offered_only_once_the_analysis_has_finished(patient_client, patient):
    from predictions.tests.factories import PredictionFactory

    running = PredictionFactory(record=ECGRecordFactory(owner=patient), status="running",
                                started_at=timezone.now(), attempts=1)
    page = patient_client.get(reverse("predictions:detail", kwargs={"uuid": running.record.uuid})).content.decode()
    assert 'id="rerun-button" disabled' in page
    history = patient_client.get(reverse("predictions:history")).content.decode()
    assert 'disabled title="An analysis is running"' in history
    # When the result arrives by polling, the button comes back enabled (out-of-band swap).
    running.status, running.finished_at = "inconclusive", timezone.now()
    running.inconclusive_reason = "No ECG trace could be found in this image."
    running.assessment = reading_of("inconclusive", running.inconclusive_reason)
    running.level = "inconclusive"
    running.save()
    fragment = patient_client.get(reverse("predictions:status", kwargs={"uuid": running.record.uuid}),
                                  HTTP_HX_REQUEST="true").content.decode()
    assert 'id="rerun-button" hx-swap-oob="true"' in fragment


def test_an_inconclusive_result_offers_no_report_and_no_empty_model_version(patient_client, patient):
    from predictions.tests.factories import PredictionFactory

    p = PredictionFactory(record=ECGRecordFactory(owner=patient), status="inconclusive", started_at=timezone.now(),
                          finished_at=timezone.now(), attempts=1, inconclusive_reason="No ECG trace could be found.")
    html = patient_client.get(reverse("predictions:detail", kwargs={"uuid": p.record.uuid})).content.decode()
    assert "No ECG trace could be found." in html
    assert 'id="pdf-link"' not in html and "Model version" not in html


def test_the_trace_windows_carry_the_atrial_fibrillation_episodes_they_overlap(patient_client, wfdb_uploads, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        patient_client.post(reverse("predictions:upload"), {"file": wfdb_uploads})
    prediction = ECGRecord.objects.get().current_prediction
    prediction.summary = {**prediction.summary, "rhythm": {"label": "atrial_fibrillation", "probability": 0.9,
                                                          "episodes": [{"start_s": 5.0, "end_s": 12.0, "duration_s": 7.0}]}}
    prediction.save()
    url = reverse("predictions:trace", kwargs={"uuid": prediction.record.uuid})
    assert patient_client.get(url, {"start": 10, "end": 15}).json()["episodes"][0]["start_s"] == 5.0
    assert patient_client.get(url, {"start": 20, "end": 25}).json()["episodes"] == []
