"""The audit trail: one row per access to a patient's clinical data, never changed afterwards.

Three locks keep it honest in PostgreSQL:
- the table belongs to a role the application does not use (migration 0004,
  ``audit.protection``): the application may only INSERT and SELECT, so it cannot UPDATE,
  DELETE, TRUNCATE, disable or drop the trigger;
- a trigger (migrations 0002, 0003) refuses DELETE and every UPDATE but one: anonymising the
  rows of an account that no longer exists (``audit.services.audit_events_anonymise``);
- a hash chain (``audit.chain``) makes any change made around both visible to
  ``manage.py audit_verify``.
SQLite (the embedded development default) has the chain only.
"""

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from audit import chain


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
    # DO_NOTHING: the application may not UPDATE this table; deleting an account anonymises its
    # rows through one database function instead (audit.signals).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+"
    )
    actor_role = models.CharField(max_length=16, blank=True)
    actor_label = models.CharField(max_length=320, blank=True)
    # Whose data.
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING, related_name="audit_events"
    )
    patient_label = models.CharField(max_length=320, blank=True)
    # What.
    object_type = models.CharField(max_length=32, blank=True)
    object_id = models.CharField(max_length=64, blank=True, help_text="The record's uuid (or the link's id).")
    action = models.CharField(max_length=16, choices=Action.choices)
    door = models.CharField(max_length=16, choices=Door.choices)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The hash chain (audit.chain): a salted digest of each side, the previous row's hash, this row's.
    actor_salt = models.CharField(max_length=32, blank=True, editable=False)
    actor_digest = models.CharField(max_length=64, editable=False)
    patient_salt = models.CharField(max_length=32, blank=True, editable=False)
    patient_digest = models.CharField(max_length=64, editable=False)
    prev_hash = models.CharField(max_length=64, editable=False)
    row_hash = models.CharField(max_length=64, editable=False)

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
            models.UniqueConstraint(fields=["prev_hash"], name="auditevent_chain_no_fork"),
        ]

    def save(self, *args, **kwargs):
        """Append the event at the head of the chain; an event is never saved twice."""
        if not self._state.adding:
            raise ValueError("Audit events are append-only: an event is never changed.")
        # Store the address as the database returns it, so its digest verifies later.
        self.ip_address = self._meta.get_field("ip_address").get_prep_value(self.ip_address) or None
        if connection.vendor == "postgresql":
            self._append()
            return
        with transaction.atomic():
            chain.lock_head(connection)
            head = AuditEvent.objects.order_by("-id").values_list("row_hash", flat=True).first()
            chain.seal(self, head or chain.GENESIS)
            super().save(*args, **kwargs)

    def _append(self):
        """Insert the event at the head of the chain in one statement (PostgreSQL): the head is
        locked and read, the id drawn, by ``audit_chain_next()`` (migration 0005), and the row's
        hash computed by the database over the same canonical text as ``chain.row_hash``. Every
        read of a record's result writes an event: this is one round trip, not five."""
        chain.seal_sides(self)
        before, after = chain.row_text_around(self)
        fields = [f for f in self._meta.concrete_fields if f.attname not in ("id", "prev_hash", "row_hash")]
        quote = connection.ops.quote_name
        sql = (
            f"INSERT INTO {quote(self._meta.db_table)} (id, {', '.join(quote(f.column) for f in fields)}, prev_hash, row_hash) "
            f"SELECT head.next_id, {', '.join(['%s'] * len(fields))}, head.head_hash, "
            "encode(sha256(convert_to(%s || head.head_hash || %s, 'UTF8')), 'hex') "
            "FROM audit_chain_next() AS head RETURNING id, prev_hash, row_hash"
        )
        params = [f.get_db_prep_save(f.pre_save(self, True), connection) for f in fields] + [before, after]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            self.id, self.prev_hash, self.row_hash = cursor.fetchone()
        self._state.adding, self._state.db = False, connection.alias

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_display} {self.action} {self.object_type} {self.object_id}"

    @property
    def actor_display(self):
        """Return who did it in words: their name, or their role once the account is gone."""
        if self.actor_label:
            return self.actor_label
        return f"a deleted {self.actor_role or 'user'} account" if self.actor_role else "the portal"
