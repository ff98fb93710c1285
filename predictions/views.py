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
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import permissions
from audit.models import AuditEvent
from notifications import services as notifications
from predictions import http, selectors, services
from predictions.errors import UploadError
from predictions.forms import (
    ECGUploadForm,
    EmailReportForm,
    HistoryFilterForm,
    ReviewForm,
    ShareCodeForm,
    ShareLinkForm,
    WorklistFilterForm,
)
from predictions.throttles import page_find_allowed, page_upload_wait
from predictions.validation import ACCEPT

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
                    if getattr(record, "was_duplicate", False):
                        messages.info(request, "You uploaded this same file a moment ago: this is its result "
                                               "(nothing was stored twice).")
                    return redirect("predictions:detail", uuid=record.uuid)
            status = 400
    max_mb = settings.ECG_UPLOAD_MAX_BYTES // 1_048_576
    return render(request, "predictions/upload.html", {"form": form, "max_mb": max_mb, "accept": ACCEPT}, status=status)


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
        if context["is_owner"]:
            context["share_form"], context["email_form"] = ShareLinkForm(), EmailReportForm()
            context["care_links"] = selectors.record_care_links(record=record)
        if context["can_review"]:
            context["review_form"] = _review_form(prediction)
            context["next_case"] = selectors.worklist_next(doctor=request.user, after=prediction)
    return context


def _review_form(prediction, data=None):
    families = selectors.beat_families(prediction=prediction) if prediction.status == "done" else []
    return ReviewForm(data, prediction=prediction, families=families)


@login_required
@require_GET
def detail(request, uuid):
    """Show one record's result page (it polls its status fragment until the analysis finishes)."""
    record = permissions.record_or_404(request=request, uuid=uuid)
    context = _result_context(request, record)
    context["runs"] = selectors.prediction_history(record=record)
    return render(request, "predictions/detail.html", context)


def status_wait_seconds(query):
    """Return the ``wait`` of a status read's query (seconds to wait for news; 0 when absent);
    raise ValueError with the message to show when it is not a number from 0 to the limit."""
    raw = query.get("wait", "")
    if raw == "":
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0 <= value <= selectors.STATUS_WAIT_MAX_S:
        raise ValueError(f"wait is a number of seconds from 0 to {selectors.STATUS_WAIT_MAX_S}.")
    return value


STATUS_UNTIL = ("change", "finished")


def status_until_finished(query):
    """Return True when a status read's ``until`` asks to wait for the finished result rather than
    for any change; raise ValueError with the message to show for another value."""
    raw = query.get("until", "change")
    if raw not in STATUS_UNTIL:
        raise ValueError("until is 'change' (answer at any change of the status, the default) or 'finished' "
                         "(answer once the analysis has finished).")
    return raw == "finished"


def record_status_waiting(request, uuid, wait_s, *, with_stage=False, until_finished=False):
    """Return (record, current prediction) for a status read that may wait (a long-poll): while the
    analysis is unfinished, answer when its status (or stage) changes, or with ``until_finished``
    when it has finished, or after ``wait_s``. The access is checked again after the wait, and a
    finished answer audited (``permissions.record_status_or_404``)."""
    record, prediction = permissions.record_status_or_404(request=request, uuid=uuid)
    if wait_s and prediction is not None and not prediction.is_finished:
        if selectors.prediction_wait(prediction=prediction, wait_s=wait_s, with_stage=with_stage,
                                     until_finished=until_finished):
            record, prediction = permissions.record_status_or_404(request=request, uuid=uuid)
    return record, prediction


