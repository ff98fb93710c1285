from django.urls import path

from ecgportal.views import dashboard as _placeholder

app_name = "predictions"
urlpatterns = [
    path("upload/", _placeholder, name="upload"),
    path("", _placeholder, name="history"),
    path("cases/", _placeholder, name="cases"),
]
