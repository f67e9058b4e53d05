"""Points API routes (operator, agencies, auditors), mounted at /api/points/."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from citygov.points.api import views

router = SimpleRouter()
router.register("purchases", views.PurchaseViewSet, basename="points-purchase")
router.register("campaigns", views.CampaignViewSet, basename="points-campaign")
router.register("lots", views.LotViewSet, basename="points-lot")
router.register("transfers", views.TransferViewSet, basename="points-transfer")
router.register("members", views.MemberViewSet, basename="points-member")
router.register("merchants", views.MerchantViewSet, basename="points-merchant")

urlpatterns = [
    path("ledger/health/", views.LedgerHealthView.as_view(), name="points-ledger-health"),
    path("", include("citygov.points.api.analytics")),
    path("", include("citygov.points.api.settlement")),
    *router.urls,
]
