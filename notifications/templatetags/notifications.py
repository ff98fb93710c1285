from django import template

from notifications.forms import EmailPreferencesForm

register = template.Library()


@register.inclusion_tag("notifications/includes/preferences.html", takes_context=True)
def notification_preferences_panel(context, user):
    """Render the profile's "which events email me" box."""
    return {"form": EmailPreferencesForm(user=user), "csrf_token": context.get("csrf_token")}
