"""API routes of the assistant (mounted under /api/assistant/)."""

from django.urls import path

from citygov.assistant.api.views import AskView, FeedbackView

urlpatterns = [
    path("ask", AskView.as_view(), name="assistant-ask"),
    path("feedback", FeedbackView.as_view(), name="assistant-feedback"),
]
