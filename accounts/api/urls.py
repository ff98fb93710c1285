from django.urls import path

from accounts.api import views

app_name = "accounts-api"
urlpatterns = [
    path("auth/token/", views.TokenObtainView.as_view(), name="token"),
    path("me/", views.MeView.as_view(), name="me"),
]
