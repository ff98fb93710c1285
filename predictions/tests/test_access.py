"""Who can see what: other patients, unlinked and unverified doctors get 404s; anonymous users log in."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.tests.factories import StaffFactory
from predictions.models import PredictionImage
from predictions.tests import samples
from predictions.tests.factories import DonePredictionFactory, ECGRecordFactory, PredictionImageFactory, ReviewFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def result(patient):
    """A finished result of ``patient`` with a trace image."""
    from django.core.files.base import ContentFile

    record = ECGRecordFactory(owner=patient)
    prediction = DonePredictionFactory(record=record)
    image = PredictionImageFactory(prediction=prediction)
    PredictionImage.objects.create(
        prediction=prediction, kind="spectral", beat_index=2, code="V", probability=0.9,
        file=ContentFile(samples.plain_png(64, 64), name="s.png"),
    )
    return record, prediction, image


def _page_urls(record, image):
    kw = {"uuid": record.uuid}
    return [
        ("get", reverse("predictions:detail", kwargs=kw)),
        ("get", reverse("predictions:status", kwargs=kw)),
        ("get", reverse("predictions:file", kwargs=kw)),
        ("get", reverse("predictions:image", kwargs={**kw, "image_id": image.pk})),
        ("get", reverse("predictions:report", kwargs=kw)),
        ("get", reverse("predictions:fhir", kwargs=kw)),
        ("get", reverse("predictions:delete", kwargs=kw)),
        ("post", reverse("predictions:delete", kwargs=kw)),
        ("post", reverse("predictions:rerun", kwargs=kw)),
        ("post", reverse("predictions:review", kwargs=kw)),
        ("get", reverse("predictions:patient_history", kwargs={"patient_id": record.owner_id})),
    ]


def _api_urls(record, image):
    kw = {"uuid": record.uuid}
    return [
        ("get", reverse("predictions-api:record-detail", kwargs=kw)),
        ("get", reverse("predictions-api:record-status", kwargs=kw)),
        ("get", reverse("predictions-api:record-result", kwargs=kw)),
        ("get", reverse("predictions-api:record-file", kwargs=kw)),
        ("get", reverse("predictions-api:record-image", kwargs={**kw, "image_id": image.pk})),
        ("get", reverse("predictions-api:record-report", kwargs=kw)),
        ("get", reverse("predictions-api:record-fhir", kwargs=kw)),
        ("get", reverse("predictions-api:record-reviews", kwargs=kw)),
        ("post", reverse("predictions-api:record-reviews", kwargs=kw)),
        ("post", reverse("predictions-api:record-rerun", kwargs=kw)),
        ("delete", reverse("predictions-api:record-detail", kwargs=kw)),
        ("get", reverse("predictions-api:record-list") + f"?patient={record.owner.public_id}"),
    ]


@pytest.mark.parametrize("who", ["other_patient", "unlinked_doctor", "unverified_doctor"])
def test_outsiders_get_404_for_every_page_file_and_image(who, request, client, result):
    record, prediction, image = result
    client.force_login(request.getfixturevalue(who))
    for method, url in _page_urls(record, image):
        response = getattr(client, method)(url, {"verdict": "agree"} if method == "post" else None)
        assert response.status_code == 404, (method, url, response.status_code)
    assert record.__class__.objects.filter(pk=record.pk).exists()  # nothing was deleted
    assert prediction.record.predictions.count() == 1  # nothing was re-run


@pytest.mark.parametrize("who", ["other_patient", "unlinked_doctor", "unverified_doctor"])
def test_outsiders_get_404_for_every_api_object(who, request, result):
    record, prediction, image = result
    api = APIClient()
    api.force_authenticate(request.getfixturevalue(who))
    for method, url in _api_urls(record, image):
        response = getattr(api, method)(url, {"verdict": "agree"} if method == "post" else None, format="json")
        assert response.status_code == 404, (method, url, response.status_code)
    # Their own list never contains someone else's record.
    listed = api.get(reverse("predictions-api:record-list")).json()
    assert listed["count"] == 0


def test_anonymous_users_are_sent_to_login_or_refused_by_the_api(client, result):
    record, prediction, image = result
    for method, url in _page_urls(record, image) + [("get", reverse("predictions:history")), ("get", reverse("predictions:upload")), ("get", reverse("predictions:cases"))]:
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert reverse("account_login") in response["Location"]
    api = APIClient()
    for method, url in _api_urls(record, image) + [("post", reverse("predictions-api:record-list"))]:
        assert getattr(api, method)(url).status_code in (401, 403), url


def test_a_linked_doctor_sees_and_reviews_but_cannot_delete(client, result, doctor):
    record, prediction, image = result
    client.force_login(doctor)
    for name in ("predictions:detail", "predictions:file", "predictions:report", "predictions:status"):
        assert client.get(reverse(name, kwargs={"uuid": record.uuid})).status_code == 200, name
    assert client.get(reverse("predictions:image", kwargs={"uuid": record.uuid, "image_id": image.pk})).status_code == 200
    assert client.get(reverse("predictions:patient_history", kwargs={"patient_id": record.owner_id})).status_code == 200
    assert client.post(reverse("predictions:delete", kwargs={"uuid": record.uuid})).status_code == 404
    assert client.post(reverse("predictions:rerun", kwargs={"uuid": record.uuid})).status_code == 404
    response = client.post(reverse("predictions:review", kwargs={"uuid": record.uuid}), {"verdict": "agree", "note": "Fine."})
    assert response.status_code == 302
    assert prediction.reviews.get().doctor == doctor


def test_a_revoked_link_ends_the_doctors_access(client, result, doctor):
    from accounts.models import CareLink
    from accounts.services import care_link_revoke

    record, _, _ = result
    care_link_revoke(patient=record.owner, link=CareLink.objects.get(doctor=doctor))
    client.force_login(doctor)
    assert client.get(reverse("predictions:detail", kwargs={"uuid": record.uuid})).status_code == 404


def test_staff_can_see_but_not_review(client, result):
    record, _, _ = result
    client.force_login(StaffFactory())
    assert client.get(reverse("predictions:detail", kwargs={"uuid": record.uuid})).status_code == 200
    assert client.post(reverse("predictions:review", kwargs={"uuid": record.uuid}), {"verdict": "agree"}).status_code == 404


def test_the_patient_cannot_review_their_own_result(patient_client, result):
    record, prediction, _ = result
    response = patient_client.post(reverse("predictions:review", kwargs={"uuid": record.uuid}), {"verdict": "agree"})
    assert response.status_code == 404
    assert not prediction.reviews.exists()


def test_files_are_never_served_from_a_public_url(settings, result, client):
    record, _, image = result
    assert settings.MEDIA_URL.startswith("/media-not-served")
    assert client.get(settings.MEDIA_URL + record.file.name).status_code == 404
    ReviewFactory(prediction=result[1])


def test_downloads_are_private_and_not_sniffed(patient_client, result):
    record, _, image = result
    response = patient_client.get(reverse("predictions:file", kwargs={"uuid": record.uuid}))
    assert response["Cache-Control"] == "private, no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert record.original_filename in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == record.file.open("rb").read()
