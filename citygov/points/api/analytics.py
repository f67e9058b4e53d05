"""Points analytics API, mounted at /api/points/analytics/ (and the public map at /api/points/public/).

Read-only. Every endpoint but the public map needs ``points.view``; figures built from transfers
cover the caller's agencies only (``for_agency``). The public merchant map needs no sign-in, shows
active merchants only with no bank or personal data, and is protected by the anonymous rate limit
(``CITYGOV_API_ANON_RATE``) like the other public endpoints.
"""

from __future__ import annotations

import datetime as dt

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from citygov.core.api.permissions import PublicEndpoint
from citygov.core.errors import InvalidInput
from citygov.core.roles import Capability
from citygov.points import analytics

YEAR = OpenApiParameter("year", OpenApiTypes.INT, description="Calendar year (Asia/Taipei); default: this year")
FORBIDDEN = OpenApiResponse(description="Not signed in, or no points.view")


class FlowSerializer(serializers.Serializer):
    period = serializers.CharField(help_text="YYYY-MM (months) or YYYY-MM-DD (days), Asia/Taipei")
    issued = serializers.IntegerField()
    spent = serializers.IntegerField(help_text="Redeemed and captured, net of refunds")
    expired = serializers.IntegerField()
    transactions = serializers.IntegerField()


class MonthlySerializer(serializers.Serializer):
    year = serializers.IntegerField()
    months = FlowSerializer(many=True)
    previous_year = FlowSerializer(many=True)


class DailySerializer(serializers.Serializer):
    first = serializers.DateField()
    last = serializers.DateField()
    days = FlowSerializer(many=True)


class YoyChangeSerializer(serializers.Serializer):
    metric = serializers.CharField()
    current = serializers.IntegerField()
    previous = serializers.IntegerField()
    change = serializers.FloatField(allow_null=True, help_text="-0.9 = fell 90%; null when last year had none")


class YoyMonthSerializer(serializers.Serializer):
    month = serializers.CharField()
    previous_month = serializers.CharField()
    partial = serializers.BooleanField(help_text="The month under way, compared up to the same moment last year")
    alert = serializers.BooleanField()
    alerts = serializers.ListField(child=serializers.CharField(), help_text="Metrics that fell beyond the share")
    changes = YoyChangeSerializer(many=True)


class YoySerializer(serializers.Serializer):
    year = serializers.IntegerField()
    alert_share = serializers.FloatField(source="share")
    alert = serializers.BooleanField()
    months = YoyMonthSerializer(many=True)


class BreakageSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="key")
    name = serializers.CharField()
    agency = serializers.CharField()
    issued = serializers.IntegerField()
    spent = serializers.IntegerField()
    expired = serializers.IntegerField()
    breakage = serializers.FloatField(allow_null=True, help_text="Expired share of the points issued")


class DistrictSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Official town code; empty for merchants without a district")
    name_zh = serializers.CharField()
    name_en = serializers.CharField()
    total = serializers.IntegerField()
    by_status = serializers.DictField(child=serializers.IntegerField())
    enabled = serializers.IntegerField()
    never_enabled = serializers.IntegerField()
    share = serializers.FloatField(allow_null=True, help_text="Share with points payment enabled")


class MerchantSummarySerializer(serializers.Serializer):
    total = serializers.IntegerField()
    enabled = serializers.IntegerField()
    never_enabled = serializers.IntegerField()
    share = serializers.FloatField(allow_null=True)
    by_status = serializers.DictField(child=serializers.IntegerField())
    districts = DistrictSerializer(many=True)
    unknown_district = DistrictSerializer()


class PublicDistrictSerializer(serializers.Serializer):
    code = serializers.CharField()
    name_zh = serializers.CharField()
    name_en = serializers.CharField()
    merchants = serializers.IntegerField(source="total", help_text="Active merchants")
    enabled = serializers.IntegerField(help_text="Active merchants taking points")
    rate = serializers.FloatField(source="share", allow_null=True)


class MapMerchantSerializer(serializers.Serializer):
    name = serializers.CharField()
    category = serializers.CharField()
    address = serializers.CharField()
    district = serializers.CharField()
    lon = serializers.FloatField()
    lat = serializers.FloatField()
    points_enabled = serializers.BooleanField()


class PublicMapSerializer(serializers.Serializer):
    districts = PublicDistrictSerializer(many=True)
    merchants = MapMerchantSerializer(many=True)
    geojson = serializers.JSONField(help_text="District boundaries (GeoJSON) with each district's figures")


def _year(request) -> int:
    try:
        return analytics.check_year(request.query_params.get("year"), default=dt.datetime.now(tz=analytics.TZ).year)
    except ValueError as exc:
        raise InvalidInput(f"{exc} (年份錯誤)", code="bad_year", fields={"year": [str(exc)]}) from None


def _date(request, name: str, default: dt.date) -> dt.date:
    raw = request.query_params.get(name, "")
    if not raw:
        return default
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a date YYYY-MM-DD ({name} 日期格式錯誤)", code="bad_date",
                           fields={name: ["YYYY-MM-DD"]}) from None


