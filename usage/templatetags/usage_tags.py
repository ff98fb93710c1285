from django import template
from django.contrib.humanize.templatetags.humanize import intcomma

register = template.Library()


@register.filter
def milliseconds(value):
    """Format a duration in ms ("n/a" when unknown)."""
    if value is None:
        return "n/a"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


@register.filter
def percent(value):
    """Format a 0–1 rate as a percentage ("n/a" when unknown)."""
    return "n/a" if value is None else f"{value * 100:.1f}%"


@register.filter
def queue_note(status):
    """Explain an unknown queue length; nothing when it was read."""
    return {"not configured": "no broker (REDIS_URL unset)", "unreachable": "broker unreachable"}.get(status, "")


@register.filter
def add_suffix(value, suffix):
    return f"{value}{suffix}"


@register.inclusion_tag("usage/includes/stat_card.html")
def stat_card(label, value, metric, note=""):
    """Render one headline number; None shows as "n/a"."""
    if value is None:
        shown = "n/a"
    elif isinstance(value, int):
        shown = intcomma(value)
    else:
        shown = value
    return {"label": label, "value": shown, "metric": metric, "note": note}


@register.inclusion_tag("usage/includes/key_value_table.html")
def key_value_table(data, key_label, value_label):
    return {"rows": data.items(), "key_label": key_label, "value_label": value_label}
