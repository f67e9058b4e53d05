"""Datagov pages: catalogue, dataset detail, overdue dashboard, imports."""

from django.urls import path

from citygov.datagov import views

app_name = "datagov"

urlpatterns = [
    path("", views.catalogue, name="catalogue"),
    path("datasets/<int:pk>/", views.dataset_detail, name="dataset_detail"),
    path("overdue/", views.overdue, name="overdue"),
    path("sharing/", views.sharing, name="sharing"),
    path("sharing/<int:pk>/decide/", views.sharing_decide, name="sharing_decide"),
    path("classification/", views.classification, name="classification"),
    path("classification/<int:pk>/decide/", views.classification_decide, name="classification_decide"),
    path("layers/", views.layers, name="layers"),
    path("scorecards/", views.scorecards, name="scorecards"),
    path("imports/", views.import_catalogue, name="import"),
    path("imports/<int:pk>/", views.import_detail, name="import_detail"),
]
