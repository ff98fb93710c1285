from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("", views.profile, name="profile"),
    path("doctor-application/", views.doctor_apply, name="doctor_apply"),
    path("api-token/", views.api_token, name="api_token"),
    path("care-team/", views.care_team, name="care_team"),
    path("care-team/<int:pk>/accept/", views.care_link_accept, name="care_link_accept"),
    path("care-team/<int:pk>/revoke/", views.care_link_revoke, name="care_link_revoke"),
    path("care-team/<int:pk>/scope/", views.care_link_scope, name="care_link_scope"),
    path("delete/", views.account_delete, name="delete"),
]
