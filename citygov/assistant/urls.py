"""Pages of the assistant (mounted under /assistant/)."""

from django.urls import path, re_path

from citygov.assistant import views

app_name = "assistant"

urlpatterns = [
    path("", views.chat, name="chat"),
    path("widget/", views.widget_demo, name="widget_demo"),
    path("analytics/", views.analytics, name="analytics"),
    path("bank/", views.bank, name="bank"),
    path("bank/review/", views.review_batch, name="review_batch"),
    path("synonyms/", views.synonyms, name="synonyms"),
    re_path(r"^bank/export\.(?P<fmt>csv|jsonl)$", views.export, name="export"),
]
