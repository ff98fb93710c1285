"""Fill daily activity from what existed before it: each user's last sign-in and upload days."""

from django.conf import settings
from django.db import migrations
from django.db.models.functions import TruncDate


def backfill(apps, schema_editor):
    DailyActivity = apps.get_model("usage", "DailyActivity")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    ECGRecord = apps.get_model("predictions", "ECGRecord")
    pairs = set(
        User.objects.filter(last_login__isnull=False)
        .annotate(day=TruncDate("last_login"))
        .values_list("pk", "day")
    )
    # Distinct (owner, day) pairs come grouped from the database, not one row per upload.
    pairs |= set(ECGRecord.objects.annotate(day=TruncDate("created_at")).values_list("owner_id", "day").distinct())
    DailyActivity.objects.bulk_create(
        [DailyActivity(user_id=user_id, day=day) for user_id, day in pairs], batch_size=5000, ignore_conflicts=True
    )


class Migration(migrations.Migration):
    dependencies = [
        ("usage", "0001_daily_activity"),
        ("predictions", "0001_initial"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
