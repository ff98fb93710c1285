"""The notification list, opening one, email settings and the unsubscribe link."""

import pytest
from django.core import mail
from django.urls import reverse

from accounts.tests.factories import DoctorFactory, UserFactory
from notifications import services
from notifications.models import EmailOptOut, Kind, Notification
from notifications.tests.factories import NotificationFactory

pytestmark = pytest.mark.django_db


def test_the_list_shows_only_my_notifications(client):
    mine = NotificationFactory(title="Your review is in")
    NotificationFactory(title="Someone else's news")
    client.force_login(mine.recipient)
    html = client.get(reverse("notifications:list")).content.decode()
    assert "Your review is in" in html and "Someone else" not in html


def test_opening_a_notification_marks_it_read_and_follows_its_link(client):
    notification = NotificationFactory(link_url="/records/cases/")
    client.force_login(notification.recipient)
    page = client.get(reverse("notifications:list")).content.decode()
    assert f'<form method="post" action="{reverse("notifications:open", args=[notification.pk])}">' in page
    response = client.post(reverse("notifications:open", args=[notification.pk]))
    assert response.status_code == 302 and response.url == "/records/cases/"
    notification.refresh_from_db()
    assert notification.is_read


def test_patient_a_never_sees_or_marks_patient_bs_notification(client):
    theirs = NotificationFactory()
    client.force_login(UserFactory())
    assert client.post(reverse("notifications:open", args=[theirs.pk])).status_code == 404
    client.post(reverse("notifications:mark_all_read"))
    theirs.refresh_from_db()
    assert not theirs.is_read


def test_mark_all_read_clears_the_badge(client):
    user = UserFactory()
    NotificationFactory.create_batch(3, recipient=user)
    client.force_login(user)
    assert 'data-testid="unread-count">3<' in client.get(reverse("notifications:list")).content.decode()
    response = client.post(reverse("notifications:mark_all_read"), follow=True)
    assert "3 notifications marked as read." in response.content.decode()
    assert 'data-testid="unread-count"' not in response.content.decode()
    assert not Notification.objects.filter(recipient=user, read_at__isnull=True).exists()


def test_the_profile_saves_which_events_email_me(client):
    patient = UserFactory()
    client.force_login(patient)
    html = client.get(reverse("accounts:profile")).content.decode()
    assert "A doctor asks to see my records" in html and "A patient shares their records with me" not in html
    response = client.post(reverse("notifications:preferences"), {"emailed": [Kind.REVIEW_CREATED]})
    assert response.status_code == 302 and response.url == reverse("accounts:profile")
    assert set(EmailOptOut.objects.filter(user=patient).values_list("kind", flat=True)) == {
        Kind.CARE_LINK_REQUESTED, Kind.CARE_LINK_ACCEPTED, Kind.ANALYSIS_FINISHED, Kind.EXPORT_READY
    }


def test_a_doctor_chooses_whether_shares_email_them(client):
    doctor = DoctorFactory()
    client.force_login(doctor)
    html = client.get(reverse("accounts:profile")).content.decode()
    assert "A patient shares their records with me" in html and "A doctor asks to see my records" not in html
    assert "A patient invites me to see their records" in html and "A doctor accepts my invitation" not in html


def _unsubscribe_url(user, kind):
    return reverse("notifications:unsubscribe", kwargs={"token": services.unsubscribe_token_make(user=user, kind=kind)})


def test_the_unsubscribe_link_works_without_signing_in(client):
    user = UserFactory(email="pat@example.org")
    url = _unsubscribe_url(user, Kind.REVIEW_CREATED)
    confirm = client.get(url)
    assert confirm.status_code == 200 and "Stop emailing pat@example.org" in confirm.content.decode()
    assert not EmailOptOut.objects.exists(), "a link scanner's GET changes nothing"
    done = client.post(url)  # no CSRF token, no session: RFC 8058 one-click
    assert done.status_code == 200 and 'data-testid="unsubscribed"' in done.content.decode()
    assert list(EmailOptOut.objects.values_list("user", "kind")) == [(user.pk, Kind.REVIEW_CREATED)]
    assert client.post(url).status_code == 200  # twice changes nothing
    assert EmailOptOut.objects.count() == 1


@pytest.mark.parametrize("tamper", ["kind", "signature", "garbage"])
def test_a_tampered_unsubscribe_token_is_refused_and_changes_nothing(client, tamper):
    from django.core import signing

    user = UserFactory()
    token = services.unsubscribe_token_make(user=user, kind=Kind.REVIEW_CREATED)
    if tamper == "kind":  # a valid-looking token for another kind, signed with the wrong key
        token = signing.dumps({"user": str(user.public_id), "kind": "export_ready"}, key="not-the-secret",
                              salt=services.UNSUBSCRIBE_SALT, compress=True)
    elif tamper == "signature":
        token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    else:
        token = "nonsense"
    url = reverse("notifications:unsubscribe", kwargs={"token": token})
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    assert not EmailOptOut.objects.exists()


def test_after_unsubscribing_the_event_is_listed_but_not_emailed(client, django_capture_on_commit_callbacks):
    from predictions.tests.factories import ReviewFactory

    review = ReviewFactory()
    patient = review.prediction.record.owner
    with django_capture_on_commit_callbacks(execute=True):
        services.review_created_notify(review=review)
    (message,) = mail.outbox
    url = message.extra_headers["List-Unsubscribe"].strip("<>").replace("http://127.0.0.1:8000", "")
    client.post(url)
    with django_capture_on_commit_callbacks(execute=True):
        services.review_created_notify(review=review)
    assert len(mail.outbox) == 1
    assert Notification.objects.filter(recipient=patient, kind=Kind.REVIEW_CREATED).count() == 2
