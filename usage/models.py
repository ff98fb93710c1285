from django.conf import settings
from django.db import models


class DailyActivity(models.Model):
    """One user was active on one day: signed in or uploaded an ECG (one row per user and day).

    Django keeps only a user's latest sign-in (``last_login``), which would count someone active
    every day only on the last of them; this table keeps every day.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField(db_index=True)

    class Meta:
        verbose_name_plural = "daily activity"
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="usage_dailyactivity_user_day")]

    def __str__(self):
        return f"{self.user_id} on {self.day}"
