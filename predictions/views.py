"""Pages: upload, result (with its self-updating status fragment), history, cases, files, PDF.

Every record is fetched through ``accounts.permissions`` (the one access policy), which also
writes the audit event of the access; a record the user may not see is a 404, never a 403, so
its existence is not revealed.
"""

import math

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import permissions
from audit.models import AuditEvent
from notifications import services as notifications
from predictions import http, selectors, services
from predictions.errors import UploadError
from predictions.forms import ECGUploadForm, HistoryFilterForm, ReviewForm
from predictions.throttles import page_upload_wait

HISTORY_PAGE_SIZE = 10


Action = AuditEvent.Action


def _minutes(seconds):
    minutes = max(1, round(seconds / 60))
    return "a minute" if minutes == 1 else f"{minutes} minutes"


@login_required
@require_http_methods(["GET", "POST"])
def upload(request):
    """Show the upload form; on a valid upload store it, queue the analysis, go to the result."""
    form = ECGUploadForm(request.POST, request.FILES) if request.method == "POST" else ECGUploadForm()
    status = 200
    if request.method == "POST":
        wait = page_upload_wait(request)
        if wait is not None:
            form.add_error(None, f"Too many uploads in a short time. Nothing was saved; please try "
                                 f"again in {_minutes(wait)}.")
            status = 429
        else:
            if form.is_valid():
                try:
                    record = services.ecg_record_create(owner=request.user, **form.record_fields())
                except UploadError as exc:
                    form.add_error("file" if exc.field == "file" else None, exc.message)
                else:
                    return redirect("predictions:detail", uuid=record.uuid)
            status = 400
    max_mb = settings.ECG_UPLOAD_MAX_BYTES // 1_048_576
    return render(request, "predictions/upload.html", {"form": form, "max_mb": max_mb}, status=status)


def _result_context(request, record):
    prediction = selectors.prediction_current(record=record)
    context = {
        "record": record,
        "prediction": prediction,
        "can_change": permissions.can_change_record(user=request.user, record=record),
        "can_review": permissions.can_review(user=request.user, record=record),
        "is_owner": record.owner_id == request.user.pk,
    }
    if prediction is not None and prediction.is_finished:
        view = selectors.prediction_view(prediction=prediction, user=request.user)
        context["result"] = view
        context["articles"] = selectors.article_links(codes=view["codes"]) if prediction.status == "done" else []
        context["reviews"] = list(prediction.reviews.all())
        if context["can_review"]:
            context["review_form"] = ReviewForm()
    return context


@login_required
@require_GET
def detail(request, uuid):
    """Show one record's result page (it polls its status fragment until the analysis finishes)."""
    record = permissions.record_or_404(request=request, uuid=uuid)
    context = _result_context(request, record)
    context["runs"] = selectors.prediction_history(record=record)
    return render(request, "predictions/detail.html", context)


