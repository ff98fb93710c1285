from django.urls import path

from usage.api.views import UsageMetricsView

app_name = "usage-api"
urlpatterns = [path("usage/metrics/", UsageMetricsView.as_view(), name="metrics")]
