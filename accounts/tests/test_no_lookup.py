"""Care-team invitations reveal nothing about who has an account here (issue 24, item 3).

Whether an address belongs to a patient is health information. Inviting (a doctor asking a
patient, a patient inviting their doctor) answers the same page, status and time for a patient,
a doctor and an unknown address; the other side's name appears only once they accept.
"""

import re
import statistics
import time
import uuid

import pytest
from django.urls import reverse

from accounts.models import CareLink
from accounts.tests.factories import DoctorFactory, UnverifiedDoctorFactory, UserFactory
from notifications.models import Notification

pytestmark = pytest.mark.django_db

CSRF_TOKEN = re.compile(r"[A-Za-z0-9]{64}")

# The inviter's side: (the factory that makes them, the field of their invitation form).
SIDES = {
    "doctor": (DoctorFactory, "patient_email"),
    "patient": (UserFactory, "doctor_email"),
}


def _accounts(side):
    """Return the inviter and three addresses: the right kind of account, the wrong kind, none."""
    inviter = SIDES[side][0](first_name="Ivy", last_name="Inviter")
    patient = UserFactory(first_name="Petra", last_name="Private", email=f"petra.{side}@example.org")
    doctor = DoctorFactory(first_name="Desmond", last_name="Hidden", email=f"desmond.{side}@clinic.example")
    unknown = f"nobody.{side}@example.org"
    right, wrong = (patient, doctor) if side == "doctor" else (doctor, patient)
    return inviter, {"right kind": right.email, "wrong kind": wrong.email, "unknown": unknown}, right


def _invite(client, side, email, capture):
    with capture(execute=True):
        return client.post(reverse("accounts:care_team"), {SIDES[side][1]: email}, follow=True)


def _page_without(html, email):
    """The page as the inviter sees it, with the address they typed and the per-response CSRF
    tokens (masked afresh on every page) blanked out."""
    return CSRF_TOKEN.sub("CSRF", html.replace(email, "ADDRESS"))


@pytest.mark.parametrize("side", SIDES)
def test_the_answer_is_the_same_page_whoever_the_address_belongs_to(client, side, django_capture_on_commit_callbacks):
    inviter, addresses, right = _accounts(side)
    client.force_login(inviter)

    answers = {}
    for kind, email in addresses.items():
        response = _invite(client, side, email, django_capture_on_commit_callbacks)
        answers[kind] = (response.redirect_chain, response.status_code, _page_without(response.content.decode(), email))

    assert answers["right kind"] == answers["wrong kind"] == answers["unknown"]
    page = answers["right kind"][2]
    assert "If ADDRESS belongs to" in page
    assert right.last_name not in page and right.first_name not in page
    # The invitation was delivered all the same, to the right kind of account only.
    assert list(CareLink.objects.values_list("status", flat=True)) == [CareLink.Status.PENDING]


@pytest.mark.parametrize("side", SIDES)
def test_the_other_side_appears_only_once_they_accept(client, side, django_capture_on_commit_callbacks):
    inviter, addresses, right = _accounts(side)
    client.force_login(inviter)
    _invite(client, side, addresses["right kind"], django_capture_on_commit_callbacks)
    link = CareLink.objects.get()
    page = client.get(reverse("accounts:care_team")).content.decode()
    assert right.email not in page and right.last_name not in page

    client.force_login(right)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:care_link_accept", args=[link.pk]))

    client.force_login(inviter)
    page = client.get(reverse("accounts:care_team")).content.decode()
    assert right.email in page and right.last_name in page


def test_an_unverified_doctor_is_not_revealed_either(client, django_capture_on_commit_callbacks):
    """Issue 21: the patient was told "<the doctor's name>'s account is awaiting verification"."""
    patient = UserFactory()
    UnverifiedDoctorFactory(first_name="Una", last_name="Pending", email="una@clinic.example")
    client.force_login(patient)

    response = _invite(client, "patient", "una@clinic.example", django_capture_on_commit_callbacks)

    html = response.content.decode()
    assert "If una@clinic.example belongs to a verified doctor" in html
    assert "Una" not in html and "awaiting verification" not in html
    assert not CareLink.objects.exists() and not Notification.objects.exists()


def test_asking_the_same_patient_again_does_not_notify_them_again(client, mailbox, django_capture_on_commit_callbacks):
    doctor, patient = DoctorFactory(), UserFactory(email="pat@example.org")
    client.force_login(doctor)

    for _ in range(5):
        _invite(client, "doctor", "pat@example.org", django_capture_on_commit_callbacks)

    assert CareLink.objects.count() == 1
    assert Notification.objects.filter(recipient=patient).count() == 1
    assert len(mailbox.to("pat@example.org", timeout=0.5)) == 1


