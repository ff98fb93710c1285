from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from ecgportal import health, uploads, views

api_v1 = [
    path("", include("predictions.api.urls")),
    path("", include("articles.api.urls")),
    path("", include("usage.api.urls")),
    path("", include("accounts.api.urls")),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("about/", views.about, name="about"),
    path("how-it-works/", views.how_it_works, name="how_it_works"),
    path("privacy/", views.privacy, name="privacy"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("accounts/", include("allauth.urls")),
    path("profile/", include("accounts.urls")),
    path("records/", include("predictions.urls")),
    path("s/", include("predictions.shared_urls")),
    path("my-data/", include("exports.urls")),
    path("notifications/", include("notifications.urls")),
    path("articles/", include("articles.urls")),
    path("staff/metrics/", include("usage.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # Where the proxy sends a body over its own limit (deploy/nginx.conf, error_page 413).
    path("upload-too-large/", uploads.proxy_too_large, name="upload-too-large"),
    path("health/", health.health, name="health"),
]

# Errors raised before any view (an unmatched path, a refused request): JSON under /api/.
handler400 = "ecgportal.api_errors.bad_request"
handler403 = "ecgportal.api_errors.permission_denied"
handler404 = "ecgportal.api_errors.page_not_found"
handler500 = "ecgportal.views.server_error"
