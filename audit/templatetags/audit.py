from django import template

from audit.selectors import audit_trail_of_patient

register = template.Library()

TRAIL_LENGTH = 50


@register.inclusion_tag("audit/includes/trail.html")
def records_trail(user):
    """Render "who has seen my ECGs": the latest events about ``user``'s records."""
    events = list(audit_trail_of_patient(patient=user)[: TRAIL_LENGTH + 1])
    return {"events": events[:TRAIL_LENGTH], "more": len(events) > TRAIL_LENGTH, "user": user}
