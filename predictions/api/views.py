"""REST API for ECG records: upload, history, status, result, re-run, delete, files, PDF, reviews.

Views parse, call a service or selector, and serialize. Records are fetched through
``accounts.permissions``, which applies the access policy and writes the audit event; objects a
user may not see are 404s.
"""

import uuid

from django.http import Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import permissions
from audit.models import AuditEvent
from ecgportal.api_schema import form_parameters
from exports import fhir
from notifications import services as notifications
from predictions import http, selectors, services
from predictions.api.serializers import (
    ECGRecordSerializer,
    ErrorSerializer,
    PredictionStatusSerializer,
    ResultSerializer,
    ReviewSerializer,
    TrendPointSerializer,
    UploadSerializer,
)
from predictions.forms import ECGUploadForm, HistoryFilterForm
from predictions.models import ECGRecord
from predictions.report import DISCLAIMER
from predictions.throttles import UploadRateThrottle

ERROR_RESPONSE = OpenApiResponse(ErrorSerializer, description="The upload was refused; nothing was stored.")


Action = AuditEvent.Action


FILTER_PARAMETERS = form_parameters(HistoryFilterForm, {
    "level": "Only records whose current reading has this level (ml.assessment).",
    "code": "Only records whose current result has beats of this class.",
    "q": "Search in the note and the file name.",
}) + [
    OpenApiParameter("patient", OpenApiTypes.UUID, description="A linked patient's public id (doctors); default: your own records."),
]


def _patient_asked(request):
    """Return the linked patient named by ``?patient=<public id>`` (a doctor's view), or None for
    the user's own records; both reads are audited. An unknown or unlinked patient is a 404."""
    if not request.query_params.get("patient"):
        permissions.own_records_listed(request=request)
        return None
    try:
        public_id = uuid.UUID(request.query_params["patient"])
    except ValueError:
        raise Http404 from None
    return permissions.patient_or_404(request=request, public_id=public_id)


class RecordListCreateView(GenericAPIView):
    """List your ECG records (newest first) or upload a new one."""

    serializer_class = ECGRecordSerializer
    parser_classes = [MultiPartParser, FormParser]
    queryset = ECGRecord.objects.none()

    def get_throttles(self):
        throttles = super().get_throttles()
        if self.request.method == "POST":
            throttles.append(UploadRateThrottle())
        return throttles

    @extend_schema(
        parameters=FILTER_PARAMETERS,
        responses={
            200: ECGRecordSerializer(many=True),
            400: OpenApiResponse(ErrorSerializer, description="A filter is invalid (`invalid_filter`, with `fields`)."),
            404: OpenApiResponse(description="No such patient, or not one who linked you."),
        },
    )
    def get(self, request):
        form = HistoryFilterForm(request.query_params)
        if not form.is_valid():
            return Response({"code": "invalid_filter", "detail": "Invalid filter.", "fields": form.errors}, status=400)
        patient = _patient_asked(request)
        records = selectors.ecg_record_list(user=request.user, filters=form.filters(), patient=patient)
        page = self.paginate_queryset(records)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        request={"multipart/form-data": UploadSerializer},
        responses={201: ECGRecordSerializer,
                   200: OpenApiResponse(ECGRecordSerializer, description="The same file was uploaded in the last "
                                        "minute: the earlier record, nothing stored twice."),
                   400: ERROR_RESPONSE},
        description="Upload an ECG; it is checked before anything is stored, then analysed in the background. "
        "Follow `links.status` until `is_finished`, then read `links.result`.",
    )
    def post(self, request):
        form = ECGUploadForm(request.data, request.FILES)
        if not form.is_valid():
            errors = {k: [str(e) for e in v] for k, v in form.errors.items()}
            first = next(iter(errors.values()))[0]
            return Response({"code": form.error_code(), "detail": first, "fields": errors}, status=400)
        # The record comes back holding its owner and current prediction: answered without reading it again.
        record = services.ecg_record_create(owner=request.user, **form.record_fields())  # UploadError: 400
        serializer = self.get_serializer(record)
        headers = {"Location": serializer.data["links"]["detail"]}
        # The same file again within a minute is the same ECG: 200 with the earlier record.
        code = status.HTTP_200_OK if getattr(record, "was_duplicate", False) else status.HTTP_201_CREATED
        return Response(serializer.data, status=code, headers=headers)


