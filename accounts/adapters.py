"""django-allauth adapters: the seams where the portal customises sign-up and social login."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp
from django.conf import settings
from django.http import Http404

from accounts.models import User


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        """Save the new user with the role and professional details from our sign-up form."""
        user = super().save_user(request, user, form, commit=False)
        details = form.signup_details() if hasattr(form, "signup_details") else {}
        for name, value in details.items():
            setattr(user, name, value)
        if commit:
            user.save()
            if user.role == User.Role.DOCTOR:
                from accounts.services import doctor_signup_announce

                doctor_signup_announce(doctor=user)
        return user

    def get_client_ip(self, request):
        """Return the client's address for rate limits, trusting only our own proxies' header.

        X-Forwarded-For is written by the client too; with N trusted proxies the Nth address
        from the right is the one the outermost proxy saw.
        """
        hops = settings.ACCOUNT_TRUSTED_PROXY_COUNT
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if hops and forwarded:
            addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
            if len(addresses) >= hops:
                return addresses[-hops]
        return request.META.get("REMOTE_ADDR", "")


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """Google and LinkedIn sign-ups become patients; a doctor adds their details on the profile."""

    def get_provider(self, request, provider, client_id=None):
        """Return the provider, or answer 404 when this portal has no credentials for it (not 500)."""
        try:
            return super().get_provider(request, provider, client_id=client_id)
        except SocialApp.DoesNotExist:
            raise Http404(f"Sign-in with {provider} is not set up on this portal.") from None
