"""In a real browser (Debian Chromium, headless): sign up, confirm by email, sign in."""

import pytest

from accounts.tests.mailbox import link_in

PASSWORD = "a-long-browser-passphrase"


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_sign_up_confirm_by_email_sign_in_and_see_the_dashboard(page, live_server, mailbox, artifacts_dir):
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/accounts/signup/")
    doctor_details = page.locator("#doctor-details")
    expect(doctor_details).to_be_hidden()
    page.get_by_label("Doctor:").check()
    expect(doctor_details).to_be_visible()
    page.get_by_label("Patient:").check()
    expect(doctor_details).to_be_hidden()

    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Lovelace")
    page.get_by_label("Email").fill("ada.browser@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    page.screenshot(path=artifacts_dir / "accounts-1-signup.png", full_page=True)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Verify Your Email Address")).to_be_visible()

    confirm_url = link_in(mailbox.last_to("ada.browser@example.org"), "/accounts/confirm-email/")
    assert confirm_url.startswith(live_server.url)
    page.goto(confirm_url)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Welcome, Ada")).to_be_visible()

    # Sign out, then in again with the password.
    page.goto(f"{live_server.url}/accounts/logout/")
    page.get_by_role("button", name="Sign Out").click()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill("ada.browser@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()

    expect(page).to_have_url(f"{live_server.url}/dashboard/")
    expect(page.get_by_role("heading", name="Welcome, Ada")).to_be_visible()
    expect(page.locator(".navbar")).to_contain_text("ada.browser@example.org")
    page.screenshot(path=artifacts_dir / "accounts-2-dashboard.png", full_page=True)
