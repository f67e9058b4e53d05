"""Points pages: overview, purchases, campaigns, lots, transfers, members (and wallets), merchants."""

from django.urls import include, path

from citygov.points import views, views_settlement

app_name = "points"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("analytics/", include("citygov.points.views_analytics")),
    path("settlement/", views_settlement.batch_list, name="settlement"),
    path("fees/", views_settlement.fee_page, name="fees"),
    path("settlement/build/", views_settlement.build_due, name="settlement_build"),
    path("settlement/statements/", views_settlement.statement_import, name="settlement_statement"),
    path("settlement/exceptions/", views_settlement.exception_list, name="settlement_exceptions"),
    path("settlement/refunds/", views_settlement.refund_list, name="settlement_refunds"),
    path("settlement/refunds/new/", views_settlement.refund_create, name="settlement_refund_create"),
    path("settlement/refunds/<int:pk>/cancel/", views_settlement.refund_cancel, name="settlement_refund_cancel"),
    path("settlement/refunds/<int:pk>.<slug:fmt>", views_settlement.refund_download, name="settlement_refund_download"),
    path("settlement/month-pack/", views_settlement.month_pack, name="month_pack"),
    path("settlement/month-pack/<str:month>.<slug:fmt>", views_settlement.month_pack_download,
         name="month_pack_download"),
    path("settlement/exceptions/<int:pk>/<slug:action>/", views_settlement.exception_action,
         name="settlement_exception_action"),
    path("settlement/<str:batch_id>/", views_settlement.batch_detail, name="settlement_batch"),
    path("settlement/<str:batch_id>/sign/", views_settlement.batch_sign, name="settlement_sign"),
    path("settlement/<str:batch_id>/<slug:fmt>/", views_settlement.batch_download, name="settlement_download"),
    path("purchases/", views.purchase_list, name="purchase_list"),
    path("purchases/<int:pk>/confirm-deposit/", views.purchase_confirm, name="purchase_confirm"),
    path("campaigns/", views.campaign_list, name="campaign_list"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:pk>/grant/", views.campaign_grant, name="campaign_grant"),
    path("campaigns/<int:pk>/bulk-grant/", views.campaign_bulk_grant, name="campaign_bulk_grant"),
    path("campaigns/<int:pk>/<slug:action>/", views.campaign_action, name="campaign_action"),
    path("lots/", views.lot_list, name="lot_list"),
    path("transfers/", views.transfer_list, name="transfer_list"),
    path("members/", views.member_list, name="member_list"),
    path("members/<int:pk>/", views.member_detail, name="member_detail"),
    path("members/<int:pk>/wallet/", views.member_wallet, name="member_wallet"),
    path("merchants/", views.merchant_list, name="merchant_list"),
    path("merchants/<int:pk>/", views.merchant_detail, name="merchant_detail"),
    path("merchants/<int:pk>/<slug:action>/", views.merchant_action, name="merchant_action"),
]
