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
        assert corners[2] == [round(1200 * 0.96), round(900 * 0.96)]  # the others stay where they were

        page.focus("#crop-step .crop-corner >> nth=2")  # the keyboard moves a corner too
        for _ in range(5):
            page.keyboard.press("ArrowRight")
        moved = json.loads(page.input_value("#id_corners"))
        assert moved[2][0] > corners[2][0] and moved[2][1] == corners[2][1]
        page.screenshot(path=str(artifacts_dir / "upload-crop-phone.png"), full_page=True)

        page.click("#crop-step .crop-reset")
        assert page.input_value("#id_corners") == ""
        buffer = io.BytesIO()  # a signal file has no crop step
        buffer.write(b"0.0\n" * 100)
        page.set_input_files("#id_file", files=[{"name": "ecg.csv", "mimeType": "text/csv", "buffer": buffer.getvalue()}])
        assert page.locator("#crop-step").is_hidden() and page.input_value("#id_corners") == ""
    finally:
        context.close()
