from django.core.management.base import BaseCommand

from predictions.services import prediction_requeue_stale


class Command(BaseCommand):
    help = "Send again the ECG analyses that no worker is working on (lost messages, dead workers)."

    def handle(self, *args, **options):
        count = prediction_requeue_stale()
        self.stdout.write(f"Re-queued {count} stale prediction(s).")
