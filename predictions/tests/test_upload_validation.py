"""Every kind of bad upload is refused before anything is stored or queued, on the page and the API."""

import pytest
from django.urls import reverse

from predictions.models import BeatCount, ECGRecord, Prediction, PredictionImage
from predictions.tests import samples
from predictions.tests.conftest import media_files, upload

pytestmark = pytest.mark.django_db


def _nan_csv(csv_bytes):
    lines = csv_bytes.decode().splitlines()
    lines[100] = lines[100].split(",")[0] + ",nan"
    return ("\n".join(lines) + "\n").encode()


# (id, files(data_dir, wfdb_pair, csv_bytes) -> list, form data, expected code, words the message contains)
BAD_UPLOADS = [
    ("empty", lambda d, w, c: [upload("ecg.csv", b"")], {}, "empty", "empty"),
    ("whitespace-only", lambda d, w, c: [upload("ecg.csv", b"  \n\n ")], {}, "empty", "empty"),
    ("exe-renamed-png", lambda d, w, c: [upload("ecg.png", b"MZ\x90\x00\x03" + bytes(range(256)) * 8)], {}, "unsupported_format", "not a recognised"),
    ("text-renamed-png", lambda d, w, c: [upload("ecg.png", b"Dear doctor, this is not an image at all.\n")], {}, "unsupported_format", "not a recognised"),
    ("gif", lambda d, w, c: [upload("ecg.gif", b"GIF89a" + b"\x00" * 64)], {}, "unsupported_format", "GIF"),
    ("decompression-bomb", lambda d, w, c: [upload("bomb.png", samples.png_declaring(30000, 30000))], {}, "decompression_bomb", "decompression bomb"),
    ("huge-dimensions", lambda d, w, c: [upload("wide.png", samples.png_declaring(25000, 40, compress_rows=False))], {}, "image_too_large", "25000 x 40"),
    ("tiny-image", lambda d, w, c: [upload("tiny.png", samples.plain_png(10, 10))], {}, "image_too_small", "too small"),
    ("truncated-png", lambda d, w, c: [upload("cut.png", samples.plain_png()[:200])], {}, "corrupt_image", "damaged"),
    ("garbage-pdf", lambda d, w, c: [upload("ecg.pdf", b"%PDF-1.4\nthis is not really a pdf\n")], {}, "corrupt_pdf", "PDF"),
    ("hea-without-dat", lambda d, w, c: [upload("x119.hea", w[0])], {}, "missing_file", ".dat"),
    ("dat-without-hea", lambda d, w, c: [upload("x119.dat", w[1])], {}, "missing_file", ".hea"),
    ("two-unrelated-files", lambda d, w, c: [upload("a.csv", c), upload("b.csv", c)], {}, "too_many_files", "WFDB"),
    ("malformed-csv", lambda d, w, c: [upload("ecg.csv", b"time,MLII\n0.0,0.1\nfoo,bar,baz\n1,2\nqux;;\n" + b"x,y\n" * 50)], {}, "unsupported_format", "numbers"),
    ("csv-without-sampling-rate", lambda d, w, c: [upload("ecg.csv", samples.mitdb_csv(d, with_time=False))], {}, "bad_sampling_rate", "sampling rate"),
    ("csv-with-nan", lambda d, w, c: [upload("ecg.csv", _nan_csv(c))], {}, "invalid_signal", "NaN"),
    ("edf-garbage", lambda d, w, c: [upload("ecg.edf", b"0       " + b"\x07garbage" * 64)], {}, "unsupported_format", "EDF"),
    ("no-file", lambda d, w, c: [], {}, "missing_file", "Choose an ECG file"),
    ("future-date", lambda d, w, c: [upload("ecg.csv", c)], {"recorded_on": "2999-01-01"}, "invalid_metadata", "future"),
    ("absurd-sampling-rate", lambda d, w, c: [upload("ecg.csv", c)], {"sampling_rate": "1000000"}, "invalid_metadata", "5000 Hz"),
    ("negative-sampling-rate", lambda d, w, c: [upload("ecg.csv", c)], {"sampling_rate": "-5"}, "invalid_metadata", "50 Hz"),
    ("lead-with-markup", lambda d, w, c: [upload("ecg.csv", c)], {"lead": "<script>"}, "invalid_metadata", "letters"),
]


