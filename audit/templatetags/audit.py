from django import template

from audit.selectors import audit_trail_rows

register = template.Library()

TRAIL_LENGTH = 50


@register.inclusion_tag("audit/includes/trail.html", takes_context=True)
def records_trail(context, user):
    """Render "who has seen my ECGs": the latest visits to ``user``'s records, in words
    (``?trail=others`` leaves out the user's own)."""
    request = context.get("request")
    others_only = bool(request and request.GET.get("trail") == "others")
    rows, more = audit_trail_rows(patient=user, others_only=others_only, limit=TRAIL_LENGTH)
    return {"rows": rows, "more": more, "user": user, "others_only": others_only}
