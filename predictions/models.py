"""Uploaded ECG records, the predictions made on them, and doctors' reviews of those predictions.

Files live on the default storage, which is private (never served by URL): views stream them
after checking who asks. Stored names hold no user-supplied text (file names may carry a
patient's name); the original name is kept in a column instead.
"""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from ml.classes import CODES
from ml.io.recording import MAX_FS, MIN_FS

CODE_CHOICES = [(c, c) for c in CODES]

# Stored file extension per format; the WFDB header keeps ".hea", its samples ".dat".
FORMAT_EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp", "heic": "heic", "bmp": "bmp", "tiff": "tif",
                     "pdf": "pdf", "wfdb": "hea", "csv": "csv", "edf": "edf"}


def ecg_file_path(instance, filename):
    """Return the storage name of a record's main file: a folder per record, no user text."""
    ext = FORMAT_EXTENSIONS.get(instance.file_format, "bin")
    return f"ecg/{instance.uuid}/source.{ext}"


def ecg_companion_path(instance, filename):
    """Return the storage name of a WFDB record's sample file."""
    return f"ecg/{instance.uuid}/source.dat"


def prediction_signal_path(instance, filename):
    """Return the storage name of a filtered signal a prediction keeps for the trace viewer
    (``signal.npy``, the analysed lead; ``leads.npy``, every lead of a multi-lead input)."""
    name = "leads.npy" if filename.startswith("leads") else "signal.npy"
    return f"ecg/{instance.record.uuid}/{instance.uuid}/{name}"


def prediction_image_path(instance, filename):
    """Return the storage name of an image derived by a prediction."""
    prediction = instance.prediction
    beat = "" if instance.beat_index is None else f"-{instance.beat_index}"
    return f"ecg/{prediction.record.uuid}/{prediction.uuid}/{instance.kind}{beat}.png"


def stage_cache_key(prediction_id):
    """Return the cache key of the step a running analysis is at (``Prediction.Stage``): the worker
    reports it there, not in the row (``services.prediction_report_stage``)."""
    return f"prediction-stage:{int(prediction_id)}"


def status_channel(prediction_id):
    """Return the Redis pub/sub channel told when a prediction's status or stage changes (the
    status long-poll waits on it). Channels are shared by every Redis database number, so the name
    carries the PostgreSQL database's: two portals on one Redis do not wake each other's waits."""
    from django.db import connection

    return f"ecgportal:{connection.settings_dict['NAME']}:prediction:{int(prediction_id)}"


# What a message on ``status_channel`` says changed: the status (or whether it is current), or
# only the stage of a running analysis. A hint only: a waiting read looks at the database before
# it answers, and a read that shows no stage need not look for a stage.
STATUS_NEWS = b"status"
STAGE_NEWS = b"stage"


IMAGE_FORMATS = ("png", "jpeg", "webp", "heic", "bmp", "tiff", "pdf")
SIGNAL_FORMATS = ("wfdb", "csv", "edf")