@login_required
@require_GET
def status_fragment(request, uuid):
    """Return the result body: a progress box while queued/running, the result once done. With
    ``?wait=`` seconds the answer waits for the status or the stage to change (the page's long-poll)."""
    try:
        wait_s = status_wait_seconds(request.GET)
    except ValueError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    record, _ = record_status_waiting(request, uuid, wait_s, with_stage=True)
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
    form = _review_form(prediction, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            review = services.review_create(
                prediction=prediction,
                doctor=request.user,
                verdict=data["verdict"],
                note=data["note"],
                beat_indices=data["beat_indices"],
                corrected_code=data["corrected_code"],
                finding_decisions=data["finding_decisions"],
                rhythm=data["rhythm"],
                added_findings=data["added_findings"],
                complete=data["complete"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            notifications.review_created_notify(review=review)
            messages.success(request, "Your review was saved: the reading, counts, PDF and FHIR show it, "
                                      "and the patient can see it.")
            following = selectors.worklist_next(doctor=request.user, after=prediction)
            if request.POST.get("then") == "next" and following is not None:
                return redirect("predictions:detail", uuid=following.record.uuid)
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
@require_POST
def page_corners(request):
    """Find the page in a photo the crop step sends (a copy reduced in the browser), before the
    upload: {"corners": [[x, y] * 4] or null} in that copy's pixels, or a 400 with the reason."""
    from predictions.pictures import NotAPicture, find_page

    if not page_find_allowed(request):
        return JsonResponse({"error": "Too many pictures in a short time: upload this one; its page is found then."},
                            status=429)
    picture = request.FILES.get("picture")
    if picture is None:
        return JsonResponse({"error": "Send the picture as the 'picture' field."}, status=400)
    try:
        return JsonResponse({"corners": find_page(picture.read())})
    except NotAPicture as exc:
        return JsonResponse({"error": str(exc)}, status=400)


@login_required
@require_GET
def record_picture(request, uuid):
    """Return the uploaded picture as a JPEG any browser shows (for drawing what was read over it)."""
    from django.http import HttpResponse

    from predictions.pictures import rendition_jpeg

    record = permissions.record_or_404(request=request, uuid=uuid, action=Action.VIEW)
    jpeg = rendition_jpeg(record)
    if jpeg is None:
        raise Http404("This record is not a picture.")
    response = HttpResponse(jpeg, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    return response


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
        {"form": form, "page_obj": _paginate(request, records), "query": query.urlencode(), "patient": None,
         "trends": selectors.patient_trends(user=request.user)},
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
        {"form": form, "page_obj": _paginate(request, records), "query": query.urlencode(), "patient": patient,
         "trends": selectors.patient_trends(user=request.user, patient=patient)},
    )


@login_required
@require_GET
def cases(request):
    """A verified doctor's worklist (results, urgent first, with the finding that makes each so)
    and their linked patients."""
    if not getattr(request.user, "is_verified_doctor", False):
        raise Http404("Only verified doctors have cases.")
    form = WorklistFilterForm(request.GET or None)
    results = _paginate(request, selectors.worklist(doctor=request.user, **form.filters()))
    cases = selectors.doctor_case_list(doctor=request.user)
    seen = {case["patient"].pk: case["patient"] for case in cases}
    seen.update({p.record.owner_id: p.record.owner for p in results})
    for patient in seen.values():
        permissions.record_access(request=request, patient=patient, action=Action.VIEW, object_type="case_list")
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "predictions/cases.html",
                  {"cases": cases, "form": form, "page_obj": results, "query": query.urlencode()})


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
    window = selectors.trace_window(prediction=prediction, start_s=start, end_s=end, columns=columns,
                                    all_leads=request.GET.get("leads") == "all") if prediction else None
    if window is None:
        raise Http404("This result has no stored trace.")
    return JsonResponse(window)


# --- sharing with a clinician who has no account ----------------------------------------------


def _own_finished_record(request, uuid, action):
    record = permissions.record_or_404(request=request, uuid=uuid, action=action)
    prediction = selectors.prediction_current(record=record)
    if record.owner_id != request.user.pk or prediction is None or not prediction.is_finished:
        raise Http404("Only your own finished results can be shared.")
    return record, prediction


@login_required
@require_POST
def share(request, uuid):
    """Make a share link to this result and show it (and its code) once."""
    record, _ = _own_finished_record(request, uuid, Action.SHARE)
    form = ShareLinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The link was not made: " + "; ".join(e for errors in form.errors.values() for e in errors))
        return redirect("predictions:detail", uuid=record.uuid)
    link, token, code = services.share_link_create(owner=request.user, records=[record], label=form.cleaned_data["label"],
                                                   days=form.cleaned_data["days"], with_code=form.cleaned_data["with_code"])
    url = request.build_absolute_uri(reverse("shared:open", kwargs={"token": token}))
    return render(request, "predictions/share_created.html", {"link": link, "url": url, "code": code, "record": record})


@login_required
@require_POST
def record_doctors(request, uuid):
    """Choose which linked doctors (those who see only chosen ECGs) see this one."""
    record = permissions.record_or_404(request=request, uuid=uuid, action=Action.SHARE, change=True)
    if record.owner_id != request.user.pk:
        raise Http404("Only the patient shares their ECGs.")
    try:
        services.ecg_record_share(owner=request.user, record=record, link_ids=request.POST.getlist("links"))
    except ValueError:
        messages.error(request, "Choose doctors from the list.")
    else:
        messages.success(request, "Saved: the doctors you ticked see this ECG.")
    return redirect(reverse("predictions:detail", kwargs={"uuid": record.uuid}) + "#share")


@login_required
@require_GET
def shared_links(request):
    """List the user's share links, live ones first, with how often each was opened."""
    links = selectors.share_link_list(owner=request.user)
    return render(request, "predictions/shared_links.html", {"links": links})


@login_required
@require_POST
def shared_link_revoke(request, link_uuid):
    from predictions.models import ShareLink

    try:
        services.share_link_revoke(owner=request.user, link_uuid=link_uuid)
    except ShareLink.DoesNotExist:
        raise Http404("No such link.") from None
    messages.success(request, "The link no longer works.")
    return redirect("predictions:shared_links")


@login_required
@require_POST
def email_report(request, uuid):
    """Email this result's PDF to an address the patient gives (their clinic)."""
    record, prediction = _own_finished_record(request, uuid, Action.SHARE)
    form = EmailReportForm(request.POST)
    if form.is_valid():
        services.report_email(record=record, prediction=prediction, user=request.user, to=form.cleaned_data["to"])
        messages.success(request, "The PDF report was sent.")
    else:
        messages.error(request, "The report was not sent: enter a valid email address.")
    return redirect(reverse("predictions:detail", kwargs={"uuid": record.uuid}) + "#share")


def _shared_link_or_404(request, token):
    """Return the usable link of ``token``, or None while it waits for its code (a right code is
    remembered for this browser session); 404 for an unknown, expired or revoked link."""
    from predictions.models import ShareLink

    session_key = f"shared:{services.sha256_text(token)}"
    checked = bool(request.session.get(session_key))
    code = request.POST.get("code", "") if request.method == "POST" and not checked else None
    try:
        link = services.share_link_open(token=token, code=code, code_checked=checked)
    except ShareLink.DoesNotExist:
        raise Http404("This link does not work: it has expired or was withdrawn.") from None
    except PermissionError:
        return None
    if link.code_hash:
        request.session[session_key] = True
    return link


@require_http_methods(["GET", "POST"])
def shared_open(request, token):
    """The page a clinician opens from a share link: the results read-only, with their PDFs."""
    link = _shared_link_or_404(request, token)
    if link is None:
        form = ShareCodeForm(request.POST if request.method == "POST" else None)
        if request.method == "POST":
            form.add_error("code", "That code is not right. Ask the patient for the code that came with the link.")
        response = render(request, "predictions/shared_code.html", {"form": form}, status=403 if request.method == "POST" else 200)
    else:
        items = []
        for record in link.records.select_related("owner").order_by("-created_at"):
            permissions.record_access(request=request, patient=record.owner, action=Action.VIEW, obj=record,
                                      object_type="shared_link")
            prediction = selectors.prediction_current(record=record)
            if prediction is not None and prediction.is_finished:
                items.append({"record": record, "prediction": prediction,
                              "result": selectors.prediction_view(prediction=prediction, user=link.owner)})
        response = render(request, "predictions/shared.html", {"link": link, "items": items, "token": token})
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "same-origin"  # the token never leaves in a Referer; same-origin forms keep working
    response["X-Robots-Tag"] = "noindex"
    return response


@require_GET
def shared_report(request, token, uuid):
    """The PDF of one shared result."""
    link = _shared_link_or_404(request, token)
    record = link.records.filter(uuid=uuid).first() if link is not None else None
    prediction = selectors.prediction_current(record=record) if record is not None else None
    if prediction is None or not prediction.is_finished:
        raise Http404("No such result in this link.")
    permissions.record_access(request=request, patient=record.owner, action=Action.DOWNLOAD, obj=record,
                              object_type="shared_link")
    return http.pdf_response(record=record, prediction=prediction, user=link.owner)