def _assert_nothing_stored(settings):
    assert ECGRecord.objects.count() == 0
    assert Prediction.objects.count() == 0
    assert BeatCount.objects.count() == 0
    assert PredictionImage.objects.count() == 0
    assert media_files(settings) == []


@pytest.fixture
def make_files(data_dir, wfdb_pair, csv_bytes):
    return lambda build: build(data_dir, wfdb_pair, csv_bytes)


@pytest.mark.parametrize("case", BAD_UPLOADS, ids=[c[0] for c in BAD_UPLOADS])
def test_bad_upload_on_the_page_shows_why_and_stores_nothing(case, patient_client, make_files, settings):
    _, build, extra, _, words = case
    response = patient_client.post(reverse("predictions:upload"), {"file": make_files(build), **extra})
    assert response.status_code == 400
    html = response.content.decode()
    assert words.lower() in html.lower()
    assert 'role="alert"' in html
    _assert_nothing_stored(settings)


@pytest.mark.parametrize("case", BAD_UPLOADS, ids=[c[0] for c in BAD_UPLOADS])
def test_bad_upload_through_the_api_is_a_400_with_a_code(case, api, make_files, settings):
    _, build, extra, code, words = case
    response = api.post(reverse("predictions-api:record-list"), {"file": make_files(build), **extra}, format="multipart")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == code
    assert words.lower() in body["detail"].lower()
    _assert_nothing_stored(settings)


def test_oversized_upload_is_refused_before_reading(patient_client, api, csv_bytes, settings):
    settings.ECG_UPLOAD_MAX_BYTES = 1000
    response = patient_client.post(reverse("predictions:upload"), {"file": upload("big.csv", csv_bytes)})
    assert response.status_code == 413  # refused from its Content-Length (ecgportal.uploads)
    assert "the limit is" in response.content.decode()
    response = api.post(reverse("predictions-api:record-list"), {"file": upload("big.csv", csv_bytes)}, format="multipart")
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    _assert_nothing_stored(settings)


def test_a_failing_database_write_leaves_no_file_behind(patient, wfdb_uploads, settings, monkeypatch):
    from predictions import services

    def explode(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "_prediction_create", explode)  # the prediction's INSERT, after the record's
    with pytest.raises(RuntimeError):
        services.ecg_record_create(owner=patient, files=wfdb_uploads)
    _assert_nothing_stored(settings)


@pytest.mark.django_db(transaction=True)
def test_the_same_file_sent_20_times_at_once_makes_one_record(patient, csv_bytes, settings):
    """A double click, a retried request, a script sending twice: one ECG, one analysis; the
    other 19 get the same record back and leave no file behind."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import timedelta

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection

    from predictions import services
    from predictions.models import ECGRecord, Prediction

    def one(_):
        try:
            return services.ecg_record_create(
                owner=patient, files=[SimpleUploadedFile("same.csv", csv_bytes, content_type="text/csv")],
                request_prediction=True)
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        records = list(pool.map(one, range(20)))
    assert ECGRecord.objects.filter(owner=patient).count() == 1
    assert Prediction.objects.filter(record__owner=patient).count() == 1
    assert len({r.uuid for r in records}) == 1 and sum(getattr(r, "was_duplicate", False) for r in records) == 19
    uploaded = [p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file() and p.suffix not in (".npy", ".png")]
    assert len(uploaded) == 1  # the one record's file; the duplicates' copies were removed
    # A minute later it is a new recording of the same file: kept (e.g. re-sent on purpose).
    ECGRecord.objects.update(created_at=ECGRecord.objects.get().created_at - timedelta(seconds=61))
    assert not getattr(one(0), "was_duplicate", False)
    assert ECGRecord.objects.filter(owner=patient).count() == 2
