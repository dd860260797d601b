"""Top-level URL map. Each app owns its own urls module."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("healthz", include("apps.ops.urls")),
    path("admin/", admin.site.urls),
    path("", include("apps.api.urls")),
    path("", include("apps.web.urls")),
]
