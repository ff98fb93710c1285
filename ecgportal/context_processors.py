from django.conf import settings


def _configured(provider):
    """Return True when settings give ``provider`` an app (a client id), so its button can work."""
    return bool(settings.SOCIALACCOUNT_PROVIDERS.get(provider, {}).get("APPS"))


def portal(request):
    """Return template variables every page needs: which social logins are configured."""
    return {
        "google_login_enabled": _configured("google"),
        "linkedin_login_enabled": _configured("openid_connect"),
    }