class ECGRecord(models.Model):
    """One uploaded ECG: an image or a signal file (a WFDB record is two files)."""

    class InputKind(models.TextChoices):
        IMAGE = "image", "Image"
        SIGNAL = "signal", "Signal file"

    class FileFormat(models.TextChoices):
        PNG = "png", "PNG image"
        JPEG = "jpeg", "JPEG image"
        WEBP = "webp", "WebP image"
        HEIC = "heic", "HEIC/HEIF photo"
        BMP = "bmp", "BMP image"
        TIFF = "tiff", "TIFF image"
        PDF = "pdf", "PDF document"
        WFDB = "wfdb", "WFDB record"
        CSV = "csv", "CSV / text"
        EDF = "edf", "EDF"

    IMAGE_FORMATS = IMAGE_FORMATS
    SIGNAL_FORMATS = SIGNAL_FORMATS
    # One rule for the typed sampling rate, the same bounds as the readers' (ml.io.recording).
    MIN_SAMPLING_RATE = int(MIN_FS)
    MAX_SAMPLING_RATE = int(MAX_FS)
    SAMPLING_RATE_MESSAGE = (
        f"A sampling rate must be at least {int(MIN_FS)} Hz and at most {int(MAX_FS)} Hz: "
        "no ECG is recorded outside that range."
    )

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ecg_records")
    file = models.FileField(upload_to=ecg_file_path, max_length=255)
    companion_file = models.FileField(upload_to=ecg_companion_path, max_length=255, blank=True)
    original_filename = models.CharField(max_length=255)
    companion_filename = models.CharField(max_length=255, blank=True)
    input_kind = models.CharField(max_length=8, choices=InputKind.choices)
    file_format = models.CharField(max_length=8, choices=FileFormat.choices)
    size_bytes = models.PositiveBigIntegerField(help_text="Total bytes uploaded (both files of a WFDB record).")
    sha256 = models.CharField(max_length=64, help_text="SHA-256 of the main file.")
    recorded_on = models.DateField(null=True, blank=True)
    lead = models.CharField(max_length=32, blank=True)
    sampling_rate = models.FloatField(null=True, blank=True, help_text="Hz, as typed by the user.")
    note = models.TextField(max_length=2000, blank=True)
    symptoms = models.JSONField(default=list, blank=True,
                                help_text="What the patient felt when recording (ml.assessment.SYMPTOMS keys).")
    # A picture's page corners as the person marked them in the crop step ([[x, y] * 4], top-left,
    # top-right, bottom-right, bottom-left, pixels of the picture as displayed); null: found by the reader.
    page_corners = models.JSONField(null=True, blank=True)
    # The doctors' links (scope "chosen") this record is shared in; links of scope "all" see every record.
    shared_in = models.ManyToManyField("accounts.CareLink", blank=True, related_name="records")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "-created_at"], name="ecgrecord_owner_recent")]
        constraints = [
            models.CheckConstraint(condition=Q(size_bytes__gt=0), name="ecgrecord_not_empty"),
            models.CheckConstraint(condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="ecgrecord_sha256_hex"),
            models.CheckConstraint(
                condition=Q(input_kind="image", file_format__in=IMAGE_FORMATS)
                | Q(input_kind="signal", file_format__in=SIGNAL_FORMATS),
                name="ecgrecord_kind_matches_format",
            ),
            # A WFDB record is a header and its samples; no other format has a companion.
            models.CheckConstraint(
                condition=(Q(file_format="wfdb") & ~Q(companion_file=""))
                | (~Q(file_format="wfdb") & Q(companion_file="")),
                name="ecgrecord_companion_iff_wfdb",
            ),
            models.CheckConstraint(
                condition=Q(sampling_rate__isnull=True)
                | Q(sampling_rate__gte=int(MIN_FS), sampling_rate__lte=int(MAX_FS)),
                name="ecgrecord_sampling_rate_plausible",
                violation_error_message=(
                    f"A sampling rate must be at least {int(MIN_FS)} Hz and at most {int(MAX_FS)} Hz: "
                    "no ECG is recorded outside that range."
                ),
            ),
        ]

    def __str__(self):
        return f"{self.original_filename} ({self.created_at:%Y-%m-%d})"

    def clean(self):
        if self.recorded_on and self.recorded_on > timezone.localdate():
            raise ValidationError({"recorded_on": "The recording date cannot be in the future."})

    @property
    def current_prediction(self):
        """Return the prediction shown for this record (``current``: prefetched when listed, set
        by the service that created it)."""
        cached = getattr(self, "current", None)
        if cached is not None:
            return cached[0] if cached else None
        return self.predictions.filter(is_current=True).first()

    def refresh_from_db(self, using=None, fields=None, from_queryset=None):
        """Reload the record; a whole reload forgets ``current`` too, as Django forgets prefetches."""
        if fields is None:
            self.__dict__.pop("current", None)
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)

    def file_names(self):
        """Return the storage names of every file this record owns (derived images included)."""
        names = [f.name for f in (self.file, self.companion_file) if f]
        names += [name for name in self.predictions.exclude(signal="").values_list("signal", flat=True)]
        names += [name for name in self.predictions.exclude(leads_signal="").values_list("leads_signal", flat=True)]
        for image in PredictionImage.objects.filter(prediction__record=self):
            if image.file:
                names.append(image.file.name)
        return names


