"""Settlement API, mounted at /api/points/settlement/ and /api/points/reports/.

Read-only, for the operator, auditors and the city's administrators (``points.settlement``): batches
and their lines (what the trust bank was instructed to pay, and what it confirmed), refunds to agencies
(with the signed instruction), the trust exception queue, the trust account's identities, and the monthly report pack's figures. Acting
(building, signing, importing statements, resolving exceptions) stays with the pages and the command
line, which record every change; money reaches a merchant only through capture → batch →
instruction → bank confirmation, never through this API.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.http import Http404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from citygov.core.errors import InvalidInput
from citygov.core.roles import Capability
from citygov.points.engine import settlement as settlement_engine
from citygov.points.models import (
    AgencyRefund,
    AgencyRefundStatus,
    SettlementBatch,
    SettlementPosition,
    TrustException,
    TrustExceptionStatus,
)
from citygov.points.services import reconciliation, report_pack

FORBIDDEN = OpenApiResponse(description="Not signed in, or no points.settlement")
PAGE_LIMIT = 500


class BatchSerializer(serializers.ModelSerializer):
    class Meta:
        model = SettlementBatch
        fields = ("batch_id", "business_day", "status", "built_at", "window_start", "window_end", "transfer_count",
                  "late_count", "line_count", "total_amount", "transaction_count", "content_hash",
                  "key_fingerprint", "signed_at", "settled_at")


class PositionSerializer(serializers.ModelSerializer):
    merchant_code = serializers.CharField(source="merchant.tax_id")
    merchant_name = serializers.CharField(source="merchant.name")
    line = serializers.SerializerMethodField(help_text="True when the position is a line of the instruction")

    class Meta:
        model = SettlementPosition
        fields = ("merchant_code", "merchant_name", "outcome", "captured", "refunded", "carry_in", "net", "amount",
                  "transactions", "bank_code", "bank_account", "line", "line_status", "matched", "settled_at")

    def get_line(self, position) -> bool:
        return position.outcome in settlement_engine.PAID_OUTCOMES


class BatchDetailSerializer(BatchSerializer):
    positions = serializers.SerializerMethodField()

    class Meta(BatchSerializer.Meta):
        fields = (*BatchSerializer.Meta.fields, "positions")

    def get_positions(self, batch) -> list[dict]:
        rows = batch.positions.select_related("merchant").order_by("merchant__tax_id")
        return PositionSerializer(rows, many=True).data


class ExceptionSerializer(serializers.ModelSerializer):
    batch_id = serializers.CharField(source="batch.batch_id", default=None)
    merchant_code = serializers.CharField(source="merchant.tax_id", default=None)
    owner = serializers.CharField(source="owner.username", default=None)

    class Meta:
        model = TrustException
        fields = ("id", "kind", "status", "amount", "affects_statement", "batch_id", "merchant_code", "source",
                  "detail", "owner", "resolution", "created_at", "resolved_at")


class AgencyRefundSerializer(serializers.ModelSerializer):
    agency_code = serializers.CharField(source="agency.code")
    agency_name = serializers.CharField(source="agency.name_zh")
    statement_line = serializers.SerializerMethodField(help_text="The bank debit that confirmed it "
                                                                 "(statement id#line), when refunded")

    class Meta:
        model = AgencyRefund
        fields = ("id", "reference", "agency_code", "agency_name", "source", "amount", "bank_code", "bank_account",
                  "request_reference", "reason", "status", "content_hash", "key_fingerprint", "created_at",
                  "refunded_at", "cancelled_at", "cancel_reason", "statement_line")

    def get_statement_line(self, refund) -> str | None:
        line = getattr(refund, "statement_line", None)
        return f"{line.statement.statement_id}#{line.line_number}" if line is not None else None


class AgencyRefundDetailSerializer(AgencyRefundSerializer):
    instruction = serializers.CharField(help_text="The canonical JSON exactly as signed")
    signature = serializers.CharField(help_text="Ed25519 signature (base64) of the instruction; empty when unsigned")

    class Meta(AgencyRefundSerializer.Meta):
        fields = (*AgencyRefundSerializer.Meta.fields, "instruction", "signature")


class TrustSerializer(serializers.Serializer):
    deposits = serializers.IntegerField()
    payouts = serializers.IntegerField()
    agency_refunds = serializers.IntegerField()
    accepted_differences = serializers.IntegerField()
    open_exceptions = serializers.IntegerField()
    book_balance = serializers.IntegerField()
    statement_balance = serializers.IntegerField()
    last_reported_balance = serializers.IntegerField(allow_null=True)
    problems = serializers.ListField(child=serializers.CharField())


class _Settlement(APIView):
    read_capability = Capability.VIEW_SETTLEMENT


class BatchListView(_Settlement):
    """Settlement batches, newest first (at most 500; ``?before=YYYY-MM-DD`` pages back)."""

    @extend_schema(summary="Settlement batches", parameters=[
        OpenApiParameter("before", OpenApiTypes.DATE, description="Only batches of business days before this one")],
        responses={200: BatchSerializer(many=True), 403: FORBIDDEN})
    def get(self, request):
        rows = SettlementBatch.objects.order_by("-business_day")
        before = request.query_params.get("before")
        if before:
            try:
                rows = rows.filter(business_day__lt=dt.date.fromisoformat(before))
            except ValueError:
                raise InvalidInput("before must be YYYY-MM-DD (日期格式錯誤)", code="bad_date") from None
        return Response(BatchSerializer(rows[:PAGE_LIMIT], many=True).data)


class BatchDetailView(_Settlement):
    """One batch with every merchant position: lines (paid), withheld, carried, awaiting approval."""

    @extend_schema(summary="A settlement batch and its positions",
                   responses={200: BatchDetailSerializer, 403: FORBIDDEN, 404: OpenApiResponse(description="No such batch")})
    def get(self, request, batch_id: str):
        batch = SettlementBatch.objects.filter(batch_id=batch_id).first()
        if batch is None:
            raise Http404
        return Response(BatchDetailSerializer(batch).data)


class ExceptionListView(_Settlement):
    """The trust exception queue (``?status=open|resolved``; default all), oldest first."""

    @extend_schema(summary="Trust exceptions", parameters=[
        OpenApiParameter("status", OpenApiTypes.STR, enum=list(TrustExceptionStatus.values))],
        responses={200: ExceptionSerializer(many=True), 400: OpenApiResponse(description="Bad status"),
                   403: FORBIDDEN})
    def get(self, request):
        rows = TrustException.objects.select_related("batch", "merchant", "owner").order_by("created_at", "pk")
        status = request.query_params.get("status")
        if status:
            if status not in TrustExceptionStatus.values:
                raise InvalidInput("status must be open or resolved (狀態須為 open 或 resolved)", code="bad_status")
            rows = rows.filter(status=status)
        return Response(ExceptionSerializer(rows[:PAGE_LIMIT], many=True).data)


def _refunds():
    return AgencyRefund.objects.select_related("agency", "statement_line__statement")


class AgencyRefundListView(_Settlement):
    """Refunds to agencies, newest first (``?status=instructed|refunded|cancelled``; at most 500)."""

    @extend_schema(summary="Refunds to agencies", parameters=[
        OpenApiParameter("status", OpenApiTypes.STR, enum=list(AgencyRefundStatus.values))],
        responses={200: AgencyRefundSerializer(many=True), 400: OpenApiResponse(description="Bad status"),
                   403: FORBIDDEN})
    def get(self, request):
        rows = _refunds().order_by("-created_at", "-pk")
        status = request.query_params.get("status")
        if status:
            if status not in AgencyRefundStatus.values:
                raise InvalidInput("status must be instructed, refunded or cancelled "
                                   "(狀態須為 instructed、refunded 或 cancelled)", code="bad_status")
            rows = rows.filter(status=status)
        return Response(AgencyRefundSerializer(rows[:PAGE_LIMIT], many=True).data)


class AgencyRefundDetailView(_Settlement):
    """One refund to an agency, with its instruction JSON and signature."""

    @extend_schema(summary="A refund to an agency", responses={
        200: AgencyRefundDetailSerializer, 403: FORBIDDEN, 404: OpenApiResponse(description="No such refund")})
    def get(self, request, reference: str):
        refund = _refunds().filter(reference=reference).first()
        if refund is None:
            raise Http404
        return Response(AgencyRefundDetailSerializer(refund).data)


class TrustView(_Settlement):
    """The trust account's identities now: book = deposits − payouts − refunds to agencies (+ accepted
    differences); statement = book + open exceptions; problems lists every identity that fails."""

    @extend_schema(summary="Trust account identities", responses={200: TrustSerializer, 403: FORBIDDEN})
    def get(self, request):
        figures = reconciliation.trust_figures()
        data = dataclasses.asdict(figures)
        data["book_balance"] = figures.book_balance
        data["problems"] = reconciliation.check_trust()
        return Response(TrustSerializer(data).data)


class MonthPackView(_Settlement):
    """The monthly report pack's figures as JSON (the page offers the same as PDF and XLSX)."""

    @extend_schema(summary="Monthly report pack (figures)", responses={
        200: OpenApiTypes.OBJECT, 400: OpenApiResponse(description="Bad month"), 403: FORBIDDEN})
    def get(self, request, month: str):
        year, month_number = report_pack.parse_month(month)
        pack = report_pack.month_pack(year, month_number)
        data = dataclasses.asdict(pack)
        data.update(label=pack.label, payout_total=pack.payout_total, ledger_balanced=pack.ledger_balanced)
        data["trust"].update(difference=pack.trust.difference, reconciles=pack.trust.reconciles)
        return Response(data)


urlpatterns = [
    path("settlement/batches/", BatchListView.as_view(), name="points-settlement-batches"),
    path("settlement/batches/<str:batch_id>/", BatchDetailView.as_view(), name="points-settlement-batch"),
    path("settlement/exceptions/", ExceptionListView.as_view(), name="points-settlement-exceptions"),
    path("settlement/agency-refunds/", AgencyRefundListView.as_view(), name="points-settlement-agency-refunds"),
    path("settlement/agency-refunds/<str:reference>/", AgencyRefundDetailView.as_view(),
         name="points-settlement-agency-refund"),
    path("settlement/trust/", TrustView.as_view(), name="points-settlement-trust"),
    path("reports/month/<str:month>/", MonthPackView.as_view(), name="points-month-pack"),
]
