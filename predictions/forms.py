"""Forms: the upload (files + optional metadata), history filters, a doctor's review."""

from datetime import date

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.utils import timezone

from ml import assessment as clinical
from ml.classes import BEAT_CLASSES
from predictions.models import ECGRecord, Prediction, Review
from predictions.validation import FORMATS

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


CORNERS_ERROR = "The page's corners were not understood: choose the picture again, or leave the frame as it is."
MIN_PAGE_SIDE_PX = 50  # a page marked smaller than this on any side is a slip of the finger


def parse_corners(text):
    """Return the four corners in ``text`` (JSON [[x, y] * 4], TL, TR, BR, BL) as floats, or raise
    ValidationError: four finite, non-negative points, a convex quadrilateral in that order (not
    crossed), no side shorter than :data:`MIN_PAGE_SIDE_PX`."""
    import json
    import math

    try:
        points = json.loads(text)
        points = [[float(x), float(y)] for x, y in points]
    except (ValueError, TypeError):
        raise forms.ValidationError(CORNERS_ERROR, code="corners") from None
    if len(points) != 4 or not all(math.isfinite(v) and v >= 0 for p in points for v in p):
        raise forms.ValidationError(CORNERS_ERROR, code="corners")
    turns = []
    for i in range(4):
        (ax, ay), (bx, by), (cx, cy) = points[i], points[(i + 1) % 4], points[(i + 2) % 4]
        if math.hypot(bx - ax, by - ay) < MIN_PAGE_SIDE_PX:
            raise forms.ValidationError("The marked page is too small: drag the corners onto the corners of the paper.",
                                        code="corners")
        turns.append((bx - ax) * (cy - by) - (by - ay) * (cx - bx))
    if not (all(t > 0 for t in turns) or all(t < 0 for t in turns)):
        raise forms.ValidationError("The page's corners cross: put each handle on its own corner of the paper "
                                    "(top-left, top-right, bottom-right, bottom-left).", code="corners")
    return points


class ECGUploadForm(forms.Form):
    """The upload form; the same checks run for the API through this form."""

    file = MultipleFileField(
        label="ECG file(s)",
        error_messages={"required": "Choose an ECG file to upload."},
        help_text=f"{FORMATS[0].upper()}{FORMATS[1:]}.",
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
    symptoms = forms.MultipleChoiceField(
        required=False, label="How did you feel when you recorded it?",
        choices=[(key, display) for key, (_, display) in clinical.SYMPTOMS.items()],
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        help_text="Optional. Your doctor sees what you tick; chest pain or fainting with an abnormal "
                  "reading makes it urgent.",
    )

    corners = forms.CharField(
        required=False, widget=forms.HiddenInput, max_length=200,
        error_messages={"max_length": "The page's corners were not understood: choose the picture again."},
    )

    def clean_corners(self):
        """Return the crop step's page corners, [[x, y] * 4] (TL, TR, BR, BL, pixels), or None."""
        text = (self.cleaned_data.get("corners") or "").strip()
        if not text:
            return None
        return parse_corners(text)

    def clean_symptoms(self):
        symptoms = self.cleaned_data.get("symptoms") or []
        if "none" in symptoms and len(symptoms) > 1:
            raise forms.ValidationError("“No symptoms” cannot go with a symptom: untick one.", code="symptoms")
        return symptoms

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name not in ("file", "symptoms"):
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
            "symptoms": data.get("symptoms") or [],
            "corners": data.get("corners"),
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


def _style(form, *, small=False, skip=()):
    """Give ``form``'s widgets Bootstrap's classes (selects and inputs; ``small`` for compact rows)."""
    size = " form-select-sm" if small else ""
    for name, field in form.fields.items():
        if name in skip:
            continue
        if isinstance(field, forms.ChoiceField):
            field.widget.attrs.setdefault("class", "form-select" + size)
        else:
            field.widget.attrs.setdefault("class", "form-control" + size.replace("select", "control"))


class HistoryFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=[("", "Any status")] + list(Prediction.Status.choices))
    level = forms.ChoiceField(required=False, label="Reading", choices=[("", "Any reading")] + list(Prediction.Level.choices))
    code = forms.ChoiceField(required=False, label="Beat class", choices=[("", "Any class")] + CLASS_CHOICES)
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    q = forms.CharField(required=False, label="Search notes", max_length=100)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _style(self)

    def filters(self):
        if not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}


class WorklistFilterForm(forms.Form):
    state = forms.ChoiceField(required=False, label="Show",
                              choices=[("to_review", "To review"), ("reviewed", "Reviewed"), ("all", "All results")])
    level = forms.ChoiceField(required=False, label="Reading", choices=[("", "Any reading")] + list(Prediction.Level.choices))
    q = forms.CharField(required=False, label="Patient", max_length=100)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _style(self, small=True)

    def filters(self):
        data = self.cleaned_data if self.is_valid() else {}
        return {"state": data.get("state") or "to_review", "level": data.get("level") or "", "q": data.get("q") or ""}


