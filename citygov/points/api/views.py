"""Points API for the operator, agencies and auditors (the merchant terminals have their own API).

Purchases, campaigns, lots and transfers are agency-owned: each is read through
``for_agency(user)``, and every action first finds its row in that scope, so another agency's row
is a 404 before any rule is checked. Members and merchants are programme-wide. Every write calls
one service, which checks the capability (e.g. only the operator confirms deposits), applies the
rules and writes the change log; refusals become problem+json through the core exception handler.
"""

from __future__ import annotations

from dataclasses import asdict

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from citygov.core.roles import Capability
from citygov.points import filtersets
from citygov.points.api import serializers as s
from citygov.points.models import Campaign, Member, Merchant, Purchase
from citygov.points.queries import (
    campaigns_with_stats,
    check_ledger,
    lots_for,
    scoped_figures,
    scoped_wallet,
    transfers_for,
)
from citygov.points.services import grants, ledger
from citygov.points.services import members as member_services
from citygov.points.services import merchants as merchant_services
from citygov.points.services.grants import do_bulk_grant_from_file


class _ScopedWrites:
    """Agency-owned rows: writing needs a role that may write and view points; the service then checks
    the exact capability *after* the row was found in the caller's scope (so out of scope is a 404)."""

    read_capability = Capability.VIEW_POINTS
    write_capability = Capability.VIEW_POINTS


@extend_schema_view(list=extend_schema(summary="Purchases of the agencies the caller may reach"),
                    retrieve=extend_schema(summary="One purchase"))
