"""Forms: the upload (files + optional metadata), history filters, a doctor's review."""

from datetime import date

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.utils import timezone

from ml.classes import BEAT_CLASSES
from predictions.models import ECGRecord, Prediction, Review

CLASS_CHOICES = [(c.code, f"{c.name} ({c.code})") for c in BEAT_CLASSES]
LEAD_VALIDATOR = RegexValidator(r"^[A-Za-z0-9 _\-+/]*$", "Use letters, digits, spaces and - + / only (e.g. MLII, II, V1).")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A file field that accepts several files (a WFDB header and its data file)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"multiple": True}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, (list, tuple)):
            files = [super(MultipleFileField, self).clean(d, initial) for d in data if d]
        else:
            files = [super().clean(data, initial)] if data else []
        if not files and self.required:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        return files


def validate_recorded_on(value):
    if value is None:
        return
    if value > timezone.localdate():
        raise forms.ValidationError("The recording date cannot be in the future.", code="future_date")
    if value < date(1900, 1, 1):
        raise forms.ValidationError("The recording date must be after 1900.", code="date_too_old")


class ECGUploadForm(forms.Form):
    """The upload form; the same checks run for the API through this form."""

    file = MultipleFileField(
        label="ECG file(s)",
        error_messages={"required": "Choose an ECG file to upload."},
        help_text="A picture or scan (PNG, JPEG, WebP, HEIC, BMP, TIFF, PDF), a WFDB record (.hea and .dat together), CSV or EDF.",
    )
    recorded_on = forms.DateField(
        required=False,
        label="Recording date",
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[validate_recorded_on],
    )
    lead = forms.CharField(
        required=False, max_length=32, validators=[LEAD_VALIDATOR], help_text="Optional, e.g. MLII, II or V1."
    )
    sampling_rate = forms.FloatField(
        required=False,
        label="Sampling rate (Hz)",
        validators=[
            # The model's rule, shown beside the field (the database constraint enforces it too).
            MinValueValidator(ECGRecord.MIN_SAMPLING_RATE, ECGRecord.SAMPLING_RATE_MESSAGE),
            MaxValueValidator(ECGRecord.MAX_SAMPLING_RATE, ECGRecord.SAMPLING_RATE_MESSAGE),
        ],
        help_text="Only needed when the file does not say (a CSV without a time column).",
    )
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name != "file":
                field.widget.attrs.setdefault("class", "form-control")

    def record_fields(self):
        """Return the keyword arguments of ``services.ecg_record_create`` from a valid form."""
        data = self.cleaned_data
        return {
            "files": data["file"],
            "recorded_on": data["recorded_on"],
            "lead": data["lead"],
            "sampling_rate": data["sampling_rate"],
            "note": data["note"],
        }

    def error_code(self):
        """Return a machine-readable code for the first error (for the API)."""
        file_codes = {"required": "missing_file", "missing": "missing_file", "empty": "empty"}
        for name, errors in self.errors.as_data().items():
            for error in errors:
                if name == "file":
                    return file_codes.get(error.code, "invalid_file")
                return "invalid_metadata"
        return ""


class HistoryFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "Any status")] + list(Prediction.Status.choices))
    level = forms.ChoiceField(required=False, label="Reading", choices=[("", "Any reading")] + list(Prediction.Level.choices))
    code = forms.ChoiceField(required=False, label="Beat class", choices=[("", "Any class")] + CLASS_CHOICES)
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(required=False, label="Search notes", max_length=100)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            css = "form-select" if isinstance(field, forms.ChoiceField) else "form-control"
            field.widget.attrs.setdefault("class", css)

    def filters(self):
        if not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}


class ReviewForm(forms.Form):
    verdict = forms.ChoiceField(choices=Review.Verdict.choices, widget=forms.RadioSelect)
    beat_number = forms.IntegerField(
        required=False, min_value=1, label="Beat number", help_text="Leave empty to correct the overall finding."
    )
    corrected_code = forms.ChoiceField(required=False, label="Correct class", choices=[("", "No correction")] + CLASS_CHOICES)
    note = forms.CharField(required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))

    def clean(self):
        data = super().clean()
        number = data.get("beat_number")
        data["beat_index"] = number - 1 if number else None
        if number and not data.get("corrected_code"):
            self.add_error("corrected_code", "Choose the correct class for this beat.")
        if data.get("verdict") == Review.Verdict.NOTE and not data.get("note"):
            self.add_error("note", "Write the note.")
        return data

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["beat_number"].widget.attrs["class"] = "form-control form-control-sm"
        self.fields["corrected_code"].widget.attrs["class"] = "form-select form-select-sm"
        self.fields["note"].widget.attrs["class"] = "form-control"
