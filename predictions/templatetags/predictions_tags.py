"""Small display helpers for ECG results."""

from django import template

from ml.assessment import symptom_names as _symptom_names
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
def symptom_names(keys):
    """Return the words of the reported symptoms' keys (ml.assessment.SYMPTOMS)."""
    return _symptom_names(keys)


@register.filter
def status_badge(status):
    """Return the Bootstrap badge class for a prediction status."""
    return _STATUS_BADGES.get(str(status), "text-bg-secondary")


_LEVEL_BADGES = {"urgent": "text-bg-danger", "abnormal": "text-bg-warning", "inconclusive": "text-bg-secondary",
                 "normal": "text-bg-success", "info": "text-bg-light border"}


@register.filter
def level_badge(level):
    """Return the badge class of a reading's level or a finding's severity."""
    return _LEVEL_BADGES.get(level, "text-bg-light border")


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


@register.simple_tag
def beat_classes():
    """Return the beat classes (code, name) in the model's order, for pickers such as the viewer's."""
    from ml.classes import BEAT_CLASSES

    return [(c.code, c.name) for c in BEAT_CLASSES]


@register.simple_tag
def beat_colour_styles():
    """Return a <style> element giving each .beat-<code> class its colour (one source: plots.BEAT_COLOURS)."""
    from django.utils.html import format_html, format_html_join

    from predictions.plots import BEAT_COLOURS

    rules = format_html_join(" ", ".beat-{} {{ color: {}; }}", sorted(BEAT_COLOURS.items()))
    return format_html("<style>{}</style>", rules)


@register.simple_tag
def emergency_signs():
    """Return the emergency signs as one phrase ("a, b or c")."""
    from predictions.plain_language import EMERGENCY_SIGNS

    return ", ".join(EMERGENCY_SIGNS[:-1]) + " or " + EMERGENCY_SIGNS[-1]


@register.simple_tag
def progress_steps(prediction):
    """Return the steps of an unfinished analysis: [(label, state)] with state done/current/todo,
    and the percentage done, from the stage the worker reported."""
    from predictions.models import Prediction

    stages = [("queued", "Queued")] + list(Prediction.Stage.choices)
    current = "queued" if prediction.status == "pending" or not prediction.stage else prediction.stage
    keys = [key for key, _ in stages]
    at = keys.index(current) if current in keys else 0
    steps = [(label, "done" if i < at else "current" if i == at else "todo") for i, (_, label) in enumerate(stages)]
    return {"steps": steps, "percent": round(100 * (at + 0.5) / len(stages)), "current": stages[at][1]}


@register.filter
def poll_ms(prediction):
    """Return how often the page asks for news of ``prediction``: often at first, then less."""
    from django.utils import timezone

    waited = (timezone.now() - prediction.queued_at).total_seconds() if prediction.queued_at else 0
    return 1000 if waited < 15 else 2000 if waited < 60 else 5000
