"""Core API routes."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from citygov.core.api import views

router = SimpleRouter()
router.register("users", views.UserViewSet, basename="user")
router.register("changelog", views.ChangeLogViewSet, basename="changelog")
router.register("tokens", views.ApiTokenViewSet, basename="token")

urlpatterns = [
    path("auth/token/", views.TokenView.as_view(), name="auth-token"),
    path("me/", views.MeView.as_view(), name="me"),
    *router.urls,
]
