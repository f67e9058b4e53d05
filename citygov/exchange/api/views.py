"""Exchange API: the registry (read scoped to the caller's agencies; writes by city administrators),
transfer records searchable by X-Road-Id, the signed configuration gateways download, and the signed
live status of a sharing grant that provider gateways ask on each call under a grant.

The configuration and grant statuses are public (signed, no secrets: the configuration already lists
every access right; gateways verify both against their anchor key) and rate-limited per client address.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from citygov.core.api.errors import problem
from citygov.core.api.permissions import PublicEndpoint
from citygov.core.roles import Capability
from citygov.exchange import queries, services
from citygov.exchange.api import serializers as s
from citygov.exchange.engine import ca as ca_engine
from citygov.exchange.engine.grants import sign_grant_status
from citygov.exchange.models import TransferRecord


class _Registry:
    read_capability = Capability.VIEW_EXCHANGE
    write_capability = Capability.MANAGE_EXCHANGE


@extend_schema_view(list=extend_schema(summary="Exchange members the caller may see"),
                    retrieve=extend_schema(summary="One member"))
class MemberViewSet(_Registry, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Members (agencies) of the exchange."""

    serializer_class = s.MemberSerializer

    def get_queryset(self):
        return queries.members_for(self.request.user).order_by("member_class", "code")

    @extend_schema(summary="Register an agency as a member (city administrators)", request=s.MemberCreateSerializer,
                   responses={201: s.MemberSerializer})
    def create(self, request):
        data = s.MemberCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        member = services.do_register_member(request.user, agency_id=v["agency"].pk, code=v["code"], name=v["name"],
                                             member_class=v["member_class"])
        return Response(s.MemberSerializer(member).data, status=status.HTTP_201_CREATED)


@extend_schema_view(list=extend_schema(summary="Services provided by the caller's agencies"),
                    retrieve=extend_schema(summary="One service with its OpenAPI description"))
class ServiceViewSet(_Registry, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Services and their OpenAPI 3 descriptions."""

    serializer_class = s.ServiceSerializer

    def get_queryset(self):
        return queries.services_for(self.request.user).order_by("id")


@extend_schema_view(list=extend_schema(summary="Access rights on or held by the caller's agencies"))
class AccessRightViewSet(_Registry, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Access rights (consumers of services)."""

    serializer_class = s.AccessRightSerializer

    def get_queryset(self):
        return queries.access_rights_for(self.request.user).order_by("id")

    @extend_schema(summary="Grant access (city administrators)", request=s.AccessRightCreateSerializer,
                   responses={201: s.AccessRightSerializer})
    def create(self, request):
        data = s.AccessRightCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        right = services.do_grant_access(request.user, v["service"].pk, v["client"].pk, not_after=v.get("not_after"),
                                         grant_ref=v.get("grant_ref", ""), grant_dataset=v.get("grant_dataset"))
        return Response(s.AccessRightSerializer(right).data, status=status.HTTP_201_CREATED)


@extend_schema_view(list=extend_schema(summary="Transfer records of the caller's gateways", parameters=[
    OpenApiParameter("x_road_id", str, description="only records of this X-Road-Id")]))
class TransferRecordViewSet(_Registry, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Transfer records imported from verified gateway message logs (no payloads)."""

    serializer_class = s.TransferRecordSerializer

    def get_queryset(self):
        x_road_id = self.request.query_params.get("x_road_id", "").strip()
        if x_road_id:
            return queries.find_transfers(self.request.user, x_road_id).order_by("-time", "-id")
        return TransferRecord.objects.for_agency(self.request.user).select_related("member").order_by("-time", "-id")


class ConfigurationThrottle(SimpleRateThrottle):
    """Per client address: gateways refresh every minute or so."""

    scope = "exchange-configuration"
    rate = "120/hour"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ConfigurationView(APIView):
    """The signed configuration document (public, rate-limited)."""

    permission_classes = [PublicEndpoint]
    authentication_classes: list = []
    throttle_classes = [ConfigurationThrottle]

    @extend_schema(summary="The signed global configuration gateways download", responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        ca_dir = Path(settings.VAR_DIR) / "exchange" / "ca"
        try:
            key, ca_pem = (ca_dir / "registry.key.pem").read_bytes(), (ca_dir / "ca.pem").read_bytes()
        except OSError:
            return problem(status.HTTP_503_SERVICE_UNAVAILABLE,
                           "The exchange CA is not set up: run `citygov exchange ca-init` (交換 CA 尚未建立).",
                           code="exchange_ca_missing")
        return HttpResponse(services.signed_configuration(key, [ca_pem]), content_type="application/json")


class GrantStatusThrottle(ConfigurationThrottle):
    """Per client address: a provider gateway asks once per call under a sharing grant."""

    scope = "exchange-grant-status"
    rate = "3000/min"


_NONCE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class GrantStatusView(APIView):
    """Whether a client's access right on a service is current under its sharing grant (signed)."""

    permission_classes = [PublicEndpoint]
    authentication_classes: list = []
    throttle_classes = [GrantStatusThrottle]

    @extend_schema(summary="The live, signed status of a sharing grant (for provider gateways)",
                   parameters=[OpenApiParameter("service", str, required=True, description="X-Road service id"),
                               OpenApiParameter("client", str, required=True, description="X-Road client id"),
                               OpenApiParameter("nonce", str, required=True,
                                                description="8-64 of A-Z a-z 0-9 - _, echoed in the signed answer")],
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        nonce = request.query_params.get("nonce", "")
        if not _NONCE.match(nonce):
            return problem(status.HTTP_400_BAD_REQUEST,
                           "nonce must be 8-64 letters, digits, - or _ (nonce 格式錯誤).", code="bad_nonce")
        result = services.grant_status(request.query_params.get("service", ""),
                                       request.query_params.get("client", ""))
        try:
            key = (Path(settings.VAR_DIR) / "exchange" / "ca" / "registry.key.pem").read_bytes()
        except OSError:
            return problem(status.HTTP_503_SERVICE_UNAVAILABLE,
                           "The exchange CA is not set up: run `citygov exchange ca-init` (交換 CA 尚未建立).",
                           code="exchange_ca_missing")
        document = sign_grant_status(ca_engine.load_signing_key(key), {
            "service": result.service, "client": result.client, "grant": result.grant or None,
            "current": result.current, "checked_at": result.checked_at.isoformat(), "nonce": nonce})
        return HttpResponse(document, content_type="application/json")
