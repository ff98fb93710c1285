from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import permissions
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from ecgportal.api_schema import form_parameters
from usage.forms import MAX_DAYS, PeriodForm, period_from_query
from usage.selectors import usage_report


class UsageMetricsView(APIView):
    """Return the usage metrics for a period (administrators only)."""

    permission_classes = [permissions.IsAdminUser]

    @extend_schema(
        parameters=form_parameters(PeriodForm, {
            "days": "Last N days (default 30).",
            "start": "First day, YYYY-MM-DD.",
            "end": f"Last day (inclusive), YYYY-MM-DD; default today. At most {MAX_DAYS} days from start.",
        }),
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        form, period = period_from_query(request.query_params)
        if period is None:
            errors = {("non_field_errors" if k == "__all__" else k): list(v) for k, v in form.errors.items()}
            raise ValidationError(errors)
        return Response(usage_report(period=period))
