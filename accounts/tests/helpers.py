from django.urls import reverse

from accounts.tests.conftest import PASSWORD


def sign_in(client, user, password=PASSWORD):
    """Sign in through allauth's login form, as a person would (records a recent authentication)."""
    response = client.post(reverse("account_login"), {"login": user.email, "password": password})
    assert response.status_code == 302, response.content.decode()[:3000]
    return response


def signed_in_user(client):
    """Return the user the test client's session belongs to, or None."""
    from django.contrib.auth import get_user

    user = get_user(client)
    return user if user.is_authenticated else None
