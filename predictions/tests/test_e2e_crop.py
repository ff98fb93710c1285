"""The upload page's crop step in a real browser, on a phone's screen (issue 20)."""

import io
import json

import pytest
from django.urls import reverse
from PIL import Image, ImageDraw

from predictions.tests.conftest import log_in_browser

pytestmark = pytest.mark.e2e


def _photo(path, size=(1200, 900)):
    """A photo-like picture: a pink page lying on a darker table."""
    img = Image.new("RGB", size, (90, 80, 70))
    ImageDraw.Draw(img).polygon([(120, 90), (1100, 70), (1130, 840), (90, 820)], fill=(250, 225, 225))
    img.save(path)
    return path


@pytest.mark.django_db(transaction=True)
def test_on_a_phone_the_crop_step_shows_the_photo_and_moved_corners_fill_the_form(
        patient, live_server, browser, client, tmp_path, artifacts_dir):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        log_in_browser(page, client, patient, live_server)
        page.goto(f"{live_server.url}{reverse('predictions:upload')}")
        assert page.locator("#crop-step").is_hidden()  # nothing to crop before a picture is chosen
        page.set_input_files("#id_file", str(_photo(tmp_path / "photo.png")))
        page.wait_for_selector('#crop-step[data-ready="true"]')
        assert page.locator("#crop-step").is_visible()
        page.wait_for_selector('#crop-step[data-detected="true"]')  # the frame starts on the page found
        assert page.input_value("#id_corners") == ""  # untouched: the reader finds the page itself
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # fits the phone's width

        canvas = page.locator("#crop-step canvas").bounding_box()
        scale = canvas["width"] / 1200.0
        handle = page.locator("#crop-step .crop-corner").first.bounding_box()
        start = (handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
        target = (canvas["x"] + 120 * scale, canvas["y"] + 90 * scale)  # the page's top-left corner
        page.mouse.move(*start)
        page.mouse.down()
        page.mouse.move((start[0] + target[0]) / 2, (start[1] + target[1]) / 2)
        page.mouse.move(*target)
        page.mouse.up()
        corners = json.loads(page.input_value("#id_corners"))
        assert len(corners) == 4 and abs(corners[0][0] - 120) <= 8 and abs(corners[0][1] - 90) <= 8
        # The others stay on the page the reader found: the paper's corners, within 2 % of the picture.
        for got, true in zip(corners[1:], [(1100, 70), (1130, 840), (90, 820)]):
            assert abs(got[0] - true[0]) <= 24 and abs(got[1] - true[1]) <= 18, corners

        page.focus("#crop-step .crop-corner >> nth=2")  # the keyboard moves a corner too
        for _ in range(5):
            page.keyboard.press("ArrowRight")
        moved = json.loads(page.input_value("#id_corners"))
        assert moved[2][0] > corners[2][0] and moved[2][1] == corners[2][1]
        page.screenshot(path=str(artifacts_dir / "upload-crop-phone.png"), full_page=True)

        page.click("#crop-step .crop-reset")
        assert page.input_value("#id_corners") == ""
        page.focus("#crop-step .crop-corner >> nth=0")
        for _ in range(3):
            page.keyboard.press("ArrowDown")  # moved again, then sent with the upload
        sent = json.loads(page.input_value("#id_corners"))
        with page.expect_navigation():
            page.click("#upload-submit")
        from predictions.models import ECGRecord

        record = ECGRecord.objects.get(owner=patient)
        assert record.page_corners == [[float(x), float(y)] for x, y in sent]
        page.goto(f"{live_server.url}{reverse('predictions:upload')}")
        buffer = io.BytesIO()  # a signal file has no crop step
        buffer.write(b"0.0\n" * 100)
        page.set_input_files("#id_file", files=[{"name": "ecg.csv", "mimeType": "text/csv", "buffer": buffer.getvalue()}])
        assert page.locator("#crop-step").is_hidden() and page.input_value("#id_corners") == ""
    finally:
        context.close()


@pytest.mark.django_db(transaction=True)
def test_the_result_page_draws_what_was_read_over_the_picture_and_a_switch_hides_it(
        patient, live_server, page, client, tmp_path, artifacts_dir):
    from django.core.files.base import ContentFile

    from predictions.models import ECGRecord
    from predictions.tests.factories import DonePredictionFactory, ECGRecordFactory

    data = _photo(tmp_path / "photo.png").read_bytes()
    record = ECGRecordFactory(owner=patient, original_filename="photo.png", input_kind=ECGRecord.InputKind.IMAGE,
                              file_format=ECGRecord.FileFormat.PNG, file=ContentFile(data, name="source.png"),
                              size_bytes=len(data))
    prediction = DonePredictionFactory(record=record)
    trace = [[x, 450.0 + 60.0 * ((x // 40) % 2)] for x in range(150, 1050, 3)]
    prediction.summary = {**prediction.summary, "picture": {
        "size": [1200, 900], "corners": [[120, 90], [1100, 70], [1130, 840], [90, 820]], "trace": trace, "page": {}}}
    prediction.save(update_fields=["summary"])
    log_in_browser(page, client, patient, live_server)
    page.goto(f"{live_server.url}{reverse('predictions:detail', kwargs={'uuid': record.uuid})}")
    page.wait_for_selector('#picture-overlay[data-ready="true"]')
    assert page.get_attribute("#picture-overlay", "data-drawn") == "overlay"
    canvas = page.locator("#picture-overlay canvas")
    box = canvas.bounding_box()
    assert abs(box["height"] / box["width"] - 0.75) < 0.02  # the picture's own shape
    canvas.screenshot(path=str(artifacts_dir / "picture-overlay.png"))
    page.click("label[for=overlay-toggle]")
    assert page.get_attribute("#picture-overlay", "data-drawn") == "picture"