def parse_beat_numbers(text, total):
    """Return the 0-based indices of beat numbers written as "12", "12-40" or "3, 7, 20-25"."""
    indices = set()
    for part in filter(None, (p.strip() for p in (text or "").replace(";", ",").split(","))):
        first, dash, last = part.partition("-")
        try:
            a, b = int(first), int(last if dash else first)
        except ValueError:
            raise forms.ValidationError(f"“{part}” is not a beat number or a range such as 12-40.", code="beats") from None
        if a > b:
            a, b = b, a
        if a < 1 or b > total:
            raise forms.ValidationError(f"This result has beats 1 to {total}; “{part}” is outside them.", code="beats")
        indices.update(range(a - 1, b))
    return sorted(indices)


class ReviewForm(forms.Form):
    """A doctor's review: a verdict, relabelled beats (numbers, a selection or a shape family),
    the rhythm, each finding confirmed or rejected, findings added, a note."""

    DECISIONS = [("", "—"), ("confirmed", "Confirm"), ("rejected", "Reject")]

    verdict = forms.ChoiceField(choices=Review.Verdict.choices, widget=forms.RadioSelect)
    beats = forms.CharField(
        required=False, max_length=2000, label="Beats to relabel",
        help_text="Numbers or ranges, e.g. 12 or 12-40, 55. Click a beat in the viewer to add it.",
    )
    family = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="…or every beat of a shape")
    corrected_code = forms.ChoiceField(required=False, label="Correct class", choices=[("", "No correction")] + CLASS_CHOICES)
    rhythm = forms.ChoiceField(required=False, label="Rhythm",
                               choices=[("", "As read")] + [(c, d) for c, d in clinical.CLINICIAN_RHYTHMS])
    added_findings = forms.MultipleChoiceField(
        required=False, label="Add findings the reading missed", choices=list(clinical.CLINICIAN_FINDINGS),
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )
    complete = forms.BooleanField(
        required=False, label="I have read the whole ECG, including what this version does not read",
    )
    note = forms.CharField(required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, prediction=None, families=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.total = (prediction.beat_total or 0) if prediction is not None else 0
        self.families = list(families)
        self.fields["family"].choices = [("", "—")] + [
            (i, f"Shape {i + 1}: {f['size']} beats ({f['labels']})") for i, f in enumerate(self.families)
        ]
        self.finding_fields = []
        reading = (prediction.assessment or {}) if prediction is not None else {}
        for i, finding in enumerate(reading.get("findings") or []):
            name = f"finding_{i}"
            self.fields[name] = forms.ChoiceField(required=False, choices=self.DECISIONS, label=finding["display"])
            self.finding_fields.append((name, clinical.Finding.from_dict(finding).key, finding))
        _style(self, small=True, skip=("verdict", "complete"))

    def findings(self):
        """Return (bound field, finding) pairs for the template."""
        return [(self[name], finding) for name, _, finding in self.finding_fields]

    def clean(self):
        data = super().clean()
        try:
            indices = set(parse_beat_numbers(data.get("beats"), self.total))
        except forms.ValidationError as exc:
            self.add_error("beats", exc)
            indices = set()
        family = data.get("family")
        if family is not None and 0 <= family < len(self.families):
            indices.update(self.families[family]["indices"])
        data["beat_indices"] = sorted(indices)
        if indices and not data.get("corrected_code"):
            self.add_error("corrected_code", "Choose the correct class for these beats.")
        if data.get("corrected_code") and not indices:
            self.add_error("beats", "Say which beats to relabel (numbers, or a shape).")
        data["finding_decisions"] = {key: data[name] for name, key, _ in self.finding_fields if data.get(name)}
        if data.get("verdict") == Review.Verdict.NOTE and not data.get("note"):
            self.add_error("note", "Write the note.")
        return data


class ShareLinkForm(forms.Form):
    """A link to this result for a clinician without an account."""

    label = forms.CharField(required=False, max_length=120, label="Who is it for?",
                            help_text="Only you see this, e.g. “Dr Lee, City Heart Clinic”.")
    days = forms.TypedChoiceField(coerce=int, initial=7, label="Works for",
                                  choices=[(1, "1 day"), (3, "3 days"), (7, "7 days"), (14, "14 days"), (30, "30 days")])
    with_code = forms.BooleanField(required=False, initial=True, label="Ask for a 6-digit code (you pass it on separately)")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["label"].widget.attrs["class"] = "form-control form-control-sm"
        self.fields["days"].widget.attrs["class"] = "form-select form-select-sm"
        self.fields["with_code"].widget.attrs["class"] = "form-check-input"


class ShareCodeForm(forms.Form):
    code = forms.CharField(max_length=12, label="Code", widget=forms.TextInput(attrs={
        "class": "form-control", "inputmode": "numeric", "autocomplete": "one-time-code"}))


class EmailReportForm(forms.Form):
    to = forms.EmailField(label="Send the PDF to", max_length=254,
                          widget=forms.EmailInput(attrs={"class": "form-control form-control-sm",
                                                         "placeholder": "clinic@example.org"}))
