"""Exchange API routes, mounted at /api/exchange/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from citygov.exchange.api import views

router = SimpleRouter()
router.register("members", views.MemberViewSet, basename="exchange-member")
router.register("services", views.ServiceViewSet, basename="exchange-service")
router.register("access-rights", views.AccessRightViewSet, basename="exchange-access-right")
router.register("transfers", views.TransferRecordViewSet, basename="exchange-transfer")

urlpatterns = [
    path("configuration/", views.ConfigurationView.as_view(), name="exchange-configuration"),
    path("grant-status/", views.GrantStatusView.as_view(), name="exchange-grant-status"),
    *router.urls,
]
