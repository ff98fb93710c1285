"""The reporting period of the usage dashboard: whole days, inclusive, in the site's time zone."""

import datetime
from dataclasses import dataclass

from django.utils import timezone


@dataclass(frozen=True)
class Period:
    start: datetime.date
    end: datetime.date  # inclusive

    @classmethod
    def last_days(cls, days, *, today=None):
        """Return the ``days`` days ending today."""
        today = today or timezone.localdate()
        return cls(start=today - datetime.timedelta(days=days - 1), end=today)

    @property
    def start_at(self):
        """Return the first instant of the period (aware)."""
        return timezone.make_aware(datetime.datetime.combine(self.start, datetime.time.min))

    @property
    def end_before(self):
        """Return the first instant after the period (aware), for half-open ``[start_at, end_before)``."""
        return timezone.make_aware(datetime.datetime.combine(self.end + datetime.timedelta(days=1), datetime.time.min))

    @property
    def length(self):
        return (self.end - self.start).days + 1

    def days(self):
        """Return every date of the period, so charts show the days with no activity too."""
        return [self.start + datetime.timedelta(days=i) for i in range(self.length)]

    def as_dict(self):
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "days": self.length}
