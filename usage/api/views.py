from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from usage.forms import period_from_query
from usage.selectors import usage_report


class UsageMetricsView(APIView):
    """Return the usage metrics for a period (administrators only)."""

    permission_classes = [permissions.IsAdminUser]

    @extend_schema(
        parameters=[
            OpenApiParameter("days", OpenApiTypes.INT, enum=[7, 30, 90], description="Last N days (default 30)."),
            OpenApiParameter("start", OpenApiTypes.DATE, description="First day, YYYY-MM-DD."),
            OpenApiParameter("end", OpenApiTypes.DATE, description="Last day (inclusive), YYYY-MM-DD."),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        form, period = period_from_query(request.query_params)
        if period is None:
            errors = {("non_field_errors" if k == "__all__" else k): list(v) for k, v in form.errors.items()}
            raise ValidationError(errors)
        return Response(usage_report(period=period))
