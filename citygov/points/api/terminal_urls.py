"""Routes of the merchant-terminal API, mounted at ``/api/points/terminal/`` (see :mod:`.terminal`)."""

from django.urls import path

from citygov.points.api import terminal as views

urlpatterns = [
    path("holds/", views.HoldsView.as_view(), name="terminal-holds"),
    path("holds/<int:hold_id>/capture/", views.CaptureView.as_view(), name="terminal-hold-capture"),
    path("holds/<int:hold_id>/void/", views.VoidView.as_view(), name="terminal-hold-void"),
    path("redeem/", views.RedeemView.as_view(), name="terminal-redeem"),
    path("redemptions/<int:redemption_id>/refunds/", views.RefundsView.as_view(), name="terminal-refunds"),
    path("balance/", views.BalanceView.as_view(), name="terminal-balance"),
    path("member-tokens/verify/", views.TokenVerifyView.as_view(), name="terminal-member-token-verify"),
]
