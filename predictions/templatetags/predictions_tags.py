"""Small display helpers for ECG results."""

from django import template

from ml.classes import BY_CODE

register = template.Library()

_STATUS_BADGES = {
    "pending": "text-bg-secondary",
    "running": "text-bg-info",
    "done": "text-bg-success",
    "failed": "text-bg-danger",
    "inconclusive": "text-bg-warning",
}


@register.filter
def beat_name(code):
    """Return the full name of beat class ``code`` ("V" -> "Premature ventricular contraction")."""
    beat = BY_CODE.get(str(code))
    return beat.name if beat else code


@register.filter
def status_badge(status):
    """Return the Bootstrap badge class for a prediction status."""
    return _STATUS_BADGES.get(str(status), "text-bg-secondary")


@register.filter
def percent(value):
    """Return a 0..1 fraction as a whole percentage string ("0.934" -> "93 %")."""
    try:
        return f"{float(value) * 100:.0f} %"
    except (TypeError, ValueError):
        return "–"


@register.filter
def add_one(value):
    """Return ``value + 1`` (beats are numbered from 1 on screen, from 0 in data)."""
    try:
        return int(value) + 1
    except (TypeError, ValueError):
        return value


@register.filter
def non_normal(counts):
    """Return the beat codes other than N found in a current prediction's counts."""
    return [c for c in counts if getattr(c, "code", c) != "N" and getattr(c, "count", 1)]
