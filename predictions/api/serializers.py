"""Serializers: thin shapes over models and selector output; validation lives in forms and services."""

from django.urls import reverse
from rest_framework import serializers

from ml import assessment as clinical
from ml.classes import CODES
from predictions.models import ECGRecord, Prediction, Review


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable error code, e.g. `too_large`, `missing_file`.")
    detail = serializers.CharField(help_text="What is wrong, written for a person.")
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


class UploadSerializer(serializers.Serializer):
    """The multipart upload (documentation only: the upload form validates it)."""

    file = serializers.ListField(
        child=serializers.FileField(),
        help_text="One ECG file, or a WFDB record's .hea and .dat files (send `file` twice).",
    )
    recorded_on = serializers.DateField(required=False)
    lead = serializers.CharField(required=False, max_length=32)
    sampling_rate = serializers.FloatField(
        required=False, help_text=f"Hz, {ECGRecord.MIN_SAMPLING_RATE}-{ECGRecord.MAX_SAMPLING_RATE}; only for a file that does not say."
    )
    note = serializers.CharField(required=False, max_length=2000)
    symptoms = serializers.ListField(
        child=serializers.ChoiceField(choices=list(clinical.SYMPTOMS)), required=False,
        help_text="What the patient felt when recording (send `symptoms` once per symptom); chest_pain or "
                  "fainting with an abnormal reading makes it urgent.")


class PredictionStatusSerializer(serializers.ModelSerializer):
    is_finished = serializers.BooleanField(read_only=True)

    class Meta:
        model = Prediction
        fields = [
            "uuid",
            "status",
            "is_finished",
            "created_at",
            "started_at",
            "finished_at",
            "duration_ms",
            "attempts",
            "model_version",
            "error_code",
            "error_message",
            "inconclusive_reason",
            "level",
        ]
        read_only_fields = fields


class ECGRecordSerializer(serializers.ModelSerializer):
    owner = serializers.UUIDField(source="owner.public_id", read_only=True, help_text="The owner's public id.")
    prediction = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = ECGRecord
        fields = [
            "uuid",
            "owner",
            "original_filename",
            "companion_filename",
            "input_kind",
            "file_format",
            "size_bytes",
            "sha256",
            "recorded_on",
            "lead",
            "sampling_rate",
            "note",
            "created_at",
            "prediction",
            "links",
        ]
        read_only_fields = fields

    def get_prediction(self, record) -> PredictionStatusSerializer(allow_null=True):
        prediction = record.current_prediction
        return PredictionStatusSerializer(prediction).data if prediction else None

    def get_links(self, record) -> dict[str, str]:
        def url(name, **kw):
            path = reverse(name, kwargs={"uuid": record.uuid, **kw})
            request = self.context.get("request")
            return request.build_absolute_uri(path) if request else path

        return {
            "page": url("predictions:detail"),
            "detail": url("predictions-api:record-detail"),
            "status": url("predictions-api:record-status"),
            "result": url("predictions-api:record-result"),
            "file": url("predictions-api:record-file"),
            "report": url("predictions-api:record-report"),
        }


class ImageSerializer(serializers.Serializer):
    kind = serializers.CharField()
    beat_index = serializers.IntegerField(allow_null=True)
    code = serializers.CharField(allow_blank=True)
    probability = serializers.FloatField(allow_null=True)
    url = serializers.CharField()


class ReviewSerializer(serializers.ModelSerializer):
    """A doctor's review. ``beat_indices`` (0-based) are relabelled ``corrected_code``;
    ``finding_decisions`` maps a finding's key (``code`` or ``code@start_s``, as in the
    result's assessment) to ``confirmed`` or ``rejected``; ``rhythm`` and ``added_findings`` are
    SNOMED CT codes from the review form's lists; ``complete``: the doctor read the whole ECG."""

    beat_indices = serializers.ListField(child=serializers.IntegerField(min_value=0), required=False, max_length=100000)
    finding_decisions = serializers.DictField(
        child=serializers.ChoiceField(choices=["confirmed", "rejected"]), required=False)
    rhythm = serializers.ChoiceField(choices=[c for c, _ in clinical.CLINICIAN_RHYTHMS], required=False, allow_blank=True)
    added_findings = serializers.ListField(
        child=serializers.ChoiceField(choices=[c for c, _ in clinical.CLINICIAN_FINDINGS]), required=False)

    class Meta:
        model = Review
        fields = ["id", "doctor_name", "verdict", "beat_indices", "corrected_code", "finding_decisions", "rhythm",
                  "added_findings", "complete", "note", "created_at"]
        read_only_fields = ["id", "doctor_name", "created_at"]
        extra_kwargs = {"corrected_code": {"required": False}, "note": {"required": False}}

    def validate(self, data):
        if data.get("beat_indices") and not data.get("corrected_code"):
            raise serializers.ValidationError({"corrected_code": "Give the correct class for these beats."})
        if data.get("corrected_code") and not data.get("beat_indices"):
            raise serializers.ValidationError({"beat_indices": "Say which beats to relabel."})
        if data.get("verdict") == Review.Verdict.NOTE and not data.get("note"):
            raise serializers.ValidationError({"note": "Write the note."})
        return data


class ClassArticleSerializer(serializers.Serializer):
    """An article about a predicted beat class, with the conditions it is associated with."""

    code = serializers.CharField()
    title = serializers.CharField()
    url = serializers.CharField()
    conditions = serializers.ListField(child=serializers.DictField(child=serializers.CharField()))


class LowConfidenceBeatSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    time_s = serializers.FloatField(allow_null=True)
    code = serializers.CharField()
    confidence = serializers.FloatField()


class PlainLanguageSerializer(serializers.Serializer):
    """What the result means, in words a patient can read (``predictions.plain_language``)."""

    sentences = serializers.ListField(child=serializers.CharField())
    advice = serializers.CharField()
    urgent = serializers.BooleanField()
    not_assessed = serializers.ListField(child=serializers.CharField())


class FindingSerializer(serializers.Serializer):
    """One statement of the clinical reading, with its SNOMED CT code and evidence."""

    code = serializers.CharField(help_text="SNOMED CT concept id.")
    display = serializers.CharField()
    severity = serializers.ChoiceField(choices=["info", "abnormal", "urgent"])
    start_s = serializers.FloatField(allow_null=True, help_text="Seconds from the start; null for whole-record statements.")
    end_s = serializers.FloatField(allow_null=True)
    leads = serializers.ListField(child=serializers.CharField())
    value = serializers.FloatField(allow_null=True)
    unit = serializers.CharField(allow_null=True)
    evidence = serializers.CharField(allow_blank=True)
    unsure = serializers.BooleanField(help_text="Built on beats the model was unsure of.")
    basis = serializers.CharField(required=False, default="",
                                  help_text="rhythm, beats, events, intervals, leads (12-lead reading) or clinician.")
    reviewed = serializers.CharField(required=False, default="", help_text="confirmed or added by a doctor's review.")


class NotAssessedSerializer(serializers.Serializer):
    what = serializers.CharField()
    why = serializers.CharField()
    limit = serializers.ChoiceField(choices=["input", "product"],
                                    help_text="input: the recording cannot show it; product: this version does not read it.")


class ReadingReviewSerializer(serializers.Serializer):
    by = serializers.CharField(help_text="The doctor who last reviewed the reading.")
    complete = serializers.BooleanField(help_text="The doctor read the whole ECG.")
    rejected = FindingSerializer(many=True, help_text="The model's findings the doctor did not confirm.")
    read_by_clinician = serializers.ListField(child=serializers.CharField(),
                                              help_text="What this version does not read, read by the doctor.")


class AssessmentSerializer(serializers.Serializer):
    """The clinical reading (``ml.assessment``), computed once by the worker; every surface shows it."""

    level = serializers.ChoiceField(choices=Prediction.Level.choices)
    findings = FindingSerializer(many=True)
    measurements = serializers.DictField(
        child=serializers.FloatField(allow_null=True),
        help_text="heart_rate_bpm, pr_ms, qrs_ms, qt_ms, qtc_ms, axis_deg: those measured.")
    not_assessed = NotAssessedSerializer(many=True)
    symptoms = serializers.ListField(child=serializers.ChoiceField(choices=list(clinical.SYMPTOMS)), required=False,
                                     help_text="What the patient reported with the recording.")
    review = ReadingReviewSerializer(required=False, help_text="Present once a doctor reviewed the reading.")


class ResultSerializer(serializers.Serializer):
    """The full result of the record's current prediction."""

    status = serializers.ChoiceField(choices=Prediction.Status.choices)
    assessment = AssessmentSerializer(allow_null=True, help_text="The clinical reading: what to act on.")
    conclusion = serializers.CharField(help_text="The reading in one paragraph (as the PDF and FHIR say it).")
    plain_language = PlainLanguageSerializer(allow_null=True, help_text="What the result means, for a patient.")
    model_version = serializers.CharField()
    finished_at = serializers.DateTimeField(allow_null=True)
    inconclusive_reason = serializers.CharField(allow_blank=True)
    error_code = serializers.CharField(allow_blank=True)
    error_message = serializers.CharField(allow_blank=True)
    beat_total = serializers.IntegerField(allow_null=True)
    heart_rate_bpm = serializers.FloatField(allow_null=True)
    heart_rate = serializers.DictField(child=serializers.FloatField(allow_null=True))
    confidence = serializers.FloatField(allow_null=True)
    counts = serializers.DictField(child=serializers.IntegerField(), help_text=f"Beats per class code ({', '.join(CODES)}).")
    beats = serializers.JSONField(help_text="Per-beat arrays: r_peaks (sample index), labels (class code), confidence.")
    low_confidence = LowConfidenceBeatSerializer(many=True)
    images = ImageSerializer(many=True)
    articles = ClassArticleSerializer(many=True)
    reviews = ReviewSerializer(many=True)
    summary = serializers.JSONField()
    disclaimer = serializers.CharField()


class TrendPointSerializer(serializers.Serializer):
    """One recording's reading on the patient's timeline (``selectors.patient_trends``)."""

    record = serializers.UUIDField()
    date = serializers.DateField(help_text="The recording date, else the upload date.")
    level = serializers.ChoiceField(choices=Prediction.Level.choices)
    heart_rate = serializers.DictField(child=serializers.FloatField(allow_null=True), help_text="median, min, max (/min).")
    af_burden_pct = serializers.FloatField(allow_null=True, help_text="Share of the recording in AF; null: rhythm not read.")
    ectopic_pct = serializers.FloatField(allow_null=True, help_text="Premature ventricular and atrial beats, % of beats.")
    qtc_ms = serializers.FloatField(allow_null=True, help_text="Null where not measured.")
