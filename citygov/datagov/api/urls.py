"""Datagov API routes, mounted at /api/datagov/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from citygov.datagov.api import views

router = SimpleRouter()
router.register("datasets", views.DatasetViewSet, basename="datagov-dataset")
router.register("imports", views.ImportViewSet, basename="datagov-import")
router.register("sharing-requests", views.SharingRequestViewSet, basename="datagov-sharing-request")
router.register("vocabulary", views.VocabularyViewSet, basename="datagov-vocabulary")
router.register("suggestions", views.SuggestionViewSet, basename="datagov-suggestion")
router.register("link-checks", views.LinkCheckViewSet, basename="datagov-link-check")

urlpatterns = [
    path("freshness/", views.FreshnessView.as_view(), name="datagov-freshness"),
    path("scorecards/", views.ScorecardView.as_view(), name="datagov-scorecards"),
    *router.urls,
]
