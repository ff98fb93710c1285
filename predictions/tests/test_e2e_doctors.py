"""End to end in Chromium, doctors and patients over time: a doctor's corrections count everywhere,
the worklist, the trend chart, a share link opened without an account, symptoms in FHIR, and the
viewer on a phone. Real worker, real models, real PostgreSQL and Redis."""

import re
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from ml import assessment as clinical
from predictions import services
from predictions.models import Prediction, ShareLink
from predictions.tests import samples
from predictions.tests.conftest import log_in_browser, upload, wait_finished
from predictions.tests.factories import DonePredictionFactory, ECGRecordFactory

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def _pdf_text(content):
    import pypdfium2

    doc = pypdfium2.PdfDocument(content)
    return " ".join(" ".join(doc[i].get_textpage().get_text_range() for i in range(len(doc))).split())


def _until(page, check, seconds=20):
    """Poll ``check`` until it returns something true (the page's CSP forbids wait_for_function's
    evaluated predicates); return that."""
    for _ in range(int(seconds * 10)):
        found = check()
        if found:
            return found
        page.wait_for_timeout(100)
    raise AssertionError("the page never got there")


def _analysed_208(worker, shared, patient, data_dir, tmp_path):
    """Upload one minute of MIT-BIH 208 (frequent PVCs) through the API; wait for the worker."""
    shared(worker)
    api = APIClient()
    api.force_authenticate(patient)
    hea, dat, _ = samples.mitdb_excerpt(data_dir, tmp_path / "208", record="208", start_s=60, seconds=60)
    response = api.post(reverse("predictions-api:record-list"), {
        "file": [upload(hea.name, hea.read_bytes()), upload(dat.name, dat.read_bytes())],
        "symptoms": ["palpitations"]}, format="multipart")
    assert response.status_code == 201, response.content
    prediction = wait_finished(response.json()["uuid"], timeout=120)
    assert prediction.status == "done", worker.log()[-3000:]
    return prediction