class _Analytics(APIView):
    read_capability = Capability.VIEW_POINTS


class MonthlyView(_Analytics):
    """Points issued, spent and expired, and transactions, per month of a year and of the year before."""

    @extend_schema(summary="Monthly issued / spent / expired (the audit's figure 2)", parameters=[YEAR],
                   responses={200: MonthlySerializer, 400: OpenApiResponse(description="Bad year"), 403: FORBIDDEN})
    def get(self, request):
        year = _year(request)
        window = analytics.year_window(request.user, year)  # both years from one read of the ledger
        return Response(MonthlySerializer({"year": year, "months": window.months(year),
                                           "previous_year": window.months(year - 1)}).data)


class DailyView(_Analytics):
    """Transactions and points per day (Asia/Taipei); default the last 90 days."""

    @extend_schema(summary="Daily transactions and points", parameters=[
        OpenApiParameter("first", OpenApiTypes.DATE, description="First day (default: 89 days before last)"),
        OpenApiParameter("last", OpenApiTypes.DATE, description="Last day, inclusive (default: today)")],
        responses={200: DailySerializer, 400: OpenApiResponse(description="Bad dates or range"), 403: FORBIDDEN})
    def get(self, request):
        last = _date(request, "last", dt.datetime.now(tz=analytics.TZ).date())
        first = _date(request, "first", last - dt.timedelta(days=89))
        try:
            days = analytics.daily_flows(request.user, first, last)
        except ValueError as exc:
            raise InvalidInput(f"{exc} (日期範圍錯誤)", code="bad_range", fields={"first": [str(exc)]}) from None
        return Response(DailySerializer({"first": first, "last": last, "days": days}).data)


class YoyView(_Analytics):
    """Each month of a year against the same month of the year before, with the alert."""

    @extend_schema(summary="Year-over-year change per month, with the alert", parameters=[YEAR],
                   responses={200: YoySerializer, 400: OpenApiResponse(description="Bad year"), 403: FORBIDDEN})
    def get(self, request):
        report = analytics.year_over_year(request.user, _year(request))
        months = [{"month": m.month, "previous_month": m.previous_month, "partial": m.partial, "alert": m.alert,
                   "alerts": list(m.alerts),
                   "changes": [{"metric": c.metric, "current": c.current, "previous": c.previous,
                                "change": c.change} for c in m.changes]} for m in report.months]
        return Response(YoySerializer({"year": report.year, "share": report.share,
                                       "alert": bool(report.alert_months), "months": months}).data)


class CampaignBreakageView(_Analytics):
    """Issued, spent, expired and breakage per campaign (the caller's agencies)."""

    @extend_schema(summary="Issuance and breakage by campaign",
                   responses={200: BreakageSerializer(many=True), 403: FORBIDDEN})
    def get(self, request):
        return Response(BreakageSerializer(analytics.breakage_by_campaign(request.user), many=True).data)


class AgencyBreakageView(_Analytics):
    """Issued, spent, expired and breakage per agency (the caller's agencies)."""

    @extend_schema(summary="Issuance and breakage by agency",
                   responses={200: BreakageSerializer(many=True), 403: FORBIDDEN})
    def get(self, request):
        return Response(BreakageSerializer(analytics.breakage_by_agency(request.user), many=True).data)


class DistrictView(_Analytics):
    """Merchants by status per district and the share with points payment enabled."""

    @extend_schema(summary="Merchants per district and points-payment enablement",
                   responses={200: MerchantSummarySerializer, 403: FORBIDDEN})
    def get(self, request):
        return Response(MerchantSummarySerializer(analytics.merchant_summary()).data)


class PublicMerchantMapView(APIView):
    """Where citizens can spend points: active merchants and each district's share taking points."""

    permission_classes = [PublicEndpoint]
    authentication_classes: list = []

    @extend_schema(summary="Public merchant map (no sign-in; rate-limited)", auth=[],
                   responses={200: PublicMapSerializer, 429: OpenApiResponse(description="Rate limit reached")})
    def get(self, request):
        data = analytics.public_map()
        return Response(PublicMapSerializer({"districts": data.districts, "merchants": data.merchants,
                                             "geojson": analytics.district_geojson(data.districts)}).data)


urlpatterns = [
    path("analytics/monthly/", MonthlyView.as_view(), name="points-analytics-monthly"),
    path("analytics/daily/", DailyView.as_view(), name="points-analytics-daily"),
    path("analytics/yoy/", YoyView.as_view(), name="points-analytics-yoy"),
    path("analytics/campaigns/", CampaignBreakageView.as_view(), name="points-analytics-campaigns"),
    path("analytics/agencies/", AgencyBreakageView.as_view(), name="points-analytics-agencies"),
    path("analytics/districts/", DistrictView.as_view(), name="points-analytics-districts"),
    path("public/merchant-map/", PublicMerchantMapView.as_view(), name="points-public-merchant-map"),
]
