import datetime
import hashlib

import factory
from django.utils import timezone

from accounts.tests.factories import UserFactory
from predictions.models import ECGRecord, Prediction
from predictions.tests.factories import reading_of


class RecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ECGRecord

    owner = factory.SubFactory(UserFactory)
    file = factory.Sequence(lambda n: f"ecg/test/{n}.png")
    original_filename = "trace.png"
    input_kind = "image"
    file_format = "png"
    size_bytes = 1234
    sha256 = hashlib.sha256(b"x").hexdigest()


class PredictionFactory(factory.django.DjangoModelFactory):
    """A finished, successful prediction by default; pass status and the matching fields for others."""

    class Meta:
        model = Prediction

    record = factory.SubFactory(RecordFactory)
    status = "done"
    assessment = factory.LazyAttribute(lambda o: reading_of(o.status, getattr(o, "inconclusive_reason", "")))
    level = factory.LazyAttribute(lambda o: o.assessment.get("level", ""))
    is_current = False
    model_version = "test"
    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyAttribute(
        lambda o: o.started_at + datetime.timedelta(milliseconds=o.duration_ms or 0) if o.status in Prediction.FINISHED else None
    )
    duration_ms = 100
