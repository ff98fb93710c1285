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
