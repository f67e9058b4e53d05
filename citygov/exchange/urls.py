"""Exchange pages: the registry overview (with traffic and X-Road-Id search) and a service's page."""

from django.urls import path

from citygov.exchange import views

app_name = "exchange"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("manage/", views.manage, name="manage"),
    path("services/<int:pk>/", views.service_detail, name="service_detail"),
    path("services/<int:pk>/grant/", views.service_grant, name="service_grant"),
]
