"""Share links: pages a clinician without an account opens (``/s/<token>/``)."""

from django.urls import path

from predictions import views

app_name = "shared"
urlpatterns = [
    path("<str:token>/", views.shared_open, name="open"),
    path("<str:token>/<uuid:uuid>/report.pdf", views.shared_report, name="report"),
]
