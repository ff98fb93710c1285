from django.urls import path

from ecgportal.views import about as _placeholder

app_name = "usage"
urlpatterns = [path("", _placeholder, name="dashboard")]