def test_a_declined_request_cannot_be_sent_again_for_thirty_days(client, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    doctor, patient = DoctorFactory(), UserFactory(email="pat@example.org")
    client.force_login(doctor)
    _invite(client, "doctor", "pat@example.org", django_capture_on_commit_callbacks)
    client.force_login(patient)
    client.post(reverse("accounts:care_link_revoke", args=[CareLink.objects.get().pk]))

    client.force_login(doctor)
    response = _invite(client, "doctor", "pat@example.org", django_capture_on_commit_callbacks)

    assert "If pat@example.org belongs to a patient" in response.content.decode(), "the same answer"
    assert CareLink.objects.count() == 1 and Notification.objects.filter(recipient=patient).count() == 1

    CareLink.objects.update(ended_at=timezone.now() - timedelta(days=31))
    _invite(client, "doctor", "pat@example.org", django_capture_on_commit_callbacks)
    assert CareLink.objects.filter(status=CareLink.Status.PENDING).count() == 1
    assert Notification.objects.filter(recipient=patient).count() == 2


def test_a_patient_inviting_a_doctor_who_asked_first_completes_the_link(client, django_capture_on_commit_callbacks):
    doctor, patient = DoctorFactory(email="dora@clinic.example"), UserFactory(email="pat@example.org")
    client.force_login(doctor)
    _invite(client, "doctor", "pat@example.org", django_capture_on_commit_callbacks)
    client.force_login(patient)

    _invite(client, "patient", "dora@clinic.example", django_capture_on_commit_callbacks)

    assert list(CareLink.objects.values_list("status", flat=True)) == [CareLink.Status.ACTIVE]


def _median_ms(samples):
    return statistics.median(samples) * 1000


@pytest.mark.parametrize("side", SIDES)
def test_the_answer_takes_the_same_time_whoever_the_address_belongs_to(
    client, side, settings, redis_url, mailbox, django_capture_on_commit_callbacks
):
    """Median of 20 invitations of each kind, interleaved, with the production set-up: the
    invitation goes to the real Redis broker (a worker delivers it) and email to a real SMTP server."""
    import redis

    from ecgportal.celery import app
    from predictions.tests.worker import purge_queue

    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "care_link_invite": "1000/h/user"}
    settings.PREDICTIONS_QUEUE = queue = f"no-lookup-{uuid.uuid4().hex}"
    app.conf.CELERY_TASK_ALWAYS_EAGER = False  # restored by the _eager_tasks fixture
    inviter, addresses, _ = _accounts(side)
    client.force_login(inviter)
    for email in addresses.values():  # warm up: template and query caches
        _invite(client, side, email, django_capture_on_commit_callbacks)

    timings = {kind: [] for kind in addresses}
    try:
        for _ in range(20):
            for kind, email in addresses.items():
                started = time.perf_counter()
                with django_capture_on_commit_callbacks(execute=True):
                    response = client.post(reverse("accounts:care_team"), {SIDES[side][1]: email})
                timings[kind].append(time.perf_counter() - started)
                assert response.status_code == 302
        queued = redis.Redis.from_url(redis_url).llen(queue)
    finally:
        purge_queue(redis_url, queue)

    medians = {kind: _median_ms(samples) for kind, samples in timings.items()}
    print(f"{side} invites, median ms: " + ", ".join(f"{kind} {ms:.1f}" for kind, ms in medians.items()))
    assert queued == 63, "every address, known or not, queues one invitation"
    assert not CareLink.objects.exists(), "nothing is looked up while answering"
    spread = max(medians.values()) - min(medians.values())
    assert spread < 30 or spread < 0.25 * min(medians.values()), medians


def _readable(value):
    """Return a cookie's value as anyone holding it reads it: Django's signed cookies are only
    base64 (zlib-compressed when that is shorter) with a signature, not encrypted."""
    import zlib

    from django.core.signing import b64_decode

    payload = value.split(":", 1)[0]
    try:
        data = b64_decode(payload.lstrip(".").encode())
        data = zlib.decompress(data) if payload.startswith(".") else data
    except Exception:  # not a signed value (the session id, the CSRF token)
        return value
    return value + " " + data.decode("utf-8", "replace")


def test_no_cookie_the_browser_can_read_carries_a_name_or_an_address(client, django_capture_on_commit_callbacks):
    """The messages cookie carried "Successfully signed in as Grace Hopper", readable."""
    from accounts.tests.conftest import PASSWORD

    user = UserFactory(first_name="Grace", last_name="Hopper", email="grace.hopper@example.org")
    doctor = DoctorFactory(first_name="Dora", last_name="Docherty", email="dora@clinic.example")
    responses = [client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})]
    with django_capture_on_commit_callbacks(execute=True):
        responses.append(client.post(reverse("accounts:care_team"), {"doctor_email": doctor.email}))
    client.force_login(doctor)
    link = CareLink.objects.get()
    responses.append(client.post(reverse("accounts:care_link_accept", args=[link.pk])))
    client.force_login(user)
    responses.append(client.post(reverse("accounts:care_link_revoke", args=[link.pk])))
    responses.append(client.get(reverse("accounts:care_team")))

    cookies = [_readable(cookie.value) for response in responses for cookie in response.cookies.values()]
    assert cookies, "the sign-in sets the session cookie"
    for cookie in cookies:
        for personal in ("Grace", "Hopper", "grace.hopper", "Dora", "Docherty", "dora@clinic"):
            assert personal.lower() not in cookie.lower(), cookie
