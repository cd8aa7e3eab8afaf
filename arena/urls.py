"""URL routes: the pages, the admin, the REST API under /api/, and the API's schema and docs."""
from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from arena import views
from arena.api.errors import api_not_found

admin.site.site_header = "Arena administration"
admin.site.site_title = "Arena admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/health/", views.health, name="health"),
    path("api/", include("arena.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI in its split form: the page loads its set-up as a script file (?script), so the
    # Content-Security-Policy needs no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    path("api/docs/redoc/", SpectacularRedocView.as_view(url_name="schema", template_name="arena/redoc.html"),
         name="redoc"),
    # Last: any other /api/ address is a JSON 404 (never an HTML page, never a redirect).
    re_path(r"^api/", api_not_found, name="api-not-found"),
    path("", include("arena.web.urls")),  # the pages: dashboard, bots, leaderboard, accounts…
]

if settings.DEBUG:
    urlpatterns.append(path("media/<path:path>", serve, {"document_root": settings.MEDIA_ROOT}))
