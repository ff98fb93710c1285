from django import template

register = template.Library()


@register.inclusion_tag("exports/includes/panel.html", takes_context=True)
def data_export_panel(context, user):
    """Render the "download all my data" box: the button and the user's recent exports."""
    return {"exports": list(user.data_exports.all()[:3]), "csrf_token": context.get("csrf_token")}
