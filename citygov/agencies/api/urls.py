"""Agencies API routes."""

from rest_framework.routers import SimpleRouter

from citygov.agencies.api import views

router = SimpleRouter()
router.register("agencies", views.AgencyViewSet, basename="agency")
router.register("districts", views.DistrictViewSet, basename="district")
urlpatterns = router.urls
