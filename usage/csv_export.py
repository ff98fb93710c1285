"""Flatten a usage report into CSV rows: one value per row, easy to pivot in a spreadsheet."""

import csv
import io

HEADER = ("metric", "date", "key", "value")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _cell(value):
    """Return ``value`` safe for spreadsheets: text that looks like a formula is quoted."""
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, str) and text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def report_rows(report):
    """Yield (metric, date, key, value) rows for every number in ``report``."""
    period = report["period"]
    yield ("period", "", "start", period["start"])
    yield ("period", "", "end", period["end"])
    for key, value in report["totals"].items():
        yield ("totals", "", key, value)
    for key, value in report["users_by_role"].items():
        yield ("users_by_role", "", key, value)
    for key, value in report["users_by_signup_method"].items():
        yield ("users_by_signup_method", "", key, value)
    for metric in ("signups_per_day", "active_users_per_day"):
        for day in report[metric]:
            yield (metric, day["date"], "count", day["count"])
    for day in report["uploads_per_day"]:
        yield ("uploads_per_day", day["date"], "image", day["image"])
        yield ("uploads_per_day", day["date"], "signal", day["signal"])
    for key, value in report["predictions_by_status"].items():
        yield ("predictions_by_status", "", key, value)
    for key, value in report["readings_by_level"].items():
        yield ("readings_by_level", "", key, value)
    agreement = report["doctor_agreement"]
    yield ("doctor_agreement", "", "reviewed_readings", agreement["reviewed_readings"])
    yield ("doctor_agreement", "", "same_level", agreement["same_level"])
    for row in agreement["classes"]:
        yield ("doctor_agreement", "", row["code"], "" if row["agreement"] is None else row["agreement"])
    for row in report["predictions_by_class"]:
        yield ("predictions_by_class", "", row["code"], row["predictions"])
        yield ("beats_by_class", "", row["code"], row["beats"])
    for key, value in report["processing_time"].items():
        yield ("processing_time", "", key, value)
    for key, value in report["outcomes"].items():
        yield ("outcomes", "", key, round(value, 4) if isinstance(value, float) else value)
    yield ("queue", "", "length", report["queue"]["length"] if report["queue"]["length"] is not None else "n/a")
    for article in report["articles_most_read"]:
        yield ("articles_most_read", "", article["title"], article["reads"])


def report_csv(report):
    """Return ``report`` as CSV text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    for row in report_rows(report):
        writer.writerow([_cell(value) for value in row])
    return buffer.getvalue()
