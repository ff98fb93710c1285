"""Usage-metrics benchmark: the staff dashboard's database aggregation against a per-row Python loop.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ecgportal [REDIS_URL=redis://127.0.0.1:6379/3] \\
        python bench/bench_metrics.py [--repeat 5]

What it does, in one run on this machine:
- creates a throw-away PostgreSQL database (``bench_ecg_metrics``, migrated; dropped at the end) and
  never touches any other database;
- bulk-generates 1,000 predictions (``usage/tests/bulk.py``), then adds 99,000 more
  (100,000 in all), with records, beat counts and some article reads;
- at each size, times ``usage_report(period=...)`` (the selector call the page, the CSV export and
  the API make), the whole page (``GET /staff/metrics/`` as staff, i.e. selectors + template), and
  counts the SQL queries of both;
- beside it, as the baseline, computes the same figures with a naive loop in Python over every
  row (``.iterator()``), and checks that both give the same numbers.
Prints a Markdown table and writes it, with the machine and the command, to bench/RESULTS-metrics.md.
"""

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DB_NAME = "bench_ecg_metrics"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/ecgportal"


def _percentile(ordered, fraction):
    """Return the interpolated percentile of a sorted list, like PostgreSQL's ``percentile_cont``."""
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return round(float(ordered[low] + (ordered[high] - ordered[low]) * (position - low)), 1)


def naive_report(*, period):
    """Compute the same figures as ``usage_report`` by looping over every row in Python (the baseline)."""
    from allauth.socialaccount.models import SocialAccount
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from articles.models import ArticleView
    from usage.models import DailyActivity
    from ml.classes import BEAT_CLASSES
    from predictions.models import BeatCount, ECGRecord, Prediction

    start, end = period.start_at, period.end_before
    inside = lambda dt: dt is not None and start <= dt < end  # noqa: E731
    day = lambda dt: timezone.localtime(dt).date().isoformat()  # noqa: E731
    User = get_user_model()

    providers = defaultdict(set)
    for account in SocialAccount.objects.all().iterator():
        providers[account.user_id].add(account.provider)
    roles, methods, signups = Counter(), Counter(), Counter()
    for user in User.objects.all().iterator():
        roles[user.role] += 1
        p = providers.get(user.pk, set())
        methods["google" if "google" in p else "linkedin" if any(x.startswith("linkedin") for x in p) else "form"] += 1
        if inside(user.date_joined):
            signups[day(user.date_joined)] += 1

    active_pairs = set()
    for activity in DailyActivity.objects.all().iterator():
        if period.start <= activity.day <= period.end:
            active_pairs.add((activity.day.isoformat(), activity.user_id))
    active = Counter(d for d, _ in active_pairs)

    uploads = defaultdict(Counter)
    for record in ECGRecord.objects.all().iterator():
        if inside(record.created_at):
            uploads[day(record.created_at)][record.input_kind] += 1

    statuses, durations, in_period = Counter(), [], set()
    for prediction in Prediction.objects.all().iterator():
        if not inside(prediction.created_at):
            continue
        in_period.add(prediction.pk)
        statuses[prediction.status] += 1
        if prediction.duration_ms is not None:
            durations.append(prediction.duration_ms)
    durations.sort()

    class_predictions, class_beats = defaultdict(set), Counter()
    for beat_count in BeatCount.objects.all().iterator():
        if beat_count.count > 0 and beat_count.prediction_id in in_period:
            class_predictions[beat_count.code].add(beat_count.prediction_id)
            class_beats[beat_count.code] += beat_count.count

    reads = Counter()
    for view in ArticleView.objects.select_related("article").iterator():
        if inside(view.viewed_at) and view.article.published:
            reads[(view.article.title, view.article.slug)] += 1

    finished = statuses["done"] + statuses["failed"] + statuses["inconclusive"]
    days = [d.isoformat() for d in period.days()]
    return {
        "totals": {
            "users": sum(roles.values()),
            "signups": sum(signups.values()),
            "uploads": sum(sum(c.values()) for c in uploads.values()),
            "predictions": sum(statuses.values()),
        },
        "users_by_role": {role: roles[role] for role in User.Role.values},
        "users_by_signup_method": {m: methods[m] for m in ("form", "google", "linkedin")},
        "signups_per_day": [{"date": d, "count": signups[d]} for d in days],
        "active_users_per_day": [{"date": d, "count": active[d]} for d in days],
        "uploads_per_day": [{"date": d, "image": uploads[d]["image"], "signal": uploads[d]["signal"]} for d in days],
        "predictions_by_status": {s: statuses[s] for s in Prediction.Status.values},
        "predictions_by_class": [
            {"code": c.code, "name": c.name, "predictions": len(class_predictions[c.code]), "beats": class_beats[c.code]}
            for c in BEAT_CLASSES
        ],
        "processing_time": {
            "count": len(durations),
            "median_ms": _percentile(durations, 0.5),
            "p95_ms": _percentile(durations, 0.95),
        },
        "outcomes": {
            "finished": finished,
            "failed": statuses["failed"],
            "inconclusive": statuses["inconclusive"],
            "failure_rate": statuses["failed"] / finished if finished else None,
            "inconclusive_rate": statuses["inconclusive"] / finished if finished else None,
        },
        "articles_most_read": [
            {"title": t, "slug": s, "reads": n} for (t, s), n in sorted(reads.items(), key=lambda kv: (-kv[1], kv[0][0]))
        ][:10],
    }