@pytest.mark.django_db(transaction=True)
def test_a_doctors_corrections_reach_the_viewer_counts_pdf_and_fhir(worker, shared, patient, doctor, data_dir, tmp_path,
                                                                     live_server, page, client, artifacts_dir):
    prediction = _analysed_208(worker, shared, patient, data_dir, tmp_path)
    record = prediction.record
    assert record.symptoms == ["palpitations"] and prediction.assessment["symptoms"] == ["palpitations"]
    model_counts = {c.code: c.count for c in prediction.beat_counts.all()}
    assert model_counts.get("V", 0) >= 10, model_counts

    log_in_browser(page, client, doctor, live_server)
    page.goto(f"{live_server.url}{reverse('predictions:cases')}")
    page.locator(f'#worklist tr[data-uuid="{record.uuid}"] a', has_text="Review").click()
    page.wait_for_selector('#trace-viewer[data-ready="true"]')
    # "Any abnormal" is where the jump starts; it finds a beat that is not normal.
    assert page.input_value("#viewer-class") == "_abnormal"
    page.click("#trace-viewer .viewer-next")
    info = _until(page, lambda: re.match(r"Beat \d+ at [^:]+: (.*)", page.inner_text("#trace-viewer .viewer-info")))
    assert not info.group(1).startswith("Normal"), info.group(0)
    # The viewer's "next" beat of a class fills the review form (it once looked for a field that did not exist).
    page.select_option("#viewer-class", "V")
    page.click("#trace-viewer .viewer-next")
    page.wait_for_function("document.getElementById('id_beats').value !== ''")
    beat_number = int(page.input_value("#id_beats"))
    assert prediction.beats["labels"][beat_number - 1] == "V"
    page.select_option("#id_corrected_code", "N")
    page.fill("#id_note", "Beat checked: aberrant conduction.")
    page.check("#id_verdict_1")  # disagree
    page.click("#review-form button[type=submit]")
    page.wait_for_selector("#reading-reviewed")
    assert "Reviewed" in page.inner_text("#reading") and page.is_visible("#model-counts")

    prediction.refresh_from_db()
    assert prediction.beats["labels"][beat_number - 1] == "N" and prediction.reviewed_by == "Dora Doc"
    counts = {c.code: c.count for c in prediction.beat_counts.all()}
    assert counts["V"] == model_counts["V"] - 1 and counts["N"] == model_counts.get("N", 0) + 1
    trace = client.get(reverse("predictions:trace", kwargs={"uuid": record.uuid})).json()
    assert next(b for b in trace["beats"] if b["index"] == beat_number - 1)["code"] == "N"

    # Relabel a whole shape family at once: the family of the ventricular beats.
    families = page.locator("#id_family option").all_inner_texts()
    v_in = [int(m.group(1)) if (m := re.search(r"V (\d+)", text)) else 0 for text in families]
    v_family = v_in.index(max(v_in))
    size = int(re.search(r": (\d+) beats", families[v_family]).group(1))
    page.select_option("#id_family", index=v_family)
    page.select_option("#id_corrected_code", "E")
    page.check("#id_verdict_1")
    page.click("#review-form button[type=submit]")
    page.wait_for_selector(".review >> nth=1")
    prediction.refresh_from_db()
    counts = {c.code: c.count for c in prediction.beat_counts.all()}
    assert counts.get("E", 0) == size and counts.get("V", 0) == model_counts["V"] - 1 - v_in[v_family], (counts, families)

    # Calipers: two clicks 100 px apart at 25 mm/s (4 px/mm) are 1 s apart, 60/min.
    page.wait_for_selector('#trace-viewer[data-ready="true"]')
    page.click("#trace-viewer .viewer-calipers")
    canvas = page.locator("#trace-viewer canvas.viewer-main")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + 100, box["y"] + 100)
    page.mouse.click(box["x"] + 200, box["y"] + 100)
    assert "1000 ms (60/min), 0.00 mV" in page.inner_text("#trace-viewer .viewer-info")
    page.screenshot(path=str(artifacts_dir / "review-208.png"), full_page=True)

    client.force_login(patient)
    pdf = _pdf_text(client.get(reverse("predictions:report", kwargs={"uuid": record.uuid})).content)
    assert "Reviewed by Dora Doc" in pdf and "beats relabelled" in pdf
    bundle = client.get(reverse("predictions:fhir", kwargs={"uuid": record.uuid})).json()
    report = bundle["entry"][0]["resource"]
    assert "Reviewed by Dora Doc" in report["conclusion"]
    counted = {o["code"]["coding"][0]["code"]: o.get("valueInteger") for o in
               (e["resource"] for e in bundle["entry"]) if o.get("resourceType") == "Observation" and "valueInteger" in o}
    assert counted.get("E") == counts["E"]
    symptoms = [e["resource"]["code"]["coding"][0]["code"] for e in bundle["entry"]
                if e["resource"].get("category", [{}])[0].get("coding", [{}])[0].get("code") == "survey"]
    assert symptoms == [clinical.SYMPTOMS["palpitations"][0]]


