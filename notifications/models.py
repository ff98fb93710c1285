"""What the portal told each person, and which kinds of email they turned off.

Every event writes a ``Notification`` (the in-portal list always records); whether it is also
emailed depends on the recipient's ``EmailOptOut`` rows. Opt-outs rather than opt-ins: a new
kind of event is emailed until the person turns it off.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Kind(models.TextChoices):
    """The events people are told about; the label is what the preferences form shows."""

    CARE_LINK_REQUESTED = "care_link_requested", "A doctor asks to see my records"
    CARE_LINK_SHARED = "care_link_shared", "A patient shares their records with me"
    CARE_LINK_INVITED = "care_link_invited", "A patient invites me to see their records"
    CARE_LINK_ACCEPTED = "care_link_accepted", "A doctor accepts my invitation"
    REVIEW_CREATED = "review_created", "A doctor reviews one of my results"
    ANALYSIS_FINISHED = "analysis_finished", "The analysis of a long recording finishes"
    EXPORT_READY = "export_ready", "My data export is ready"
    URGENT_RESULT = "urgent_result", "A result reads as urgent"


# Too important to be turned off: always emailed, and not offered in the email preferences.
ALWAYS_EMAILED = (Kind.URGENT_RESULT,)


class Notification(models.Model):
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    # The patient whose records it is about: a doctor's notifications about a patient are removed
    # when that patient's link to them ends (and with the patient's account).
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, help_text="Plain text, one or two sentences.")
    link_url = models.CharField(max_length=500, blank=True, help_text="A path on this site, e.g. /records/<uuid>/.")
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="notification_recipient_recent"),
            models.Index(fields=["recipient"], condition=Q(read_at__isnull=True), name="notification_unread"),
        ]
        constraints = [
            # A link leaves the site only through an email, never from the list page.
            models.CheckConstraint(condition=Q(link_url="") | Q(link_url__startswith="/"), name="notification_link_is_a_path"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} for {self.recipient}: {self.title}"

    @property
    def is_read(self):
        return self.read_at is not None


class EmailOptOut(models.Model):
    """The user does not want an email for this kind of event (the in-portal entry stays)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_opt_outs")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="emailoptout_once_per_kind")]

    def __str__(self):
        return f"{self.user}: no email for {self.kind}"