@login_required
@require_GET
def status_fragment(request, uuid):
    """Return the result body: a progress box while queued/running (polling), the result once done."""
    record, _ = permissions.record_status_or_404(request=request, uuid=uuid)
    response = render(request, "predictions/includes/result_body.html", _result_context(request, record))
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def review(request, uuid):
    """Store a verified, linked doctor's review of the record's current result."""
    record = permissions.record_or_404(request=request, uuid=uuid, action=Action.REVIEW, review=True)
    prediction = selectors.prediction_current(record=record)
    if prediction is None or not prediction.is_finished:
        raise Http404("There is no finished result to review.")
    form = ReviewForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            review = services.review_create(
                prediction=prediction,
                doctor=request.user,
                verdict=data["verdict"],
                note=data["note"],
                beat_index=data["beat_index"],
                corrected_code=data["corrected_code"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            notifications.review_created_notify(review=review)
            messages.success(request, "Your review was saved; the patient can see it.")
            return redirect(reverse("predictions:detail", kwargs={"uuid": record.uuid}) + "#reviews")
    context = _result_context(request, record)
    context["review_form"] = form
    context["runs"] = selectors.prediction_history(record=record)
    return render(request, "predictions/detail.html", context, status=400)


@login_required
@require_POST
def rerun(request, uuid):
    """Analyse the record again with the current model."""
    record = permissions.record_or_404(request=request, uuid=uuid, action=Action.RERUN, change=True)
    services.prediction_rerun(record=record)
    messages.info(request, "The ECG was queued for a new analysis.")
    return redirect("predictions:detail", uuid=record.uuid)


@login_required
@require_http_methods(["GET", "POST"])
def delete(request, uuid):
    """Ask for confirmation, then delete the record, its results and every stored file."""
    action = Action.DELETE if request.method == "POST" else Action.VIEW
    record = permissions.record_or_404(request=request, uuid=uuid, action=action, change=True)
    if request.method == "POST":
        name = record.original_filename
        services.ecg_record_delete(record=record)
        messages.success(request, f"{name} and its results were deleted.")
        return redirect("predictions:history")
    return render(request, "predictions/delete_confirm.html", {"record": record})


@login_required
@require_GET
def record_file(request, uuid, part="main"):
    """Stream the uploaded file (or a WFDB record's .dat) to someone allowed to see it."""
    record = permissions.record_or_404(request=request, uuid=uuid, action=Action.DOWNLOAD)
    field = record.companion_file if part == "companion" else record.file
    if not field:
        raise Http404("No such file.")
    name = record.companion_filename if part == "companion" else record.original_filename
    return http.file_response(field, filename=name or "ecg", content_type="application/octet-stream")


@login_required
@require_GET
def prediction_image(request, uuid, image_id):
    """Stream a derived image (trace, spectral, saliency) of a record the user may see."""
    image = permissions.image_or_404(request=request, uuid=uuid, image_id=image_id)
    return http.file_response(image.file, filename=f"{image.kind}.png", content_type="image/png", attachment=False)


@login_required
@require_GET
def report_pdf(request, uuid):
    """Return the PDF report of the record's current result."""
    record = permissions.record_or_404(request=request, uuid=uuid, action=Action.DOWNLOAD)
    prediction = selectors.prediction_current(record=record)
    if prediction is None or not prediction.is_finished:
        raise Http404("The analysis has not finished yet.")
    return http.pdf_response(record=record, prediction=prediction, user=request.user)


def _paginate(request, queryset):
    paginator = Paginator(queryset, HISTORY_PAGE_SIZE)
    return paginator.get_page(request.GET.get("page"))


@login_required
@require_GET
def history(request):
    """List the user's own records, newest first, with filters and search."""
    permissions.own_records_listed(request=request)
    form = HistoryFilterForm(request.GET or None)
    records = selectors.ecg_record_list(user=request.user, filters=form.filters())
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "predictions/history.html",
        {"form": form, "page_obj": _paginate(request, records), "query": query.urlencode(), "patient": None},
    )


@login_required
@require_GET
def patient_history(request, patient_id):
    """List a linked patient's records for their doctor (or staff)."""
    patient = permissions.patient_or_404(request=request, patient_id=patient_id)
    form = HistoryFilterForm(request.GET or None)
    records = selectors.ecg_record_list(user=request.user, filters=form.filters(), patient=patient)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "predictions/history.html",
        {"form": form, "page_obj": _paginate(request, records), "query": query.urlencode(), "patient": patient},
    )


@login_required
@require_GET
def cases(request):
    """List a verified doctor's linked patients with their latest results and pending reviews."""
    if not getattr(request.user, "is_verified_doctor", False):
        raise Http404("Only verified doctors have cases.")
    cases = selectors.doctor_case_list(doctor=request.user)
    for case in cases:
        permissions.record_access(
            request=request, patient=case["patient"], action=Action.VIEW, object_type="case_list"
        )
    return render(request, "predictions/cases.html", {"cases": cases})


@login_required
@require_GET
def fhir_bundle(request, uuid):
    """Download the record's current result as a FHIR R4 Bundle (JSON)."""
    record = permissions.record_or_404(request=request, uuid=uuid, action=Action.EXPORT)
    prediction = selectors.prediction_current(record=record)
    if prediction is None or not prediction.is_finished:
        raise Http404("The analysis has not finished yet.")
    return http.fhir_response(request=request, record=record, prediction=prediction)


@login_required
@require_GET
def trace_window(request, uuid):
    """Return a window of the record's stored signal and its beats (JSON) for the trace viewer."""
    record = permissions.record_or_404(request=request, uuid=uuid)
    prediction = selectors.prediction_current(record=record)
    try:
        start = float(request.GET.get("start", 0))
        end = float(request.GET["end"]) if request.GET.get("end") else None
        columns = int(request.GET.get("columns", 1000))
        if not all(math.isfinite(v) for v in (start, end if end is not None else 0.0)):
            raise ValueError
    except ValueError:
        return JsonResponse({"detail": "start and end are seconds, columns a whole number."}, status=400)
    window = selectors.trace_window(prediction=prediction, start_s=start, end_s=end, columns=columns) if prediction else None
    if window is None:
        raise Http404("This result has no stored trace.")
    return JsonResponse(window)
