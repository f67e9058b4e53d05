"""SOC API routes, mounted at /api/soc/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from citygov.soc.api import views

router = SimpleRouter()
router.register("alerts", views.AlertViewSet, basename="soc-alert")
router.register("imports", views.ImportViewSet, basename="soc-import")
router.register("cases", views.CaseViewSet, basename="soc-case")
router.register("incidents", views.IncidentViewSet, basename="soc-incident")
router.register("actions", views.ActionViewSet, basename="soc-action")

urlpatterns = [
    path("figures/", views.FiguresView.as_view(), name="soc-figures"),
    *router.urls,
]
