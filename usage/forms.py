from django import forms
from django.utils import timezone

from usage.period import Period

PRESETS = (7, 30, 90)
DEFAULT_DAYS = 30
MAX_DAYS = 731


def _date_field(label):
    return forms.DateField(
        label=label,
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": f"Enter the {label.lower()} as YYYY-MM-DD, for example 2025-03-01."},
    )


class PeriodForm(forms.Form):
    """Pick the reporting period: a preset (last 7/30/90 days) or start and end dates."""

    days = forms.TypedChoiceField(
        label="Preset",
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "Custom")] + [(str(n), f"Last {n} days") for n in PRESETS],
    )
    start = _date_field("Start date")
    end = _date_field("End date")

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        start, end, days = cleaned.get("start"), cleaned.get("end"), cleaned.get("days")
        today = timezone.localdate()
        if start is None and end is None:
            cleaned["period"] = Period.last_days(days or DEFAULT_DAYS, today=today)
            return cleaned
        if start is None:
            raise forms.ValidationError("Enter a start date as well as an end date.")
        end = end or today
        if start > today:
            raise forms.ValidationError("The start date is in the future; there is no data to show yet.")
        if end < start:
            raise forms.ValidationError("The end date must be on or after the start date.")
        if (end - start).days + 1 > MAX_DAYS:
            raise forms.ValidationError(f"Choose a period of at most {MAX_DAYS} days.")
        cleaned["period"] = Period(start=start, end=end)
        return cleaned

    @property
    def period(self):
        """Return the chosen period; call after is_valid()."""
        return self.cleaned_data["period"]


def period_from_query(query):
    """Return (form, period): the requested period, or the default one when there is no query."""
    form = PeriodForm(query or None)
    if not query:
        return form, Period.last_days(DEFAULT_DAYS)
    if form.is_valid():
        return form, form.period
    return form, None
