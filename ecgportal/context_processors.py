from django.conf import settings


def portal(request):
    """Return template variables every page needs: which social logins are configured."""
    providers = settings.SOCIALACCOUNT_PROVIDERS
    return {
        "google_login_enabled": "google" in providers,
        "linkedin_login_enabled": "openid_connect" in providers,
    }
