from django.urls import path

from predictions.api import views

app_name = "predictions-api"
urlpatterns = [
    path("records/", views.RecordListCreateView.as_view(), name="record-list"),
    path("trends/", views.TrendsView.as_view(), name="trends"),
    path("records/<uuid:uuid>/", views.RecordDetailView.as_view(), name="record-detail"),
    path("records/<uuid:uuid>/status/", views.RecordStatusView.as_view(), name="record-status"),
    path("records/<uuid:uuid>/result/", views.RecordResultView.as_view(), name="record-result"),
    path("records/<uuid:uuid>/rerun/", views.RecordRerunView.as_view(), name="record-rerun"),
    path("records/<uuid:uuid>/reviews/", views.RecordReviewView.as_view(), name="record-reviews"),
    path("records/<uuid:uuid>/file/", views.RecordFileView.as_view(), name="record-file"),
    path("records/<uuid:uuid>/images/<int:image_id>/", views.RecordImageView.as_view(), name="record-image"),
    path("records/<uuid:uuid>/report/", views.RecordReportView.as_view(), name="record-report"),
    path("records/<uuid:uuid>/fhir/", views.RecordFHIRView.as_view(), name="record-fhir"),
]
