"""Beat class colours: one source for pages and pictures, each readable on white and on ECG paper."""

import pytest
from django.urls import reverse

from ml.classes import CODES
from predictions.plots import BEAT_COLOURS


def _luminance(hex_colour):
    def channel(c):
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


@pytest.mark.parametrize("code", CODES)
def test_every_class_colour_has_at_least_4_5_to_1_contrast_on_white(code):
    ratio = 1.05 / (_luminance(BEAT_COLOURS[code]) + 0.05)
    assert ratio >= 4.5, f"{code} {BEAT_COLOURS[code]}: {ratio:.2f}:1"


@pytest.mark.django_db
def test_pages_take_the_class_colours_from_the_same_table(client):
    html = client.get(reverse("home")).content.decode()
    for code, colour in BEAT_COLOURS.items():
        assert f".beat-{code} {{ color: {colour}; }}" in html


@pytest.mark.django_db
def test_the_admin_index_has_one_accounts_section(admin_client):
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert html.count(">Accounts<") <= 1
    assert "Users and care links" in html
