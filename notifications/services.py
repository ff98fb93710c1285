"""Tell people when something happens to their records: an in-portal notification and an email.

One function per event (``<event>_notify``) writes the ``Notification`` (always: the in-portal
list records everything) and emails the recipient unless they turned that kind of email off.
Emails are rendered from ``notifications/email/<kind>_subject.txt`` and ``_message.txt``, with
links built from the portal's real address (settings.SITE_URL), and end with an unsubscribe
link that works without signing in. They are sent once the current transaction commits: a mail
server that is down must not undo the change that was just made, and a change that is rolled
back takes its notification with it.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from notifications.models import ALWAYS_EMAILED, EmailOptOut, Kind, Notification

logger = logging.getLogger(__name__)

UNSUBSCRIBE_SALT = "notifications.unsubscribe"
# An unsubscribe link works this long after its email was sent; then the profile page does it.
UNSUBSCRIBE_MAX_AGE = timedelta(days=30)

# "An analysis of a long record finishes": worth a notification when the person has probably
# stopped watching the result page: the recording lasts at least 5 minutes (a Holter excerpt;
# its analysis takes a while and its result is worth reading), or the analysis took at least
# 2 minutes from upload to result (a busy queue). A 10-second strip analysed in seconds is not.
LONG_RECORDING_S = 5 * 60
SLOW_ANALYSIS = timedelta(minutes=2)


def _now():
    return timezone.now()


def _absolute(path):
    return settings.SITE_URL.rstrip("/") + path


# --- unsubscribe tokens ---------------------------------------------------------------------


def unsubscribe_token_make(*, user, kind):
    """Return a signed, timestamped token that turns off ``kind`` emails for ``user`` (no login)."""
    return signing.dumps({"user": str(user.public_id), "kind": str(kind)}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_token_read(*, token):
    """Return ``(user, kind)`` of a valid token; raise ValidationError for a tampered one (code
    ``invalid_token``) or one older than UNSUBSCRIBE_MAX_AGE (code ``expired_token``)."""
    from accounts.models import User

    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT, max_age=UNSUBSCRIBE_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise ValidationError("This unsubscribe link has expired.", code="expired_token") from exc
    except signing.BadSignature as exc:
        raise ValidationError("This unsubscribe link is not valid.", code="invalid_token") from exc
    try:
        user = User.objects.get(public_id=data["user"], is_active=True)
        kind = Kind(data["kind"])
    except (KeyError, TypeError, ValueError, User.DoesNotExist) as exc:
        raise ValidationError("This unsubscribe link is not valid.", code="invalid_token") from exc
    return user, kind


# --- preferences ----------------------------------------------------------------------------


def email_opt_out(*, user, kind):
    """Stop emailing ``user`` about ``kind`` events; doing it twice changes nothing."""
    try:
        with transaction.atomic():
            EmailOptOut.objects.get_or_create(user=user, kind=kind)
    except IntegrityError:  # a concurrent click created it
        pass


def email_preferences_update(*, user, emailed_kinds):
    """Email ``user`` about ``emailed_kinds`` only, among the kinds that concern them."""
    from notifications.selectors import kinds_for_user

    with transaction.atomic():
        for kind in kinds_for_user(user=user):
            if kind in emailed_kinds:
                EmailOptOut.objects.filter(user=user, kind=kind).delete()
            else:
                EmailOptOut.objects.get_or_create(user=user, kind=kind)


# --- the in-portal list ---------------------------------------------------------------------


def notification_mark_read(*, notification):
    """Mark ``notification`` read (the first time it is opened, by a POST)."""
    if notification.read_at is None:
        notification.read_at = _now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=notification.read_at)
    return notification


def notification_mark_all_read(*, user):
    """Mark every unread notification of ``user`` read; return how many were unread."""
    return Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=_now())


# --- sending --------------------------------------------------------------------------------


def notification_send(*, recipient, kind, body, link_url, context, patient=None):
    """Record a ``kind`` notification for ``recipient`` and email it unless they turned it off.

    The title is the email's subject; ``body`` is the one-line text of the in-portal list;
    ``link_url`` a path on this site; ``patient`` the patient whose records it is about.
    Return the notification.
    """
    kind = Kind(kind)
    unsubscribe_url = _absolute(
        reverse("notifications:unsubscribe", kwargs={"token": unsubscribe_token_make(user=recipient, kind=kind)})
    )
    context = {
        "site_url": settings.SITE_URL.rstrip("/"),
        "link_url": _absolute(link_url),
        "unsubscribe_url": unsubscribe_url,
        "unsubscribe_days": UNSUBSCRIBE_MAX_AGE.days,
        "kind_label": kind.label,
        **context,
    }
    title = render_to_string(f"notifications/email/{kind}_subject.txt", context).strip()
    notification = Notification.objects.create(
        recipient=recipient, patient=patient, kind=kind, title=title[:200], body=body, link_url=link_url
    )
    opted_out = kind not in ALWAYS_EMAILED and EmailOptOut.objects.filter(user=recipient, kind=kind).exists()
    if not recipient.email or opted_out:
        return notification
    message_text = render_to_string(f"notifications/email/{kind}_message.txt", context)
    message_text = message_text.rstrip() + "\n\n" + render_to_string("notifications/email/footer.txt", context)
    message = EmailMessage(
        settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + title,
        message_text,
        settings.DEFAULT_FROM_EMAIL,
        [recipient.email],
        # RFC 8058 one-click unsubscribe: mail clients show their own "unsubscribe" button.
        headers={"List-Unsubscribe": f"<{unsubscribe_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )
    transaction.on_commit(lambda: message.send(fail_silently=False), robust=True)
    return notification


def _name(user):
    return user.get_full_name() or user.email


def notifications_about_patient_remove(*, recipient, patient):
    """Delete ``recipient``'s notifications about ``patient`` (a doctor whose link ended); return how many."""
    return Notification.objects.filter(recipient=recipient, patient=patient).delete()[0]


