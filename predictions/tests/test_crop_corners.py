"""The crop step's page corners (issue 20): every bad form is refused with a message a person can
act on, and good ones come back as four points."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from predictions.forms import ECGUploadForm

PAGE = "[[10, 12], [990, 8], [1000, 700], [5, 690]]"


def _form(corners):
    upload = SimpleUploadedFile("photo.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64, content_type="image/png")
    return ECGUploadForm(data={"corners": corners}, files={"file": [upload]})


def test_four_corners_in_order_are_kept_as_points():
    form = _form(PAGE)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["corners"] == [[10.0, 12.0], [990.0, 8.0], [1000.0, 700.0], [5.0, 690.0]]


def test_no_corners_means_the_page_is_found_automatically():
    form = _form("")
    assert form.is_valid() and form.cleaned_data["corners"] is None


@pytest.mark.parametrize("corners, message", [
    ("not json", "The page's corners were not understood"),
    ("[[1, 2], [3, 4], [5, 6]]", "The page's corners were not understood"),
    ('[["a", 1], [990, 8], [1000, 700], [5, 690]]', "The page's corners were not understood"),
    ("[[1e400, 12], [990, 8], [1000, 700], [5, 690]]", "The page's corners were not understood"),
    ("[[-5, 12], [990, 8], [1000, 700], [5, 690]]", "The page's corners were not understood"),
    ('{"a": 1}', "The page's corners were not understood"),
    ("null", "The page's corners were not understood"),
    ("[[10, 12], [30, 12], [30, 30], [10, 30]]", "The marked page is too small"),
    ("[[10, 12], [1000, 700], [990, 8], [5, 690]]", "The page's corners cross"),
    ("[[0, 0]" + ", [0, 0]" * 40 + "]", "The page's corners were not understood"),  # longer than the field allows
])
def test_bad_corners_are_refused_with_a_reason(corners, message):
    form = _form(corners)
    assert not form.is_valid()
    assert any(message in error for error in form.errors["corners"])
    assert form.error_code() == "invalid_metadata"
