"""URL map: pages, the REST API under /api/, OpenAPI schema and Swagger UI, and the admin."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from citygov.core import views as core_views

admin.site.site_header = "citygov"
admin.site.site_title = "citygov"

api_patterns = [
    path("", include("citygov.core.api.urls")),
    path("", include("citygov.agencies.api.urls")),
    path("points/terminal/", include("citygov.points.api.terminal_urls")),
    path("points/", include("citygov.points.api.urls")),
    path("exchange/", include("citygov.exchange.api.urls")),
    path("assistant/", include("citygov.assistant.api.urls")),
    path("datagov/", include("citygov.datagov.api.urls")),
    path("soc/", include("citygov.soc.api.urls")),
    path("security/", include("citygov.security.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
]

urlpatterns = [
    path("", include("citygov.core.urls")),
    path("agencies/", include("citygov.agencies.urls")),
    path("points/", include("citygov.points.urls")),
    path("exchange/", include("citygov.exchange.urls")),
    path("assistant/", include("citygov.assistant.urls")),
    path("datagov/", include("citygov.datagov.urls")),
    path("soc/", include("citygov.soc.urls")),
    path("security/", include("citygov.security.urls")),
    path("api/", include((api_patterns, "api"))),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
]

handler403 = core_views.permission_denied
handler404 = core_views.page_not_found
handler500 = core_views.server_error