def _timed(fn, repeat):
    """Return (median seconds, queries of the last run, last result) over ``repeat`` runs after one warm-up."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fn()
    times = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as ctx:
            t = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - t)
    return statistics.median(times), len(ctx.captured_queries), result


def _add_article_reads(n):
    from articles.models import Article, ArticleView
    from django.utils import timezone

    articles = list(Article.objects.published().order_by("slug"))
    now = timezone.now()
    views = [ArticleView(article=articles[(i * i) % len(articles)]) for i in range(n)]
    created = ArticleView.objects.bulk_create(views, batch_size=10_000)
    # auto_now_add sets "now"; spread them over the period like the predictions.
    for i, view in enumerate(created):
        view.viewed_at = now - datetime.timedelta(days=i % 30, minutes=i % 600)
    ArticleView.objects.bulk_update(created, ["viewed_at"], batch_size=10_000)


def measure(*, client, period, repeat, page_url):
    from usage.selectors import usage_report

    selector_s, selector_q, report = _timed(lambda: usage_report(period=period), repeat)
    page_s, page_q, response = _timed(lambda: client.get(page_url), repeat)
    assert response.status_code == 200, response.status_code
    naive_s, naive_q, naive = _timed(lambda: naive_report(period=period), max(1, repeat // 2))
    mismatched = [key for key in naive if report[key] != naive[key]]
    assert not mismatched, f"the baseline disagrees with the selectors on: {mismatched}"
    return {
        "selector_s": selector_s,
        "selector_q": selector_q,
        "page_s": page_s,
        "page_q": page_q,
        "naive_s": naive_s,
        "naive_q": naive_q,
        "predictions": report["totals"]["predictions"],
        "page_bytes": len(response.content),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=5, help="timed runs per measure (median reported)")
    p.add_argument("--out", default=str(REPO / "bench" / "RESULTS-metrics.md"))
    args = p.parse_args(argv)
    os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
    if not os.environ["DATABASE_URL"].startswith("postgres"):
        sys.exit("DATABASE_URL must point at PostgreSQL: the dashboard's percentiles use percentile_cont.")
    os.environ["DJANGO_SETTINGS_MODULE"] = "ecgportal.settings.test"
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    setup_test_environment()
    connection.settings_dict["TEST"].update(NAME=DB_NAME)
    # create_test_db creates (and afterwards destroy_test_db drops) only this database, then
    # points the connection at it: the database named in DATABASE_URL is never written.
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        from accounts.tests.factories import StaffFactory
        from usage.period import Period
        from usage.tests.bulk import bulk_usage_data

        staff = StaffFactory()
        client = Client()
        client.force_login(staff)
        period = Period.last_days(30)
        page_url = reverse("usage:dashboard")
        rows = []

        t = time.perf_counter()
        bulk_usage_data(owner=staff, predictions=1_000, records=100)
        _add_article_reads(100)
        gen_small = time.perf_counter() - t
        rows.append(measure(client=client, period=period, repeat=args.repeat, page_url=page_url))

        t = time.perf_counter()
        bulk_usage_data(owner=staff, predictions=99_000, records=900, start=1_000)
        _add_article_reads(9_900)
        gen_large = time.perf_counter() - t
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # what autovacuum would do after a bulk load
        rows.append(measure(client=client, period=period, repeat=args.repeat, page_url=page_url))
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            pg_version = cursor.fetchone()[0]
    finally:
        connection.creation.destroy_test_db(test_db, verbosity=0)

    small, large = rows
    lines = [
        "# Usage metrics: database aggregation vs a per-row Python loop",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores (shared), Python {platform.python_version()}, "
        f"PostgreSQL {pg_version.split()[0]} on localhost; Redis {'at REDIS_URL' if os.environ.get('REDIS_URL') else 'not set (queue: not configured)'}.",
        "",
        "Command: `DATABASE_URL=postgres://postgres@127.0.0.1:5432/ecgportal REDIS_URL=redis://127.0.0.1:6379/3 "
        f".venv/bin/python bench/bench_metrics.py --repeat {args.repeat}`",
        "",
        f"Data: a throw-away database `{DB_NAME}` (dropped afterwards), bulk-generated by `usage/tests/bulk.py`: "
        "1,000 predictions on 100 records with 100 article reads, then 100,000 predictions on 1,000 records with "
        "10,000 reads, over 30 days (15/20 done, every tenth done one with beat counts). "
        f"Generation took {gen_small:.1f} s and {gen_large:.1f} s. Period: the page's default, the last 30 days.",
        "",
        f"Each figure is the median of {args.repeat} runs after a warm-up ({max(1, args.repeat // 2)} for the baseline). "
        "The 2 cores are shared with other jobs, so figures of a few tens of ms vary by about 10 ms between runs. "
        "The baseline loops over every user, daily-activity row, record, prediction, beat count and article read in Python "
        "(`.iterator()`), and its figures were checked equal to the selectors' at both sizes.",
        "",
        "| measure | 1k predictions | 100k predictions | 100k / 1k |",
        "|---|---:|---:|---:|",
    ]

    def row(label, key, fmt):
        ratio = large[key] / small[key] if small[key] else float("nan")
        lines.append(f"| {label} | {fmt(small[key])} | {fmt(large[key])} | {ratio:.1f}x |")

    ms = lambda s: f"{s * 1000:.1f} ms"  # noqa: E731
    row("`usage_report()` (SQL aggregation)", "selector_s", ms)
    row("queries, `usage_report()`", "selector_q", str)
    row("whole page as staff (selectors + template)", "page_s", ms)
    row("queries, whole page (incl. session/user)", "page_q", str)
    row("baseline: naive per-row Python loop", "naive_s", ms)
    row("queries, baseline", "naive_q", str)
    lines += [
        "",
        f"At 100k predictions the aggregation is {large['naive_s'] / large['selector_s']:.0f}x faster than the "
        f"per-row loop ({ms(large['selector_s'])} vs {ms(large['naive_s'])}); the query count stays "
        f"{small['selector_q']} → {large['selector_q']} (page {small['page_q']} → {large['page_q']}) while the data grows 100x. "
        f"Page size: {small['page_bytes']:,} / {large['page_bytes']:,} bytes.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
