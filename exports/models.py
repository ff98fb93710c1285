"""A patient's request for everything the portal holds about them, built by a Celery task."""

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


def export_file_path(instance, filename):
    """Return the storage name of an export archive: a folder per export, no user text."""
    return f"exports/{instance.uuid}/ecg-portal-export.zip"


def default_expiry():
    return timezone.now() + timedelta(hours=getattr(settings, "EXPORT_LINK_HOURS", 48))


class DataExport(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Being prepared"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="data_exports")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    file = models.FileField(upload_to=export_file_path, max_length=255, blank=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    ready_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(default=default_expiry, help_text="The download link stops working then.")
    error_message = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "ready", "failed"]), name="dataexport_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="ready") | (Q(ready_at__isnull=False) & ~Q(file="")),
                name="dataexport_ready_has_file",
            ),
        ]

    def __str__(self):
        return f"Export {self.uuid} of {self.owner} ({self.status})"

    def is_downloadable(self, *, now=None):
        """Return True while the archive is ready and the link has not expired."""
        return self.status == self.Status.READY and (now or timezone.now()) < self.expires_at
