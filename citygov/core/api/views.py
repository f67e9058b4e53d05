"""Core API: users (administrators), the change log (read-only), API tokens and "me"."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from citygov.core import services
from citygov.core.api import serializers as s
from citygov.core.api.errors import problem
from citygov.core.api.permissions import PublicEndpoint
from citygov.core.auth import is_locked_out, record_login
from citygov.core.filtersets import ChangeLogFilterSet
from citygov.core.models import ChangeLog
from citygov.core.roles import Capability


class UserViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """User accounts: city administrators manage all; agency administrators those of their agencies."""

    serializer_class = s.UserSerializer
    read_capability = Capability.VIEW_USERS
    write_capability = Capability.MANAGE_USERS
    filterset_fields = ["role", "is_active"]
    search_fields = ["username", "display_name", "email"]
    ordering_fields = ["username", "date_joined", "last_login"]

    def get_queryset(self):
        return services.users_for(self.request.user).prefetch_related("memberships").order_by("username")

    @extend_schema(request=s.UserCreateSerializer, responses={201: s.UserCreatedSerializer})
    def create(self, request):
        data = s.UserCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user, password = services.do_create_user(
            request.user, services.UserInput(agency_ids=tuple(data.validated_data.pop("agency_ids")),
                                             **data.validated_data))
        body = s.UserSerializer(user).data
        # A password the caller did not choose is returned this once and never again.
        body["initial_password"] = password if "password" not in request.data else None
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.UserUpdateSerializer, responses=s.UserSerializer)
    def partial_update(self, request, pk=None):
        data = s.UserUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = services.do_update_user(request.user, int(pk), dict(data.validated_data))
        return Response(s.UserSerializer(user).data)


class ChangeLogViewSet(viewsets.ReadOnlyModelViewSet):
    """The change log: city administrators and auditors; never editable."""

    serializer_class = s.ChangeLogSerializer
    read_capability = Capability.VIEW_CHANGELOG
    filterset_class = ChangeLogFilterSet
    ordering_fields = ["at", "id"]
    search_fields = ["object_repr", "actor_name", "note"]

    def get_queryset(self):
        return ChangeLog.objects.for_agency(self.request.user).order_by("-at", "-id")


class TokenView(APIView):
    """Exchange a user name and password for an API token (rate-limited; lock-out applies)."""

    permission_classes = [PublicEndpoint]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(request=s.TokenRequestSerializer, responses={201: s.TokenIssuedSerializer})
    def post(self, request):
        data = s.TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        username = data.validated_data["username"]
        locked = is_locked_out(username)
        # authenticate() logs the attempt (and refuses a locked account) in the lock-out backend.
        user = authenticate(request, username=username, password=data.validated_data["password"])
        if locked or (user is None and is_locked_out(username)):
            return problem(403, _("Too many failed sign-ins: this account is locked for a while."),
                           code="locked_out")
        if user is None:
            return problem(401, _("Wrong user name or password."), code="invalid_credentials")
        record_login(user, request)
        token, key = services.do_create_api_token(user, name=data.validated_data["name"],
                                                  days=data.validated_data["days"])
        return Response({"token": key, "prefix": token.prefix, "expires_at": token.expires_at},
                        status=status.HTTP_201_CREATED)


class ApiTokenViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The signed-in user's own API tokens; revoke with POST .../{id}/revoke/."""

    serializer_class = s.ApiTokenSerializer

    def get_queryset(self):
        return self.request.user.api_tokens.all()

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        services.do_revoke_api_token(request.user, int(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    """The signed-in user, with role, capabilities and agencies."""

    @extend_schema(responses=s.UserSerializer)
    def get(self, request):
        body = s.UserSerializer(request.user).data
        body["capabilities"] = sorted(c for c in Capability.values if request.user.has_capability(c))
        return Response(body)
