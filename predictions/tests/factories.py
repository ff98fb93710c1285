import hashlib
import io

import factory
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from accounts.models import CareLink
from accounts.tests.factories import DoctorFactory, UserFactory
from ml.assessment import assess, inconclusive
from predictions.models import BeatCount, ECGRecord, Prediction, PredictionImage, Review


def png_bytes(width=64, height=48, colour=255):
    out = io.BytesIO()
    Image.new("L", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


CSV_BYTES = b"time,MLII\n" + b"".join(f"{i / 360:.5f},{(i % 300) / 300:.3f}\n".encode() for i in range(360 * 5))


class ECGRecordFactory(factory.django.DjangoModelFactory):
    """A stored CSV record (no prediction); pass ``file_format``/``file`` for others."""

    class Meta:
        model = ECGRecord

    owner = factory.SubFactory(UserFactory)
    original_filename = factory.Sequence(lambda n: f"ecg-{n}.csv")
    input_kind = ECGRecord.InputKind.SIGNAL
    file_format = ECGRecord.FileFormat.CSV
    file = factory.LazyFunction(lambda: ContentFile(CSV_BYTES, name="source.csv"))
    size_bytes = len(CSV_BYTES)
    sha256 = hashlib.sha256(CSV_BYTES).hexdigest()
    note = ""


def reading_of(status, reason=""):
    """Return the stored assessment (ml.assessment) a prediction of ``status`` carries: a normal
    reading of 8 normal beats when done, the reason when inconclusive, none otherwise."""
    if status == Prediction.Status.DONE:
        return assess(kind="signal", n_leads=2, lead="MLII", duration_s=6.7, counts={"N": 8},
                      heart_rate={"mean": 72.0}).to_dict()
    if status == Prediction.Status.INCONCLUSIVE:
        return inconclusive(reason or "The ECG could not be read.").to_dict()
    return {}


class PredictionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prediction

    record = factory.SubFactory(ECGRecordFactory)
    status = Prediction.Status.PENDING
    assessment = factory.LazyAttribute(lambda o: reading_of(o.status, getattr(o, "inconclusive_reason", "")))
    level = factory.LazyAttribute(lambda o: o.assessment.get("level", ""))


class DonePredictionFactory(PredictionFactory):
    """A finished prediction: 8 beats, 6 normal and 2 premature ventricular (beat 3 unsure)."""

    class Meta:
        skip_postgeneration_save = True

    status = Prediction.Status.DONE
    model_version = "test-model-1"
    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyAttribute(lambda o: o.started_at)
    duration_ms = 420
    beat_total = 8
    heart_rate_bpm = 72.0
    confidence = 0.91
    summary = factory.LazyFunction(
        lambda: {
            "fs": 360.0,
            "duration_s": 6.7,
            "lead": "MLII",
            "kind": "signal",
            "heart_rate_bpm": {"mean": 72.0, "median": 71.0, "low": 64.0, "high": 84.0, "min": 60.0, "max": 90.0},
            "counts": {"N": 6, "V": 2},
            "notes": ["Lead MLII used (2 leads in file)"],
        }
    )
    # The real reading of these beats (ml.assessment): 2 of 8 ventricular, so "abnormal".
    assessment = factory.LazyFunction(
        lambda: assess(kind="signal", n_leads=2, lead="MLII", duration_s=6.7, counts={"N": 6, "V": 2},
                       heart_rate={"mean": 72.0}).to_dict()
    )
    level = factory.LazyAttribute(lambda o: o.assessment["level"])
    beats = factory.LazyFunction(
        lambda: {
            "r_peaks": [100, 400, 700, 1000, 1300, 1600, 1900, 2200],
            "labels": ["N", "N", "V", "N", "N", "V", "N", "N"],
            "confidence": [0.99, 0.98, 0.52, 0.97, 0.99, 0.93, 0.99, 0.98],
        }
    )

    @factory.post_generation
    def counts(obj, create, extracted, **kwargs):
        if create:
            for code, n in (extracted or {"N": 6, "V": 2}).items():
                BeatCount.objects.create(prediction=obj, code=code, count=n)


class PredictionImageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PredictionImage

    prediction = factory.SubFactory(DonePredictionFactory)
    kind = PredictionImage.Kind.TRACE
    file = factory.LazyFunction(lambda: ContentFile(png_bytes(), name="trace.png"))


class ReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Review

    prediction = factory.SubFactory(DonePredictionFactory)
    doctor = factory.SubFactory(DoctorFactory)
    doctor_name = factory.LazyAttribute(lambda o: o.doctor.get_full_name() or o.doctor.email)
    verdict = Review.Verdict.AGREE
    note = "Looks right to me."


def link(*, patient, doctor, status=CareLink.Status.ACTIVE):
    """Return an active CareLink from ``patient`` to ``doctor`` (made directly, even if unverified)."""
    return CareLink.objects.create(
        patient=patient,
        doctor=doctor,
        requested_by=patient,
        status=status,
        activated_at=timezone.now() if status == CareLink.Status.ACTIVE else None,
    )
