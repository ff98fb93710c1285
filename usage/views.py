"""The administrators' usage dashboard and its CSV export (staff only)."""

from django.http import HttpResponse
from django.shortcuts import render

from accounts.permissions import staff_required
from usage.csv_export import report_csv
from usage.forms import PRESETS, period_from_query
from usage.period import Period
from usage.selectors import usage_report


@staff_required
def dashboard(request):
    form, period = period_from_query(request.GET)
    status = 200
    if period is None:
        # Show the errors beside the default period rather than an empty page.
        period, status = Period.last_days(30), 400
    report = usage_report(period=period)
    context = {
        "form": form,
        "report": report,
        "presets": PRESETS,
        "querystring": request.GET.urlencode() if status == 200 else "",
    }
    return render(request, "usage/dashboard.html", context, status=status)


@staff_required
def export_csv(request):
    form, period = period_from_query(request.GET)
    if period is None:
        errors = "; ".join(message for messages in form.errors.values() for message in messages)
        return HttpResponse(errors, status=400, content_type="text/plain; charset=utf-8")
    response = HttpResponse(report_csv(usage_report(period=period)), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="usage-{period.start}-{period.end}.csv"'
    return response
