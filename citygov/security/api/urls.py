"""Security API routes, mounted at /api/security/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from citygov.security.api import views

router = SimpleRouter()
router.register("devices", views.DeviceViewSet, basename="security-device")
router.register("software", views.InstalledSoftwareViewSet, basename="security-software")

urlpatterns = [
    path("posture/", views.PostureView.as_view(), name="security-posture"),
    *router.urls,
]
