"""Emails that tell people when something happens to their records.

Each email is rendered from ``notifications/email/<event>_subject.txt`` and ``_message.txt``
with the portal's real address (settings.SITE_URL) and sent once the current transaction
commits: a mail server that is down must not undo the change that was just made.
"""

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

logger = logging.getLogger(__name__)


def notification_send(*, event, to, context):
    """Render the ``event`` email and send it to ``to`` after the transaction commits."""
    context = {"site_url": settings.SITE_URL.rstrip("/"), **context}
    subject = settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + render_to_string(
        f"notifications/email/{event}_subject.txt", context
    ).strip()
    body = render_to_string(f"notifications/email/{event}_message.txt", context)
    message = EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [to])
    transaction.on_commit(lambda: message.send(fail_silently=False), robust=True)
    return message


def care_link_shared_notify(*, link):
    """Tell the doctor that a patient shared their records with them."""
    return notification_send(
        event="care_link_shared",
        to=link.doctor.email,
        context={"patient": link.patient, "doctor": link.doctor, "cases_url": reverse("predictions:cases")},
    )


def review_created_notify(*, review):
    """Tell the patient that a doctor reviewed one of their results."""
    record = review.prediction.record
    return notification_send(
        event="review_created",
        to=record.owner.email,
        context={
            "patient": record.owner,
            "review": review,
            "record": record,
            "result_url": reverse("predictions:detail", kwargs={"uuid": record.uuid}) + "#reviews",
        },
    )


def export_ready_notify(*, export):
    """Tell the patient that their data export can be downloaded, and until when."""
    return notification_send(
        event="export_ready",
        to=export.owner.email,
        context={
            "user": export.owner,
            "export": export,
            "download_url": reverse("exports:download", kwargs={"uuid": export.uuid}),
        },
    )