def care_link_invited_notify(*, link):
    """Tell the invited side of a pending ``link``: the patient a doctor asks, or the doctor a
    patient invites."""
    if link.requested_by_id == link.doctor_id:
        return care_link_requested_notify(link=link)
    return notification_send(
        recipient=link.doctor,
        patient=link.patient,
        kind=Kind.CARE_LINK_INVITED,
        body=f"{_name(link.patient)} invites you to see their ECG records and results. Nothing is shared until you accept.",
        link_url=reverse("accounts:care_team"),
        context={"patient": link.patient, "doctor": link.doctor, "care_team_url": reverse("accounts:care_team")},
    )


def care_link_requested_notify(*, link):
    """Tell the patient that a doctor asks to see their records."""
    return notification_send(
        recipient=link.patient,
        patient=link.patient,
        kind=Kind.CARE_LINK_REQUESTED,
        body=f"{link.doctor} asks to see your ECG records and results. Nothing is shared until you accept.",
        link_url=reverse("accounts:care_team"),
        context={"patient": link.patient, "doctor": link.doctor, "care_team_url": reverse("accounts:care_team")},
    )


def care_link_accepted_notify(*, link, accepted_by):
    """Tell the side that invited that the other accepted: the link is now active."""
    if accepted_by.pk == link.patient_id:
        return care_link_shared_notify(link=link)
    return notification_send(
        recipient=link.patient,
        patient=link.patient,
        kind=Kind.CARE_LINK_ACCEPTED,
        body=f"{link.doctor} accepted your invitation and can now see your ECG records and results.",
        link_url=reverse("accounts:care_team"),
        context={"patient": link.patient, "doctor": link.doctor, "care_team_url": reverse("accounts:care_team")},
    )


def care_link_shared_notify(*, link):
    """Tell the doctor that a patient shared their records with them."""
    return notification_send(
        recipient=link.doctor,
        patient=link.patient,
        kind=Kind.CARE_LINK_SHARED,
        body=f"{_name(link.patient)} shared their ECG records and results with you.",
        link_url=reverse("predictions:cases"),
        context={"patient": link.patient, "doctor": link.doctor, "cases_url": reverse("predictions:cases")},
    )