class PurchaseViewSet(_ScopedWrites, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Agency purchases of points. Agency staff record them; the operator confirms the trust deposit."""

    serializer_class = s.PurchaseSerializer
    filterset_class = filtersets.PurchaseFilterSet
    ordering_fields = ["created_at", "points"]
    search_fields = ["reference", "bank_reference"]

    def get_queryset(self):
        return Purchase.objects.for_agency(self.request.user).select_related("agency").order_by("-created_at", "-id")

    @extend_schema(summary="Record a purchase (unfunded until the deposit is confirmed)",
                   request=s.PurchaseCreateSerializer, responses={201: s.PurchaseSerializer})
    def create(self, request):
        data = s.PurchaseCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        purchase = ledger.do_create_purchase(request.user, agency_id=values["agency"].pk, reference=values["reference"],
                                             points=values["points"])
        return Response(s.PurchaseSerializer(purchase).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Confirm the trust deposit (the points operator)", request=s.ConfirmDepositSerializer,
                   responses=s.PurchaseSerializer)
    @action(detail=True, methods=["post"], url_path="confirm-deposit")
    def confirm_deposit(self, request, pk=None):
        purchase = self.get_object()
        data = s.ConfirmDepositSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        purchase = ledger.do_confirm_deposit(request.user, purchase.pk,
                                             bank_reference=data.validated_data["bank_reference"])
        return Response(s.PurchaseSerializer(purchase).data)


@extend_schema_view(list=extend_schema(summary="Campaigns of the agencies the caller may reach"),
                    retrieve=extend_schema(summary="One campaign with its budget figures"))
class CampaignViewSet(_ScopedWrites, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Campaigns: create (draft), approve (reserve the budget), grant, bulk-grant and close."""

    serializer_class = s.CampaignSerializer
    filterset_class = filtersets.CampaignFilterSet
    ordering_fields = ["created_at", "claim_start", "claim_end", "budget"]
    search_fields = ["name"]

    def get_queryset(self):
        return campaigns_with_stats(Campaign.objects.for_agency(self.request.user)).order_by("-created_at", "-id")

    def _fresh(self, campaign_id: int) -> dict:
        return s.CampaignSerializer(self.get_queryset().get(pk=campaign_id)).data

    @extend_schema(summary="Create a draft campaign", request=s.CampaignCreateSerializer,
                   responses={201: s.CampaignSerializer})
    def create(self, request):
        data = s.CampaignCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        campaign = ledger.do_create_campaign(request.user, ledger.CampaignInput(agency_id=values.pop("agency").pk,
                                                                                **values))
        return Response(self._fresh(campaign.pk), status=status.HTTP_201_CREATED)

    @extend_schema(summary="Approve: reserve the budget from the agency's funded points", request=None,
                   responses=s.CampaignSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        campaign = self.get_object()
        ledger.do_approve_campaign(request.user, campaign.pk)
        return Response(self._fresh(campaign.pk))

    @extend_schema(summary="Close: return the unissued budget to the agency", request=None,
                   responses=s.CampaignSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        campaign = self.get_object()
        ledger.do_close_campaign(request.user, campaign.pk)
        return Response(self._fresh(campaign.pk))

    def _render_lot(self, lot) -> dict:
        return dict(s.LotSerializer(lots_for(self.request.user).get(pk=lot.pk)).data)

    @extend_schema(summary="Grant to one member (one lot)", request=s.GrantRequestSerializer,
                   parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
                                                description="Optional: the same key and card return the first "
                                                            "answer (Idempotency-Replayed: true), never a second lot")],
                   responses={201: s.LotSerializer})
    @action(detail=True, methods=["post"])
    def grants(self, request, pk=None):
        campaign = self.get_object()
        data = s.GrantRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = request.headers.get("Idempotency-Key", "").strip()
        if key:
            result = grants.do_grant_once(request.user, campaign.pk, data.validated_data["card_number"], key,
                                          self._render_lot)
            headers = {"Idempotency-Replayed": "true"} if result.replayed else {}
            return Response(result.body, status=result.status_code, headers=headers)
        lot = ledger.do_grant(request.user, campaign.pk, data.validated_data["card_number"])
        lot = lots_for(request.user).get(pk=lot.pk)
        return Response(s.LotSerializer(lot).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Grant to many members, each grant with its own idempotency key",
                   request=s.KeyedGrantBatchSerializer, responses=s.KeyedGrantBatchReportSerializer)
    @action(detail=True, methods=["post"], url_path="grant-batch")
    def grant_batch(self, request, pk=None):
        """Up to 1,000 grants in one request, answered one by one in order. Each key behaves as if it
        came in its own request (R5): a key seen before (in an earlier request or earlier in this one)
        with the same card returns the stored answer as a replay and makes no lot; with another card it
        is refused with 409 ``idempotency_conflict``. A refused grant does not stop the others."""
        campaign = self.get_object()
        data = s.KeyedGrantBatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        batch = grants.do_grant_batch(request.user, campaign.pk, data.validated_data["grants"], self._render_lot)
        return Response(s.KeyedGrantBatchReportSerializer(asdict(batch)).data)

    @extend_schema(summary="Grant to every card number of a CSV upload; refused cards reported by line",
                   request={"multipart/form-data": s.CsvUploadSerializer},
                   responses=s.BulkGrantReportSerializer)
    @action(detail=True, methods=["post"], url_path="bulk-grants", parser_classes=[MultiPartParser, FormParser])
    def bulk_grants(self, request, pk=None):
        campaign = self.get_object()
        data = s.CsvUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = do_bulk_grant_from_file(request.user, campaign.pk, data.validated_data["file"])
        return Response(s.BulkGrantReportSerializer(asdict(result)).data)


class LotViewSet(_ScopedWrites, viewsets.ReadOnlyModelViewSet):
    """Lots (one per grant), earliest expiry first; reverse a grant with POST {id}/reverse/."""

    serializer_class = s.LotSerializer
    filterset_class = filtersets.LotFilterSet
    ordering_fields = ["expires_at", "created_at", "points"]

    def get_queryset(self):
        return lots_for(self.request.user).order_by("expires_at", "id")

    @extend_schema(summary="Reverse a grant: claw back what the lot still holds; a shortfall is recorded",
                   request=s.ReverseRequestSerializer, responses=s.ReverseResultSerializer)
    @action(detail=True, methods=["post"])
    def reverse(self, request, pk=None):
        lot = self.get_object()
        data = s.ReverseRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        exception = ledger.do_reverse_grant(request.user, lot.pk, reason=data.validated_data["reason"])
        lot = self.get_queryset().get(pk=lot.pk)
        shortfall = exception.amount if exception is not None else 0
        return Response(s.ReverseResultSerializer({"lot": lot, "clawed_back": lot.points - shortfall,
                                                   "shortfall": shortfall,
                                                   "exception_id": exception.pk if exception else None}).data)


class TransferViewSet(viewsets.ReadOnlyModelViewSet):
    """The ledger's transfers (append-only), newest first; filter by kind, agency, merchant and date."""

    serializer_class = s.TransferSerializer
    read_capability = Capability.VIEW_POINTS
    filterset_class = filtersets.TransferFilterSet
    ordering_fields = ["created_at", "id", "amount"]

    def get_queryset(self):
        return transfers_for(self.request.user)


class MemberViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Members (citizen-card holders), programme-wide; the operator registers them."""

    serializer_class = s.MemberSerializer
    read_capability = Capability.VIEW_POINTS
    write_capability = Capability.MANAGE_MEMBERS
    filterset_class = filtersets.MemberFilterSet
    ordering_fields = ["card_number", "created_at"]
    queryset = Member.objects.order_by("card_number")

    @extend_schema(summary="Register a member (the national ID is kept only as a keyed hash)",
                   request=s.MemberCreateSerializer, responses={201: s.MemberSerializer})
    def create(self, request):
        data = s.MemberCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = member_services.do_register_member(request.user, member_services.MemberInput(**data.validated_data))
        return Response(s.MemberSerializer(member).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="The member's wallet (agency users see their agencies' lots only)",
                   responses=s.WalletSerializer)
    @action(detail=True, methods=["get"])
    def wallet(self, request, pk=None):
        member = self.get_object()
        return Response(s.WalletSerializer(asdict(scoped_wallet(request.user, member))).data)


class MerchantViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Merchants, programme-wide: the operator creates, imports and moves them through their lifecycle."""

    serializer_class = s.MerchantSerializer
    read_capability = Capability.VIEW_POINTS
    write_capability = Capability.MANAGE_MERCHANTS
    filterset_class = filtersets.MerchantFilterSet
    ordering_fields = ["tax_id", "name", "created_at"]
    queryset = Merchant.objects.select_related("district").order_by("tax_id")

    @extend_schema(summary="Create a merchant (status applied)", request=s.MerchantCreateSerializer,
                   responses={201: s.MerchantSerializer})
    def create(self, request):
        data = s.MerchantCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        merchant = merchant_services.do_create_merchant(request.user,
                                                        merchant_services.MerchantInput(**data.validated_data))
        return Response(s.MerchantSerializer(merchant).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Import merchants from CSV; good rows imported, bad rows reported by line",
                   request={"multipart/form-data": s.CsvUploadSerializer},
                   responses=s.MerchantImportReportSerializer)
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser, FormParser])
    def import_csv(self, request):
        data = s.CsvUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = merchant_services.do_import_merchants(request.user, data.validated_data["file"])
        return Response(s.MerchantImportReportSerializer({
            "encoding": report.encoding, "created": report.created, "updated": report.updated,
            "unchanged": report.unchanged, "problems": [asdict(problem) for problem in report.problems]}).data)

    def _lifecycle(self, request, service_name: str, *args):
        merchant = self.get_object()
        merchant = getattr(merchant_services, service_name)(request.user, merchant.pk, *args)
        return Response(s.MerchantSerializer(self.get_queryset().get(pk=merchant.pk)).data)

    @extend_schema(summary="applied → active", request=None, responses=s.MerchantSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._lifecycle(request, "do_approve_merchant")

    @extend_schema(summary="active → suspended (open holds are voided)", request=None, responses=s.MerchantSerializer)
    @action(detail=True, methods=["post"])
    def suspend(self, request, pk=None):
        return self._lifecycle(request, "do_suspend_merchant")

    @extend_schema(summary="suspended → active", request=None, responses=s.MerchantSerializer)
    @action(detail=True, methods=["post"])
    def reinstate(self, request, pk=None):
        return self._lifecycle(request, "do_reinstate_merchant")

    @extend_schema(summary="active/suspended → closed (final)", request=None, responses=s.MerchantSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        return self._lifecycle(request, "do_close_merchant")

    @extend_schema(summary="active/suspended → not renewed (final)", request=None, responses=s.MerchantSerializer)
    @action(detail=True, methods=["post"], url_path="not-renewed")
    def not_renewed(self, request, pk=None):
        return self._lifecycle(request, "do_mark_not_renewed")

    @extend_schema(summary="Switch points payment on or off", request=s.PointsEnabledSerializer,
                   responses=s.MerchantSerializer)
    @action(detail=True, methods=["post"], url_path="points-enabled")
    def points_enabled(self, request, pk=None):
        data = s.PointsEnabledSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._lifecycle(request, "do_set_points_enabled", data.validated_data["enabled"])

    @extend_schema(summary="Register a terminal; its signing secret is returned this once",
                   request=s.TerminalRequestSerializer, responses={201: s.TerminalCreatedSerializer})
    @action(detail=True, methods=["post"])
    def terminals(self, request, pk=None):
        merchant = self.get_object()
        data = s.TerminalRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        terminal, secret = merchant_services.do_create_terminal(request.user, merchant.pk,
                                                                data.validated_data.get("terminal_id"))
        body = s.TerminalSerializer(terminal).data
        body["secret"] = secret
        return Response(body, status=status.HTTP_201_CREATED)


class LedgerHealthView(APIView):
    """The ledger auditor on demand: every balance rebuilt from the transfers, and each agency's identity."""

    read_capability = Capability.VIEW_POINTS

    @extend_schema(summary="Check the ledger", responses={200: s.LedgerHealthSerializer,
                                                          403: OpenApiResponse(description="No points.view")})
    def get(self, request):
        health = check_ledger()
        codes = dict(filtersets.reachable_agencies(request).values_list("pk", "code"))
        agencies = [{**asdict(f), "agency_code": codes.get(f.agency_id, ""), "accounted": f.accounted,
                     "balanced": f.balanced} for f in scoped_figures(request.user)]
        city_wide = request.user.visible_agency_ids() is None
        return Response(s.LedgerHealthSerializer({
            "ok": health.ok, "problem_count": len(health.problems),
            "problems": health.problems if city_wide else [],
            "accounts_checked": health.accounts_checked, "transfers_checked": health.transfers_checked,
            "agencies": agencies}).data)

