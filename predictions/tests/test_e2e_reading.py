"""End to end, the clinical reading: real records through a real worker and the real models, read
back from the page (Chromium), the PDF, the FHIR bundle, the API and the history.

MIT-BIH 232 (long pauses) and 203 (ventricular tachycardia runs) are whole half-hour records; the
AF and normal strips are single-lead AliveCor recordings (CinC 2017).
"""

from pathlib import Path

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from ml import assessment as clinical
from predictions.plain_language import CHEST_PAIN
from predictions.tests import samples
from predictions.tests.conftest import log_in_browser, upload, wait_finished

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def _cinc_strip(data_dir, name, out_dir):
    """Write CinC 2017 recording ``name`` as a WFDB pair (212 format); return (hea, dat)."""
    import wfdb

    rec = wfdb.rdrecord(str(Path(data_dir) / "cinc2017" / name))
    out_dir.mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp(name, fs=rec.fs, units=["mV"], sig_name=["ECG"], p_signal=rec.p_signal, fmt=["212"],
                write_dir=str(out_dir))
    return out_dir / f"{name}.hea", out_dir / f"{name}.dat"


def _post(api, hea, dat):
    response = api.post(reverse("predictions-api:record-list"),
                        {"file": [upload(hea.name, hea.read_bytes()), upload(dat.name, dat.read_bytes())]}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()["uuid"]


def _pdf_text(content):
    import pypdfium2

    doc = pypdfium2.PdfDocument(content)
    return " ".join(" ".join(doc[i].get_textpage().get_text_range() for i in range(len(doc))).split())


@pytest.mark.django_db(transaction=True)
def test_record_232_lists_its_pauses_and_203_its_ventricular_runs(worker, shared, patient, data_dir, tmp_path,
                                                                   live_server, page, client, artifacts_dir):
    shared(worker)
    api = APIClient()
    api.force_authenticate(patient)
    hea, dat, _ = samples.mitdb_excerpt(data_dir, tmp_path / "232", record="232", start_s=0, seconds=1805)
    uuid_232 = _post(api, hea, dat)
    hea, dat, _ = samples.mitdb_excerpt(data_dir, tmp_path / "203", record="203", start_s=0, seconds=1805)
    uuid_203 = _post(api, hea, dat)

    p232 = wait_finished(uuid_232, timeout=180)
    assert p232.status == "done", worker.log()[-3000:]
    pauses = [f for f in p232.assessment["findings"] if f["code"] == clinical.PAUSE[0] and f["start_s"] is not None]
    # The reference has 31 pauses over 3 s, the longest 5.9 s (MIT-BIH 232 annotations).
    assert len(pauses) >= 10 and max(f["value"] for f in pauses) >= 5.0
    assert p232.level in ("abnormal", "urgent")

    p203 = wait_finished(uuid_203, timeout=180)
    assert p203.status == "done", worker.log()[-3000:]
    runs = [f for f in p203.assessment["findings"] if f["code"] == clinical.VT[0]]
    assert len(runs) >= 5, p203.assessment["findings"]

    log_in_browser(page, client, patient, live_server)
    page.goto(f"{live_server.url}{reverse('predictions:detail', kwargs={'uuid': uuid_232})}")
    page.wait_for_selector('#trace-viewer[data-ready="true"]')
    rows = page.locator(f'#findings tr[data-code="{clinical.PAUSE[0]}"]')
    assert rows.count() >= 10
    assert "5.9" in page.inner_text("#reading") or "5.8" in page.inner_text("#reading")
    # A pause's time moves the trace viewer to it.
    before = page.inner_text("#trace-viewer .viewer-zoom-label")
    page.locator(f'#findings tr[data-code="{clinical.PAUSE[0]}"] a[data-goto-s]').last.click()
    page.wait_for_function(f"document.querySelector('#trace-viewer .viewer-zoom-label').textContent !== {before!r}")
    page.screenshot(path=str(artifacts_dir / "reading-232.png"), full_page=True)
    page.goto(f"{live_server.url}{reverse('predictions:detail', kwargs={'uuid': uuid_203})}")
    assert page.locator(f'#findings tr[data-code="{clinical.VT[0]}"]').count() >= 5


@pytest.mark.django_db(transaction=True)
def test_an_af_strip_reads_af_on_the_page_pdf_fhir_and_history(worker, shared, patient, data_dir, tmp_path,
                                                              live_server, page, client):
    shared(worker)
    api = APIClient()
    api.force_authenticate(patient)
    uuid = _post(api, *_cinc_strip(data_dir, "A00004", tmp_path))  # labelled AF in CinC 2017
    prediction = wait_finished(uuid)
    assert prediction.status == "done", worker.log()[-3000:]
    af = clinical.ATRIAL_FIBRILLATION[0]

    log_in_browser(page, client, patient, live_server)
    page.goto(f"{live_server.url}{reverse('predictions:detail', kwargs={'uuid': uuid})}")
    assert page.get_attribute("#reading", "data-level") == "abnormal"
    assert page.locator(f'#findings tr[data-code="{af}"]').count() >= 1
    assert "atrial fibrillation (AF)" in page.inner_text("#what-it-means")

    pdf = _pdf_text(client.get(reverse("predictions:report", kwargs={"uuid": uuid})).content)
    assert "Atrial fibrillation" in pdf and af in pdf and "Mostly normal beats" not in pdf
    bundle = client.get(reverse("predictions:fhir", kwargs={"uuid": uuid})).json()
    report = bundle["entry"][0]["resource"]
    assert af in {c["coding"][0]["code"] for c in report["conclusionCode"]}
    assert "Atrial fibrillation" in report["conclusion"]
    page.goto(f"{live_server.url}{reverse('predictions:history')}")
    assert "Atrial fibrillation" in page.inner_text("#history-table")
    assert page.get_attribute(".record-level", "data-level") == "abnormal"


@pytest.mark.django_db(transaction=True)
def test_a_normal_one_lead_strip_says_st_was_not_assessed_and_never_nothing_urgent(
        worker, shared, patient, data_dir, tmp_path, live_server, page, client):
    shared(worker)
    api = APIClient()
    api.force_authenticate(patient)
    uuid = _post(api, *_cinc_strip(data_dir, "A00003", tmp_path))  # labelled normal in CinC 2017
    prediction = wait_finished(uuid)
    assert prediction.status == "done", worker.log()[-3000:]
    log_in_browser(page, client, patient, live_server)
    page.goto(f"{live_server.url}{reverse('predictions:detail', kwargs={'uuid': uuid})}")
    reading = page.inner_text("#reading")
    assert "ST segments and signs of a heart attack" in page.inner_text("#not-assessed")
    assert "one lead only" in page.inner_text("#not-assessed")
    assert "nothing here needs urgent attention" not in reading.lower()
    assert CHEST_PAIN in page.inner_text("#what-to-do")
    pdf = _pdf_text(client.get(reverse("predictions:report", kwargs={"uuid": uuid})).content)
    assert "Not assessed: ST segments and signs of a heart attack" in pdf
    assert "nothing here needs urgent attention" not in pdf.lower()


@pytest.mark.django_db(transaction=True)
def test_a_12_lead_file_is_read_on_its_twelve_leads_and_never_called_normal_unread(
        worker, shared, patient, data_dir, live_server, page, client, artifacts_dir, tmp_path):
    from ecgportal.testing import require
    from ml.lab import ludb

    folder = Path(data_dir) / "ludb" / "data"
    require((folder / "2.hea").is_file(), f"LUDB not found under {data_dir}")
    shared(worker)
    api = APIClient()
    api.force_authenticate(patient)
    hea = ludb.write_calibrated(Path(data_dir) / "ludb", 2, tmp_path)  # sinus rhythm, in true mV
    uuid = _post(api, hea, hea.with_suffix(".dat"))
    prediction = wait_finished(uuid)
    assert prediction.status == "done", worker.log()[-3000:]
    reading = prediction.assessment
    assert "axis_deg" in reading["measurements"]
    assert reading["level"] != "normal"
    log_in_browser(page, client, patient, live_server)
    page.goto(f"{live_server.url}{reverse('predictions:detail', kwargs={'uuid': uuid})}")
    assert "QRS axis" in page.inner_text("#measurements")
    not_assessed = page.inner_text("#not-assessed")
    assert clinical.ACUTE_MI_WHAT in not_assessed and "one lead of the 12" not in not_assessed
    # The viewer stacks all twelve leads, named, in 25-mm bands.
    assert prediction.summary["lead_names"][:3] == ["I", "II", "III"] and len(prediction.summary["lead_names"]) == 12
    page.wait_for_selector('#trace-viewer[data-ready="true"]')
    page.click("#trace-viewer .viewer-leads")
    canvas = page.locator("#trace-viewer canvas.viewer-main")
    for _ in range(100):  # polled from here: the page's CSP forbids the evaluated predicates of wait_for_function
        if canvas.bounding_box()["height"] >= 1200:
            break
        page.wait_for_timeout(100)
    assert canvas.bounding_box()["height"] >= 1200
    canvas.screenshot(path=str(artifacts_dir / "twelve-leads.png"))
    # The standard print: three rows of four leads and the lead II rhythm strip, four 25-mm bands.
    page.click("#trace-viewer .viewer-print")
    for _ in range(100):
        if canvas.bounding_box()["height"] < 1200:
            break
        page.wait_for_timeout(100)
    assert 390 <= canvas.bounding_box()["height"] <= 410
    assert page.get_attribute("#trace-viewer .viewer-print", "aria-pressed") == "true"
    assert page.get_attribute("#trace-viewer .viewer-leads", "aria-pressed") == "false"
    canvas.screenshot(path=str(artifacts_dir / "twelve-leads-print.png"))
    window = client.get(reverse("predictions:trace", kwargs={"uuid": uuid}), {"leads": "all", "end": 2}).json()
    assert [lead["name"] for lead in window["leads"]] == prediction.summary["lead_names"]
    assert all(lead["kind"] == "samples" and len(lead["values"]) == len(window["values"]) for lead in window["leads"])