def review_created_notify(*, review):
    """Tell the patient that a doctor reviewed one of their results."""
    record = review.prediction.record
    result_url = reverse("predictions:detail", kwargs={"uuid": record.uuid}) + "#reviews"
    return notification_send(
        recipient=record.owner,
        patient=record.owner,
        kind=Kind.REVIEW_CREATED,
        body=f"{review.doctor_name} reviewed the result of {record.original_filename} ({review.get_verdict_display()}).",
        link_url=result_url,
        context={"patient": record.owner, "review": review, "record": record, "result_url": result_url},
    )


def export_ready_notify(*, export):
    """Tell the patient that their data export can be downloaded, and until when."""
    download_url = reverse("exports:download", kwargs={"uuid": export.uuid})
    expires = timezone.localtime(export.expires_at)
    return notification_send(
        recipient=export.owner,
        patient=export.owner,
        kind=Kind.EXPORT_READY,
        body=f"The archive of your data can be downloaded until {expires:%d %b %Y, %H:%M}.",
        link_url=download_url,
        context={"user": export.owner, "export": export, "download_url": download_url},
    )


def analysis_is_long(*, prediction):
    """Return True when the owner should be told that ``prediction`` finished (see LONG_RECORDING_S)."""
    duration_s = (prediction.summary or {}).get("duration_s")
    if isinstance(duration_s, (int, float)) and duration_s >= LONG_RECORDING_S:
        return True
    return bool(prediction.finished_at and prediction.finished_at - prediction.created_at >= SLOW_ANALYSIS)


def urgent_result_notify(*, prediction):
    """Tell the patient and every doctor they share records with, at once, that a result reads as
    urgent; return the notifications."""
    from accounts.rules import doctors_of
    from ml.assessment import conclusion

    record = prediction.record
    result_url = reverse("predictions:detail", kwargs={"uuid": record.uuid})
    reading = conclusion(prediction.assessment)
    sent = []
    for recipient in [record.owner, *doctors_of(patient=record.owner, record=record)]:
        sent.append(notification_send(
            recipient=recipient,
            patient=record.owner,
            kind=Kind.URGENT_RESULT,
            body=f"{record.original_filename}: {reading}"[:1000],
            link_url=result_url,
            context={"user": recipient, "patient": record.owner, "record": record, "prediction": prediction,
                     "reading": reading, "result_url": result_url, "is_patient": recipient == record.owner},
        ))
    return sent


def prediction_finished_notify(*, prediction_id):
    """Tell people that an analysis finished; return the notification(s) or None.

    Called once the prediction's transaction commits (predictions.services). An urgent reading
    notifies the patient and every linked doctor at once (:func:`urgent_result_notify`); otherwise
    the owner hears about long records only. Short analyses, a failed run and a run that a newer
    one replaced meanwhile say nothing.
    """
    from ml.assessment import conclusion
    from predictions.models import Prediction

    prediction = (
        Prediction.objects.select_related("record__owner")
        .filter(pk=prediction_id, is_current=True, status__in=[Prediction.Status.DONE, Prediction.Status.INCONCLUSIVE])
        .first()
    )
    if prediction is None:
        return None
    if prediction.level == Prediction.Level.URGENT:
        return urgent_result_notify(prediction=prediction)
    if not analysis_is_long(prediction=prediction):
        return None
    record = prediction.record
    result_url = reverse("predictions:detail", kwargs={"uuid": record.uuid})
    if prediction.status == Prediction.Status.DONE:
        body = f"The result of {record.original_filename} is ready. {conclusion(prediction.assessment)}"
    else:
        body = f"{record.original_filename} could not be read as a usable ECG: {prediction.inconclusive_reason}"
    return notification_send(
        recipient=record.owner,
        patient=record.owner,
        kind=Kind.ANALYSIS_FINISHED,
        body=body[:1000],
        link_url=result_url,
        context={"user": record.owner, "record": record, "prediction": prediction, "result_url": result_url,
                 "reading": conclusion(prediction.assessment) if prediction.assessment else ""},
    )
