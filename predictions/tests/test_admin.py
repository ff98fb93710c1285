import pytest
from django.urls import reverse

from accounts.tests.factories import StaffFactory
from predictions.tests.factories import DonePredictionFactory, ReviewFactory

pytestmark = pytest.mark.django_db


def test_staff_browse_records_predictions_and_reviews_in_the_admin(client):
    review = ReviewFactory(prediction=DonePredictionFactory())
    prediction = review.prediction
    client.force_login(StaffFactory())
    for url in (
        reverse("admin:predictions_ecgrecord_changelist"),
        reverse("admin:predictions_ecgrecord_change", args=[prediction.record.pk]),
        reverse("admin:predictions_prediction_changelist") + "?status=done",
        reverse("admin:predictions_prediction_change", args=[prediction.pk]),
        reverse("admin:predictions_review_changelist"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
    assert prediction.record.original_filename in client.get(reverse("admin:predictions_ecgrecord_changelist")).content.decode()
