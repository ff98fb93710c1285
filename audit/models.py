"""The audit trail: one row per access to a patient's clinical data, never changed afterwards.

Append-only is enforced by PostgreSQL (a trigger, migration 0002): the only UPDATE it lets
through is the anonymisation done when an account is deleted (foreign keys set to NULL, name
labels blanked); every other UPDATE and every DELETE raises.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        VIEW = "view", "Viewed"
        DOWNLOAD = "download", "Downloaded"
        EXPORT = "export", "Exported"
        REVIEW = "review", "Reviewed"
        SHARE = "share", "Shared"
        REVOKE = "revoke", "Revoked"
        RERUN = "rerun", "Re-analysed"
        DELETE = "delete", "Deleted"

    class Door(models.TextChoices):
        PAGE = "page", "Web page"
        API = "api", "REST API"
        ADMIN = "admin", "Admin site"
        SYSTEM = "system", "The portal itself"

    # Who: the user (gone once the account is deleted), with their role and name at the time.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_role = models.CharField(max_length=16, blank=True)
    actor_label = models.CharField(max_length=320, blank=True)
    # Whose data.
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    patient_label = models.CharField(max_length=320, blank=True)
    # What.
    object_type = models.CharField(max_length=32, blank=True)
    object_id = models.CharField(max_length=64, blank=True, help_text="The record's uuid (or the link's id).")
    action = models.CharField(max_length=16, choices=Action.choices)
    door = models.CharField(max_length=16, choices=Door.choices)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "-created_at"], name="auditevent_patient_recent"),
            models.Index(fields=["actor", "-created_at"], name="auditevent_actor_recent"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(action__in=["view", "download", "export", "review", "share", "revoke", "rerun", "delete"]),
                name="auditevent_action_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(door__in=["page", "api", "admin", "system"]), name="auditevent_door_valid"
            ),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_display} {self.action} {self.object_type} {self.object_id}"

    @property
    def actor_display(self):
        """Return who did it in words: their name, or their role once the account is gone."""
        if self.actor_label:
            return self.actor_label
        return f"a deleted {self.actor_role or 'user'} account" if self.actor_role else "the portal"
