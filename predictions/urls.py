from django.urls import path

from predictions import views

app_name = "predictions"
urlpatterns = [
    path("", views.history, name="history"),
    path("upload/", views.upload, name="upload"),
    path("upload/page/", views.page_corners, name="page_corners"),
    path("cases/", views.cases, name="cases"),
    path("shared/", views.shared_links, name="shared_links"),
    path("shared/<uuid:link_uuid>/revoke/", views.shared_link_revoke, name="shared_link_revoke"),
    path("patients/<int:patient_id>/", views.patient_history, name="patient_history"),
    path("<uuid:uuid>/", views.detail, name="detail"),
    path("<uuid:uuid>/status/", views.status_fragment, name="status"),
    path("<uuid:uuid>/trace.json", views.trace_window, name="trace"),
    path("<uuid:uuid>/review/", views.review, name="review"),
    path("<uuid:uuid>/rerun/", views.rerun, name="rerun"),
    path("<uuid:uuid>/share/", views.share, name="share"),
    path("<uuid:uuid>/doctors/", views.record_doctors, name="record_doctors"),
    path("<uuid:uuid>/email-report/", views.email_report, name="email_report"),
    path("<uuid:uuid>/delete/", views.delete, name="delete"),
    path("<uuid:uuid>/file/", views.record_file, name="file"),
    path("<uuid:uuid>/file/data/", views.record_file, {"part": "companion"}, name="companion_file"),
    path("<uuid:uuid>/picture.jpg", views.record_picture, name="picture"),
    path("<uuid:uuid>/images/<int:image_id>.png", views.prediction_image, name="image"),
    path("<uuid:uuid>/report.pdf", views.report_pdf, name="report"),
    path("<uuid:uuid>/result.fhir.json", views.fhir_bundle, name="fhir"),
]
