"""Core pages: sign-in/out, the dashboard and the change log."""

from django.urls import path

from citygov.core import views

app_name = "core"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("changelog/", views.changelog, name="changelog"),
    path("healthz", views.healthz, name="healthz"),
]