class Prediction(models.Model):
    """One run of the classifier on a record. A re-run adds a row; one row per record is current."""

    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        INCONCLUSIVE = "inconclusive", "Inconclusive"

    FINISHED = (Status.DONE, Status.FAILED, Status.INCONCLUSIVE)

    class Level(models.TextChoices):
        """The level of the clinical reading (``ml.assessment``), most pressing first."""

        URGENT = "urgent", "Urgent"
        ABNORMAL = "abnormal", "Abnormal"
        INCONCLUSIVE = "inconclusive", "Inconclusive"
        NORMAL = "normal", "Normal"

    class Stage(models.TextChoices):
        """The steps of a running analysis, in order (``ml.analyse`` reports them)."""

        READING = "reading", "Reading the file"
        FINDING_BEATS = "finding_beats", "Finding every heartbeat"
        CLASSIFYING = "classifying", "Classifying each beat"
        SAVING = "saving", "Saving the result"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    record = models.ForeignKey(ECGRecord, on_delete=models.CASCADE, related_name="predictions")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    is_current = models.BooleanField(default=True)
    model_version = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    queued_at = models.DateTimeField(default=timezone.now, help_text="Last time the task was sent.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Analysis time in the worker.")
    attempts = models.PositiveSmallIntegerField(default=0)
    task_id = models.CharField(max_length=64, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    # The clinical reading, computed once by the worker (ml.assessment): every surface reads it.
    assessment = models.JSONField(default=dict, blank=True,
                                  help_text="level, findings, measurements and what was not assessed (ml.assessment).")
    level = models.CharField(max_length=16, choices=Level.choices, blank=True, db_index=True,
                             help_text="The assessment's level, kept as a column to sort and filter by.")
    beats = models.JSONField(
        default=dict, blank=True, help_text="Compact per-beat arrays: r_peaks, labels, probabilities."
    )
    beat_total = models.PositiveIntegerField(null=True, blank=True)
    heart_rate_bpm = models.FloatField(null=True, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    inconclusive_reason = models.TextField(blank=True)
    signal = models.FileField(
        upload_to=prediction_signal_path, max_length=255, blank=True,
        help_text="The filtered signal as read (float16 .npy, mV): the result page's trace viewer draws it.",
    )
    signal_fs = models.FloatField(null=True, blank=True, help_text="Sampling rate of the stored signal, Hz.")
    leads_signal = models.FileField(
        upload_to=prediction_signal_path, max_length=255, blank=True,
        help_text="Every lead of a multi-lead input (float16 .npy, leads x samples, mV; names in summary.lead_names).",
    )
    # Not a column: the step a running analysis is at lives in the cache (``stage_cache_key``);
    # ``selectors.prediction_current`` puts it here for the page to show.
    stage = ""
    # A clinician's review changes the reading every surface shows (assessment, level, beat labels,
    # counts); the model's own is kept here, set by the first review that changes anything.
    model_reading = models.JSONField(default=dict, blank=True,
                                     help_text="The model's assessment, labels and counts before any review.")
    reviewed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    reviewed_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        get_latest_by = "created_at"
        constraints = [
            models.UniqueConstraint(
                fields=["record"], condition=Q(is_current=True), name="prediction_one_current_per_record"
            ),
            models.CheckConstraint(
                condition=Q(confidence__isnull=True) | Q(confidence__gte=0, confidence__lte=1),
                name="prediction_confidence_0_1",
            ),
            models.CheckConstraint(
                condition=Q(heart_rate_bpm__isnull=True) | Q(heart_rate_bpm__gte=0, heart_rate_bpm__lte=600),
                name="prediction_heart_rate_plausible",
            ),
            # Finished rows carry a finish time; unfinished ones do not.
            models.CheckConstraint(
                condition=(Q(status__in=("done", "failed", "inconclusive")) & Q(finished_at__isnull=False))
                | (Q(status__in=("pending", "running")) & Q(finished_at__isnull=True)),
                name="prediction_finished_at_iff_finished",
            ),
            models.CheckConstraint(
                condition=~Q(status="running") | Q(started_at__isnull=False),
                name="prediction_running_has_started_at",
            ),
            models.CheckConstraint(
                condition=~Q(status="done") | ~Q(model_version=""), name="prediction_done_has_model_version"
            ),
            models.CheckConstraint(
                condition=~Q(status="failed") | ~Q(error_code=""), name="prediction_failed_has_error_code"
            ),
            models.CheckConstraint(
                condition=~Q(status="inconclusive") | ~Q(inconclusive_reason=""),
                name="prediction_inconclusive_has_reason",
            ),
            # A finished reading has a level (an unreadable input's is "inconclusive"); others none.
            models.CheckConstraint(
                condition=(Q(status="done") & Q(level__in=("normal", "abnormal", "urgent", "inconclusive")))
                | (Q(status="inconclusive") & Q(level="inconclusive"))
                | (Q(status__in=("pending", "running", "failed")) & Q(level="")),
                name="prediction_level_iff_read",
                violation_error_message="A finished reading needs a level; an unfinished or failed one has none.",
            ),
            models.CheckConstraint(
                condition=Q(level="") | Q(assessment__has_key="level"), name="prediction_level_has_assessment",
            ),
            models.CheckConstraint(
                condition=Q(finished_at__isnull=True) | Q(started_at__isnull=True) | Q(finished_at__gte=F("started_at")),
                name="prediction_finishes_after_start",
            ),
        ]

    def __str__(self):
        return f"{self.record.original_filename}: {self.get_status_display()}"

    @property
    def is_finished(self):
        return self.status in self.FINISHED


class BeatCount(models.Model):
    """How many beats of one class a finished prediction found (per-class totals aggregate in SQL)."""

    prediction = models.ForeignKey(Prediction, on_delete=models.CASCADE, related_name="beat_counts")
    code = models.CharField(max_length=4, choices=CODE_CHOICES)
    count = models.PositiveIntegerField()

    class Meta:
        ordering = ["prediction", "code"]
        constraints = [
            models.UniqueConstraint(fields=["prediction", "code"], name="beatcount_one_per_class"),
            models.CheckConstraint(condition=Q(code__in=CODES), name="beatcount_known_code"),
        ]

    def __str__(self):
        return f"{self.code}: {self.count}"


class PredictionImage(models.Model):
    """A picture made by the worker: the annotated trace, or a beat's spectral image / saliency."""

    class Kind(models.TextChoices):
        TRACE = "trace", "Annotated trace"
        SPECTRAL = "spectral", "Spectral image"
        SALIENCY = "saliency", "Saliency overlay"

    prediction = models.ForeignKey(Prediction, on_delete=models.CASCADE, related_name="images")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    beat_index = models.PositiveIntegerField(null=True, blank=True)
    code = models.CharField(max_length=4, choices=CODE_CHOICES, blank=True)
    probability = models.FloatField(null=True, blank=True)
    file = models.FileField(upload_to=prediction_image_path, max_length=255)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["prediction", "kind", "beat_index"]
        constraints = [
            # The trace is the whole recording; spectral and saliency images are of one beat.
            models.CheckConstraint(
                condition=(Q(kind="trace") & Q(beat_index__isnull=True))
                | (Q(kind__in=("spectral", "saliency")) & Q(beat_index__isnull=False)),
                name="predictionimage_beat_iff_beat_kind",
            ),
            models.UniqueConstraint(
                fields=["prediction", "kind", "beat_index"], name="predictionimage_one_per_beat_and_kind"
            ),
            models.UniqueConstraint(
                fields=["prediction", "kind"], condition=Q(beat_index__isnull=True), name="predictionimage_one_trace"
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.beat_index if self.beat_index is not None else ''}".strip()


class Review(models.Model):
    """A verified, linked doctor's review of a prediction: a verdict, corrections, a note.

    Corrections: ``corrected_code`` relabels the beats ``beat_indices`` (one beat, a selection
    or a whole shape cluster); ``finding_decisions`` confirms or rejects findings of the reading
    by key (``ml.assessment.Finding.key``); ``rhythm`` replaces the rhythm statement;
    ``added_findings`` adds what the model missed; ``complete`` says the doctor read the whole
    ECG. ``services.review_create`` applies them to the prediction's reading.
    """

    class Verdict(models.TextChoices):
        AGREE = "agree", "Agree"
        DISAGREE = "disagree", "Disagree"
        NOTE = "note", "Note only"

    prediction = models.ForeignKey(Prediction, on_delete=models.CASCADE, related_name="reviews")
    # A doctor who leaves keeps their reviews visible to the patient, under the name kept here.
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="ecg_reviews"
    )
    doctor_name = models.CharField(max_length=200)
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    beat_indices = models.JSONField(default=list, blank=True, help_text="0-based indices of the relabelled beats.")
    corrected_code = models.CharField(max_length=4, choices=CODE_CHOICES, blank=True)
    finding_decisions = models.JSONField(default=dict, blank=True,
                                         help_text='Finding key -> "confirmed" or "rejected".')
    rhythm = models.CharField(max_length=16, blank=True, help_text="SNOMED CT code of the rhythm, when corrected.")
    added_findings = models.JSONField(default=list, blank=True, help_text="SNOMED CT codes the doctor added.")
    complete = models.BooleanField(default=False, help_text="The doctor read the whole ECG.")
    note = models.TextField(max_length=4000, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Relabelled beats have their new class, and a new class has its beats.
            models.CheckConstraint(
                condition=(Q(beat_indices=[]) & Q(corrected_code="")) | (~Q(beat_indices=[]) & ~Q(corrected_code="")),
                name="review_beats_iff_correction",
            ),
            models.CheckConstraint(condition=Q(corrected_code="") | Q(corrected_code__in=CODES), name="review_known_code"),
            models.CheckConstraint(
                condition=~Q(verdict="note") | ~Q(note=""), name="review_note_only_has_note"
            ),
        ]

    def __str__(self):
        return f"{self.get_verdict_display()} by {self.doctor_name}"


class ShareLink(models.Model):
    """A patient's link to one or a few results for a clinician without an account.

    The URL carries a random token; only its SHA-256 is stored, so the database cannot give the
    link away. It expires (default 7 days), can be revoked, and may ask for a short code the
    patient passes on separately; after ``MAX_CODE_ATTEMPTS`` wrong codes it stops working.
    Every open is audited with the address it came from.
    """

    DEFAULT_DAYS = 7
    MAX_DAYS = 30
    MAX_CODE_ATTEMPTS = 5

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="share_links")
    records = models.ManyToManyField(ECGRecord, related_name="share_links")
    label = models.CharField(max_length=120, blank=True, help_text="Who it is for, as the patient wrote it.")
    token_hash = models.CharField(max_length=64, unique=True)
    code_hash = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the code; empty: no code asked.")
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    opened_count = models.PositiveIntegerField(default=0)
    last_opened_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(expires_at__gt=F("created_at")), name="sharelink_expires_after_creation"),
        ]

    def __str__(self):
        return f"Share link {self.label or self.uuid}"

    @property
    def is_usable(self):
        return (self.revoked_at is None and self.expires_at > timezone.now()
                and self.failed_attempts < self.MAX_CODE_ATTEMPTS)
