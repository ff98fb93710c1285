"""The uploaded picture shown back with what was read on it (predictions/pictures.py): the JPEG
rendition any browser shows, and the overlay the PDF carries."""

import io

import numpy as np
import pytest
from django.core.files.base import ContentFile
from PIL import Image

from predictions.models import ECGRecord
from predictions.pictures import overlay_png, picture_reading, rendition_jpeg, trace_segments
from predictions.tests.factories import DonePredictionFactory, ECGRecordFactory

pytestmark = pytest.mark.django_db

SIZE = (800, 400)  # the picture as displayed, full size
TRACE = [[x, 200.0 + 40.0 * np.sin(x / 30.0)] for x in range(100, 700, 2)]


def _png(size=SIZE):
    out = io.BytesIO()
    Image.new("RGB", size, (255, 240, 240)).save(out, format="PNG")
    return out.getvalue()


def _picture_record(owner=None, data=None):
    data = data or _png()
    kwargs = {"owner": owner} if owner else {}
    return ECGRecordFactory(original_filename="photo.png", input_kind=ECGRecord.InputKind.IMAGE,
                            file_format=ECGRecord.FileFormat.PNG, file=ContentFile(data, name="source.png"),
                            size_bytes=len(data), **kwargs)


def _with_picture(record, **picture):
    prediction = DonePredictionFactory(record=record)
    prediction.summary = {**prediction.summary, "picture": {"size": list(SIZE), "corners": None,
                                                            "trace": TRACE, "page": {}, **picture}}
    prediction.save(update_fields=["summary"])
    return prediction


def test_the_overlay_draws_the_trace_read_in_red_where_it_was_read():
    record = _picture_record()
    picture = picture_reading(_with_picture(record, corners=[[50, 30], [750, 30], [750, 370], [50, 370]]))
    img = np.asarray(Image.open(io.BytesIO(overlay_png(record, picture, width=400))).convert("RGB")).astype(int)
    assert img.shape[1] == 400  # 800 px wide picture drawn 400 wide: every point scaled by 0.5
    red = (img[..., 0] > 180) & (img[..., 1] < 80) & (img[..., 2] < 80)
    blue = (img[..., 2] > 150) & (img[..., 0] < 80)
    x, y = 150, int(round((200.0 + 40.0 * np.sin(300 / 30.0)) / 2))  # the trace point at x = 300 px
    assert red[max(0, y - 2): y + 3, x].any()
    assert not red[:, :45].any() and not red[:, 355:].any()  # nothing drawn where nothing was read
    assert blue[15, 25:375].mean() > 0.9  # the page's top edge, y = 30 / 2


def test_a_gap_in_the_trace_is_a_break_not_a_line_across():
    picture = {"size": [800, 400], "trace": [[10, 5], [12, 6], [300, 6], [302, 7]]}
    assert trace_segments(picture) == [[[10, 5], [12, 6]], [[300, 6], [302, 7]]]


def test_a_rendition_is_a_jpeg_at_most_1600_wide_and_a_signal_file_has_none():
    record = _picture_record(data=_png((3000, 1500)))
    img = Image.open(io.BytesIO(rendition_jpeg(record)))
    assert img.format == "JPEG" and img.size == (1600, 800)
    assert rendition_jpeg(ECGRecordFactory()) is None


def test_a_result_without_a_read_trace_has_no_picture_reading():
    assert picture_reading(DonePredictionFactory(record=_picture_record())) is None
    assert picture_reading(_with_picture(_picture_record(), trace=None, corners=None)) is None
    assert picture_reading(None) is None


def test_the_pdf_of_a_picture_result_shows_the_picture_with_what_was_read(patient_client, patient):
    import pypdfium2
    from django.urls import reverse

    prediction = _with_picture(_picture_record(owner=patient))
    pdf = patient_client.get(reverse("predictions:report", kwargs={"uuid": prediction.record.uuid}))
    doc = pypdfium2.PdfDocument(pdf.content)
    text = " ".join(" ".join(doc[i].get_textpage().get_text_range() for i in range(len(doc))).split())
    assert "Your picture, and what was read on it" in text and "Red: the ECG line that was read" in text


CORNERS = [[10.0, 12.0], [790.0, 8.0], [795.0, 390.0], [5.0, 395.0]]


def _rendered_png():
    """A small rendered ECG strip: a real picture that passes the upload's checks."""
    t = np.arange(0, 10, 1 / 250.0)
    from ml.io.render import render_report

    signal = np.exp(-((t % 0.8) - 0.4) ** 2 / 0.0002)
    out = io.BytesIO()
    Image.fromarray(render_report({"II": signal}, 250.0, layout="strip", dpi=80).image).save(out, format="PNG")
    return out.getvalue()


def test_the_crop_steps_corners_are_stored_with_a_picture_and_given_to_the_analysis(patient, monkeypatch, settings):
    from predictions import services, tasks
    from predictions.tests import test_tasks
    from predictions.tests.conftest import upload

    monkeypatch.setattr(services, "_enqueue", lambda pk: None)
    record = services.ecg_record_create(owner=patient, files=[upload("photo.png", _rendered_png())], corners=CORNERS)
    assert record.page_corners == CORNERS
    settings.PREDICTIONS_ANALYSER = "predictions.tests.test_tasks.kwargs_spying_analyse"
    tasks.analyse_prediction.apply(args=[record.current_prediction.pk])
    assert test_tasks.PASSED["corners"] == CORNERS