@pytest.mark.django_db(transaction=True)
def test_worklist_order_trends_and_a_share_link_in_the_browser(patient, doctor, live_server, page, browser, client,
                                                               artifacts_dir):
    vf = clinical.assess(kind="image-beat", counts={"VF": 1}, single_beat_label="VF").to_dict()
    normal = clinical.assess(kind="signal", lead="MLII", duration_s=1800, counts={"N": 2000},
                             heart_rate={"mean": 64.0}, rhythm={"label": "normal"}).to_dict()
    made = [
        DonePredictionFactory(record=ECGRecordFactory(owner=patient, recorded_on=date(2026, 11, 1),
                                                      original_filename="a-normal.csv"),
                              assessment=normal, level="normal", counts={"N": 8}),
        DonePredictionFactory(record=ECGRecordFactory(owner=patient, recorded_on=date(2026, 11, 2),
                                                      original_filename="b-pvc.csv")),
        DonePredictionFactory(record=ECGRecordFactory(owner=patient, recorded_on=date(2026, 11, 3),
                                                      original_filename="c-vf.png"), assessment=vf, level="urgent"),
    ]
    for p in made:
        p.summary = {**p.summary, "rhythm": {"label": "normal"}}
        p.save()

    log_in_browser(page, client, doctor, live_server)
    page.goto(f"{live_server.url}{reverse('predictions:cases')}")
    levels = page.locator("#worklist tr.worklist-row").evaluate_all("rows => rows.map(r => r.dataset.level)")
    assert levels == ["urgent", "abnormal", "normal"]
    # The n key (outside the viewer and the form) opens the next result of the worklist.
    page.locator("#worklist tr.worklist-row").first.locator("a", has_text="Review").click()
    page.wait_for_selector("#next-case")
    page.locator("h1").first.click()
    page.keyboard.press("n")
    page.wait_for_url(f"**{reverse('predictions:detail', kwargs={'uuid': made[1].record.uuid})}")

    page.goto(f"{live_server.url}{reverse('predictions:patient_history', kwargs={'patient_id': patient.pk})}")
    page.wait_for_function("window.Chart && Chart.getChart(document.getElementById('trend-chart'))")
    points = page.evaluate("Chart.getChart(document.getElementById('trend-chart')).data.datasets[2].data")
    assert points == [71.0, 71.0, 71.0], points  # one point per recording, oldest first (the factory's median)
    page.screenshot(path=str(artifacts_dir / "trends.png"), full_page=True)

    # The patient makes a link with a code; a clinician without an account opens it.
    log_in_browser(page, client, patient, live_server)
    record = made[1].record
    page.goto(f"{live_server.url}{reverse('predictions:detail', kwargs={'uuid': record.uuid})}")
    page.fill("#id_label", "Dr Lee")
    page.check("#id_with_code")
    page.click("#share-form button[type=submit]")
    url, code = page.input_value("#share-url"), page.inner_text("#share-code").strip()
    stranger = browser.new_context()
    anonymous = stranger.new_page()
    anonymous.goto(url)
    anonymous.fill("#id_code", code)
    anonymous.click("#share-code-form button[type=submit]")
    anonymous.wait_for_selector("#reading")
    assert "b-pvc.csv" in anonymous.content() and not anonymous.is_visible("#review-form")
    assert AuditEvent.objects.filter(object_type="shared_link", patient=patient, actor__isnull=True).count() == 1
    # Withdrawn: the next open is a 404; an expired link too.
    page.goto(f"{live_server.url}{reverse('predictions:shared_links')}")
    page.click("#share-links button:has-text('Withdraw')")
    assert anonymous.goto(url).status == 404
    link, token, _ = services.share_link_create(owner=patient, records=[record])
    ShareLink.objects.filter(pk=link.pk).update(created_at=timezone.now() - timedelta(days=8),
                                                expires_at=timezone.now() - timedelta(days=1))
    assert anonymous.goto(f"{live_server.url}/s/{token}/").status == 404
    stranger.close()


@pytest.mark.django_db(transaction=True)
def test_on_a_phone_the_viewer_fits_and_a_swipe_moves_the_trace(worker, shared, patient, data_dir, tmp_path,
                                                                live_server, browser, client):
    prediction = _analysed_208(worker, shared, patient, data_dir, tmp_path)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  device_scale_factor=2, bypass_csp=True)  # for wait_for_function only
    phone = context.new_page()
    log_in_browser(phone, client, patient, live_server)
    phone.goto(f"{live_server.url}{reverse('predictions:detail', kwargs={'uuid': prediction.record.uuid})}")
    phone.wait_for_selector('#trace-viewer[data-ready="true"]')
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    jump = phone.locator("#trace-viewer .viewer-jump").bounding_box()
    assert jump["x"] + jump["width"] <= 390
    before = phone.inner_text("#trace-viewer .viewer-zoom-label")
    canvas = phone.locator("#trace-viewer canvas.viewer-main")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    cdp = context.new_cdp_session(phone)
    y = box["y"] + box["height"] / 2
    x0 = box["x"] + box["width"] - 20
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x0, "y": y}]})
    for step in range(1, 11):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x0 - 25 * step, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    phone.wait_for_function(f"document.querySelector('#trace-viewer .viewer-zoom-label').textContent !== {before!r}")
    start = float(re.search(r"· ([\d.]+) s", phone.inner_text("#trace-viewer .viewer-zoom-label")).group(1))
    # 250 px at 25 mm/s and 4 px/mm is 2.5 s of trace.
    assert start >= 2.0, phone.inner_text("#trace-viewer .viewer-zoom-label")
    context.close()
    assert Prediction.objects.filter(pk=prediction.pk, status="done").exists()
