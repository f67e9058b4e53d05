"""Security API routes, mounted at /api/security/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from citygov.security.api import views

router = SimpleRouter()
router.register("devices", views.DeviceViewSet, basename="security-device")
router.register("software", views.InstalledSoftwareViewSet, basename="security-software")
router.register("systems", views.CoreSystemViewSet, basename="security-system")
router.register("components", views.SystemComponentViewSet, basename="security-component")
router.register("tests", views.SecurityTestViewSet, basename="security-test")
router.register("findings", views.FindingViewSet, basename="security-finding")

urlpatterns = [
    path("posture/", views.PostureView.as_view(), name="security-posture"),
    path("backup-coverage/", views.BackupCoverageView.as_view(), name="security-backup-coverage"),
    path("imports/<str:kind>/", views.ImportView.as_view(), name="security-import"),
    *router.urls,
]
