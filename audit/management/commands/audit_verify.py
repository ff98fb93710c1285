"""Walk the audit trail's hash chain and name the first event that breaks it (exit status 1)."""

from django.core.management.base import BaseCommand, CommandError

from audit import chain
from audit.models import AuditEvent


class Command(BaseCommand):
    help = "Check that no audit event was changed, removed or inserted since it was written."

    def handle(self, *args, **options):
        events = AuditEvent.objects.order_by("id").iterator(chunk_size=5000)
        try:
            broken = chain.first_break(events)
        finally:
            events.close()  # a server-side cursor: close it now, not whenever it is collected
        if broken is not None:
            event, reason = broken
            raise CommandError(
                f"Audit trail broken at event {event.pk} ({event.created_at:%Y-%m-%d %H:%M:%S} UTC, "
                f"{event.action} {event.object_type} {event.object_id}): {reason}."
            )
        head = AuditEvent.objects.order_by("-id").first()
        count = AuditEvent.objects.count()
        if head is None:
            self.stdout.write("Audit trail intact: no events yet.")
        else:
            self.stdout.write(f"Audit trail intact: {count} events, up to event {head.pk} (hash {head.row_hash}).")
