"""Generate many records and predictions fast (bulk_create), for the scale test and the benchmark."""

import datetime
import hashlib
from collections import Counter

from django.utils import timezone

from usage.models import DailyActivity
from ml.classes import CODES
from predictions.models import BeatCount, ECGRecord, Prediction
from predictions.tests.factories import reading_of

STATUS_CYCLE = (
    # 20 predictions in a cycle: 15 done, 2 failed, 1 inconclusive, 1 pending, 1 running.
    ["done"] * 15 + ["failed"] * 2 + ["inconclusive", "pending", "running"]
)


def _status(i):
    return STATUS_CYCLE[i % len(STATUS_CYCLE)]


def _duration_ms(i):
    # Spread over 40 ms .. 2.4 s with a long tail, deterministic.
    return 40 + (i * 7919) % 900 + (1500 if i % 97 == 0 else 0)


def bulk_usage_data(*, owner, predictions, records=1000, days=30, start=0, batch_size=10_000):
    """Create ``records`` ECG records and ``predictions`` predictions spread over the last ``days`` days.

    Return what was created, counted while generating: statuses, durations, uploads, classes.
    ``start`` offsets the sequence so a second call adds different rows.
    """
    midnight = timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time.min))
    when = lambda i: midnight - datetime.timedelta(days=i % days) + datetime.timedelta(minutes=i % 600)  # noqa: E731
    sha = hashlib.sha256(b"bench").hexdigest()

    record_rows = []
    for i in range(start, start + records):
        signal = i % 3 == 0
        record_rows.append(
            ECGRecord(
                owner=owner,
                file=f"ecg/bulk/{i}.{'csv' if signal else 'png'}",
                original_filename=f"bulk-{i}",
                input_kind="signal" if signal else "image",
                file_format="csv" if signal else "png",
                size_bytes=1000,
                sha256=sha,
                created_at=when(i),
            )
        )
    created_records = ECGRecord.objects.bulk_create(record_rows, batch_size=batch_size)
    # bulk_create sends no post_save, so mark the uploader active on each upload day here.
    active_days = {timezone.localdate(r.created_at) for r in created_records}
    DailyActivity.objects.bulk_create(
        [DailyActivity(user=owner, day=day) for day in active_days], ignore_conflicts=True
    )

    statuses, durations, class_predictions = Counter(), [], Counter()
    prediction_rows = []
    readings = {status: reading_of(status) for status in set(STATUS_CYCLE)}
    for i in range(start, start + predictions):
        status = _status(i)
        created = when(i)
        started = created + datetime.timedelta(seconds=1) if status != "pending" else None
        finished = finished_duration = None
        if status in ("done", "failed", "inconclusive"):
            finished_duration = _duration_ms(i)
            finished = started + datetime.timedelta(milliseconds=finished_duration)
            durations.append(finished_duration)
        statuses[status] += 1
        prediction_rows.append(
            Prediction(
                record=created_records[i % len(created_records)],
                status=status,
                assessment=readings[status],
                level=readings[status].get("level", ""),
                is_current=False,
                model_version="bench" if status == "done" else "",
                created_at=created,
                queued_at=created,
                started_at=started,
                finished_at=finished,
                duration_ms=finished_duration,
                error_code="analysis_error" if status == "failed" else "",
                inconclusive_reason="unreadable" if status == "inconclusive" else "",
            )
        )
    created_predictions = Prediction.objects.bulk_create(prediction_rows, batch_size=batch_size)

    # Every tenth finished-and-done prediction gets class counts: normal beats plus one other class.
    counts = []
    for offset, prediction in enumerate(created_predictions):
        i = start + offset
        if prediction.status != "done" or i % 10:
            continue
        other = CODES[1 + (i // 10) % (len(CODES) - 1)]
        counts += [BeatCount(prediction=prediction, code="N", count=60), BeatCount(prediction=prediction, code=other, count=3)]
        class_predictions["N"] += 1
        class_predictions[other] += 1
    BeatCount.objects.bulk_create(counts, batch_size=batch_size)

    return {
        "records": len(created_records),
        "uploads_by_kind": Counter(r.input_kind for r in created_records),
        "statuses": statuses,
        "durations": durations,
        "class_predictions": class_predictions,
    }