def test_a_signal_file_keeps_no_corners(patient, csv_bytes, monkeypatch):
    from predictions import services
    from predictions.tests.conftest import upload

    monkeypatch.setattr(services, "_enqueue", lambda pk: None)
    record = services.ecg_record_create(owner=patient, files=[upload("ecg.csv", csv_bytes)], corners=CORNERS)
    assert record.page_corners is None


def test_the_picture_is_served_as_a_jpeg_to_those_who_may_see_it_only(client, patient, other_patient):
    from django.urls import reverse

    record = _picture_record(owner=patient)
    url = reverse("predictions:picture", kwargs={"uuid": record.uuid})
    assert client.get(url).status_code == 302  # signed out: to the login page
    client.force_login(other_patient)
    assert client.get(url).status_code == 404
    client.force_login(patient)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(response.content)).size == SIZE
    signal = ECGRecordFactory(owner=patient)
    assert client.get(reverse("predictions:picture", kwargs={"uuid": signal.uuid})).status_code == 404


def test_the_result_page_of_a_picture_shows_it_with_what_was_read(patient_client, patient):
    from django.urls import reverse

    prediction = _with_picture(_picture_record(owner=patient))
    html = patient_client.get(reverse("predictions:detail", kwargs={"uuid": prediction.record.uuid})).content.decode()
    assert 'id="picture-overlay"' in html and 'id="picture-reading"' in html
    assert reverse("predictions:picture", kwargs={"uuid": prediction.record.uuid}) in html
    assert "predictions/overlay.js" in html
    plain = DonePredictionFactory(record=ECGRecordFactory(owner=patient))
    html = patient_client.get(reverse("predictions:detail", kwargs={"uuid": plain.record.uuid})).content.decode()
    assert 'id="picture-overlay"' not in html


def _page_photo(size=(1200, 900)):
    from PIL import ImageDraw

    img = Image.new("RGB", size, (90, 80, 70))
    ImageDraw.Draw(img).polygon([(120, 90), (1100, 70), (1130, 840), (90, 820)], fill=(250, 225, 225))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=90)
    return out.getvalue()


def test_the_crop_step_finds_the_page_in_a_photo(client, patient):
    from django.urls import reverse

    client.force_login(patient)
    url = reverse("predictions:page_corners")
    response = client.post(url, {"picture": ContentFile(_page_photo(), name="page.jpg")})
    assert response.status_code == 200
    corners = response.json()["corners"]
    for got, true in zip(corners, [(120, 90), (1100, 70), (1130, 840), (90, 820)]):
        assert abs(got[0] - true[0]) <= 24 and abs(got[1] - true[1]) <= 18, corners
    blank = io.BytesIO()
    Image.new("RGB", (600, 400), (250, 250, 250)).save(blank, format="PNG")
    assert client.post(url, {"picture": ContentFile(blank.getvalue(), name="blank.png")}).json() == {"corners": None}


@pytest.mark.parametrize("data, message", [
    (b"not a picture at all", "This is not a picture that can be read."),
    (b"\\xff\\xd8\\xff" + b"0" * (2 * 1024 * 1024), "Send a copy of at most 2 MB."),
])
def test_the_page_finder_refuses_what_is_not_a_small_picture(client, patient, data, message):
    from django.urls import reverse

    client.force_login(patient)
    response = client.post(reverse("predictions:page_corners"), {"picture": ContentFile(data, name="x.jpg")})
    assert response.status_code == 400 and response.json() == {"error": message}


def test_the_page_finder_needs_a_signed_in_post_with_a_picture(client, patient):
    from django.urls import reverse

    url = reverse("predictions:page_corners")
    assert client.post(url, {"picture": ContentFile(_page_photo(), name="page.jpg")}).status_code == 302
    client.force_login(patient)
    assert client.get(url).status_code == 405
    assert client.post(url, {}).status_code == 400


def test_a_photo_to_take_again_shows_how_a_good_photo_is_taken(patient_client, patient):
    from django.urls import reverse

    from django.utils import timezone

    from predictions.tests.factories import PredictionFactory

    record = _picture_record(owner=patient)
    PredictionFactory(record=record, status="inconclusive", error_code="retake_photo", finished_at=timezone.now(),
                      inconclusive_reason="No ECG trace could be read. To read it, take the photo again: hold the phone still.")
    html = patient_client.get(reverse("predictions:detail", kwargs={"uuid": record.uuid})).content.decode()
    assert 'id="retake-advice"' in html and "predictions/good-photo.svg" in html
    assert reverse("predictions:upload") in html
    other = _picture_record(owner=patient)
    PredictionFactory(record=other, status="inconclusive", error_code="inconclusive", finished_at=timezone.now(),
                      inconclusive_reason="This is not an ECG.")
    assert 'id="retake-advice"' not in patient_client.get(
        reverse("predictions:detail", kwargs={"uuid": other.uuid})).content.decode()


def test_the_page_finder_has_a_budget_per_user(client, patient, other_patient, monkeypatch):
    from django.core.cache import cache
    from django.urls import reverse

    from predictions.throttles import PageFindRateThrottle

    monkeypatch.setattr(PageFindRateThrottle, "THROTTLE_RATES", {**PageFindRateThrottle.THROTTLE_RATES, "page_finds": "2/hour"})
    cache.clear()
    url = reverse("predictions:page_corners")
    client.force_login(patient)
    answers = [client.post(url, {"picture": ContentFile(_page_photo(), name="p.jpg")}).status_code for _ in range(3)]
    assert answers == [200, 200, 429]
    assert "upload this one" in client.post(url, {}).json()["error"]
    client.force_login(other_patient)  # another person's budget is their own
    assert client.post(url, {"picture": ContentFile(_page_photo(), name="p.jpg")}).status_code == 200
    cache.clear()
