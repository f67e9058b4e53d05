"""Security pages, mounted at /security/."""

from django.urls import path

from citygov.security import views

app_name = "security"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("agencies/<int:pk>/", views.agency_detail, name="agency"),
    path("systems/", views.systems, name="systems"),
    path("systems/<int:pk>/", views.system_detail, name="system"),
]