class TrendsView(APIView):
    """Your readings over time (or a linked patient's, for their doctor): heart rate, AF burden,
    extra beats, QTc and level per recording, oldest first."""

    @extend_schema(
        parameters=[OpenApiParameter("patient", OpenApiTypes.UUID,
                                     description="A linked patient's public id (doctors); default: your own.")],
        responses={200: TrendPointSerializer(many=True), 404: OpenApiResponse(description="No such patient, or not one who linked you.")},
    )
    def get(self, request):
        patient = _patient_asked(request)
        return Response(TrendPointSerializer(selectors.patient_trends(user=request.user, patient=patient), many=True).data)


class RecordDetailView(APIView):
    """One record with its current prediction's status; DELETE removes it and its files."""

    @extend_schema(responses=ECGRecordSerializer)
    def get(self, request, uuid):
        record = permissions.record_or_404(request=request, uuid=uuid)
        return Response(ECGRecordSerializer(record, context={"request": request}).data)

    @extend_schema(responses={204: None})
    def delete(self, request, uuid):
        record = permissions.record_or_404(request=request, uuid=uuid, action=Action.DELETE, change=True)
        services.ecg_record_delete(record=record)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RecordStatusView(APIView):
    """The status of the record's current prediction. ``?wait=`` seconds (up to 25): while it is
    unfinished, answer as soon as the status changes (``?until=finished``: once it has finished),
    or after the wait (a long-poll)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("wait", OpenApiTypes.NUMBER, description="Seconds to wait for the status "
                             "to change before answering (0-25; default 0: answer at once)."),
            OpenApiParameter("until", OpenApiTypes.STR, enum=["change", "finished"], description="With `wait`: "
                             "answer at any change of the status (`change`, the default: pending -> running "
                             "answers too) or only once the analysis has finished (`finished`: one read for "
                             "a client that wants the result)."),
        ],
        responses={200: PredictionStatusSerializer, 400: ErrorSerializer},
    )
    def get(self, request, uuid):
        from predictions.views import record_status_waiting, status_until_finished, status_wait_seconds

        try:
            wait_s = status_wait_seconds(request.query_params)
        except ValueError as exc:
            return Response({"code": "invalid_wait", "detail": str(exc)}, status=400)
        try:
            until_finished = status_until_finished(request.query_params)
        except ValueError as exc:
            return Response({"code": "invalid_until", "detail": str(exc)}, status=400)
        _, prediction = record_status_waiting(request, uuid, wait_s, until_finished=until_finished)
        if prediction is None:
            raise Http404
        return Response(PredictionStatusSerializer(prediction).data)


def _finished_or_409(record):
    """Return (the record's finished current prediction, None), or (None, a 409 with its status)
    while it runs; 404 when the record has none."""
    prediction = selectors.prediction_current(record=record)
    if prediction is None:
        raise Http404
    if not prediction.is_finished:
        return None, Response(PredictionStatusSerializer(prediction).data, status=status.HTTP_409_CONFLICT)
    return prediction, None


class RecordResultView(APIView):
    """The full result of the record's current prediction (409 while it is not finished)."""

    @extend_schema(responses={200: ResultSerializer, 409: PredictionStatusSerializer})
    def get(self, request, uuid):
        record = permissions.record_or_404(request=request, uuid=uuid)
        prediction, not_ready = _finished_or_409(record)
        if not_ready:
            return not_ready
        view = selectors.prediction_view(prediction=prediction, user=request.user)
        images = [
            {
                "kind": im.kind,
                "beat_index": im.beat_index,
                "code": im.code,
                "probability": im.probability,
                "url": request.build_absolute_uri(
                    reverse("predictions-api:record-image", kwargs={"uuid": record.uuid, "image_id": im.pk})
                ),
            }
            for im in prediction.images.all()
        ]
        articles = selectors.article_links(codes=view["codes"]) if prediction.status == "done" else []
        data = {
            "status": prediction.status,
            "assessment": prediction.assessment or None,
            "conclusion": view["reading"]["conclusion"],
            "plain_language": view["reading"]["words"],
            "model_version": prediction.model_version,
            "finished_at": prediction.finished_at,
            "inconclusive_reason": prediction.inconclusive_reason,
            "error_code": prediction.error_code,
            "error_message": prediction.error_message,
            "beat_total": prediction.beat_total,
            "heart_rate_bpm": prediction.heart_rate_bpm,
            "heart_rate": view["heart_rate"],
            "confidence": prediction.confidence,
            "counts": view["counts"],
            "beats": prediction.beats,
            "low_confidence": view["low_confidence"],
            "images": images,
            "articles": articles,
            "reviews": ReviewSerializer(prediction.reviews.all(), many=True).data,
            "summary": prediction.summary,
            "disclaimer": DISCLAIMER,
        }
        return Response(ResultSerializer(data).data)


class RecordRerunView(APIView):
    """Analyse the record again with the current model."""

    @extend_schema(request=None, responses={202: PredictionStatusSerializer})
    def post(self, request, uuid):
        record = permissions.record_or_404(request=request, uuid=uuid, action=Action.RERUN, change=True)
        prediction = services.prediction_rerun(record=record)
        return Response(PredictionStatusSerializer(prediction).data, status=status.HTTP_202_ACCEPTED)


class RecordReviewView(APIView):
    """Doctors' reviews of the current result; verified, linked doctors may add one."""

    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(responses=ReviewSerializer(many=True))
    def get(self, request, uuid):
        record = permissions.record_or_404(request=request, uuid=uuid)
        prediction = selectors.prediction_current(record=record)
        reviews = prediction.reviews.all() if prediction else []
        return Response(ReviewSerializer(reviews, many=True).data)

    @extend_schema(request=ReviewSerializer, responses={201: ReviewSerializer, 400: ErrorSerializer})
    def post(self, request, uuid):
        record = permissions.record_or_404(request=request, uuid=uuid, action=Action.REVIEW, review=True)
        prediction = selectors.prediction_current(record=record)
        if prediction is None or not prediction.is_finished:
            return Response({"code": "not_finished", "detail": "There is no finished result to review."}, status=409)
        serializer = ReviewSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        review = services.review_create(prediction=prediction, doctor=request.user, **serializer.validated_data)
        notifications.review_created_notify(review=review)
        return Response(ReviewSerializer(review).data, status=status.HTTP_201_CREATED)


class RecordFileView(APIView):
    """Download the uploaded file (``?part=data`` for a WFDB record's .dat)."""

    @extend_schema(
        parameters=[OpenApiParameter("part", str, enum=["main", "data"])],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    def get(self, request, uuid):
        record = permissions.record_or_404(request=request, uuid=uuid, action=Action.DOWNLOAD)
        if request.query_params.get("part") == "data":
            field, name = record.companion_file, record.companion_filename
        else:
            field, name = record.file, record.original_filename
        if not field:
            raise Http404
        return http.file_response(field, filename=name or "ecg", content_type="application/octet-stream")


class RecordImageView(APIView):
    """A derived PNG (trace, spectral, saliency) of the record."""

    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request, uuid, image_id):
        image = permissions.image_or_404(request=request, uuid=uuid, image_id=image_id)
        return http.file_response(image.file, filename=f"{image.kind}.png", content_type="image/png", attachment=False)


class RecordReportView(APIView):
    """The PDF report of the current result."""

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY, 409: PredictionStatusSerializer})
    def get(self, request, uuid):
        record = permissions.record_or_404(request=request, uuid=uuid, action=Action.DOWNLOAD)
        prediction, not_ready = _finished_or_409(record)
        return not_ready or http.pdf_response(record=record, prediction=prediction, user=request.user)



class RecordFHIRView(APIView):
    """The current result as a FHIR R4 Bundle (DiagnosticReport, Observations, DocumentReference, Patient)."""

    @extend_schema(responses={(200, fhir.CONTENT_TYPE): OpenApiTypes.OBJECT, 409: PredictionStatusSerializer})
    def get(self, request, uuid):
        record = permissions.record_or_404(request=request, uuid=uuid, action=Action.EXPORT)
        prediction, not_ready = _finished_or_409(record)
        return not_ready or http.fhir_response(request=request, record=record, prediction=prediction, attachment=False)
