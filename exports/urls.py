from django.urls import path

from exports import views

app_name = "exports"
urlpatterns = [
    path("", views.request_export, name="request"),
    path("<uuid:uuid>/", views.download, name="download"),
]
