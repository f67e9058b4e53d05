"""Agencies API: agencies (scoped, written through services) and districts (read-only)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.response import Response

from citygov.agencies import services
from citygov.agencies.api import serializers as s
from citygov.agencies.filtersets import AgencyFilterSet
from citygov.agencies.models import Agency, District
from citygov.core.roles import Capability


class AgencyViewSet(viewsets.ModelViewSet):
    """Agencies the caller may reach; changes go through the agency services and the change log."""

    serializer_class = s.AgencySerializer
    read_capability = Capability.VIEW_AGENCIES
    write_capability = Capability.MANAGE_AGENCIES
    filterset_class = AgencyFilterSet
    ordering_fields = ["code", "name_zh"]
    search_fields = ["code", "name_zh", "name_en"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return Agency.objects.for_agency(self.request.user).select_related("district").order_by("code")

    @extend_schema(request=s.AgencyWriteSerializer, responses={201: s.AgencySerializer})
    def create(self, request):
        data = s.AgencyWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        parent, district = values.pop("parent"), values.pop("district")
        agency = services.do_create_agency(
            request.user,
            services.AgencyInput(parent_id=parent.pk if parent else None,
                                 district_id=district.pk if district else None, **values),
        )
        return Response(s.AgencySerializer(agency).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.AgencyWriteSerializer, responses=s.AgencySerializer)
    def partial_update(self, request, pk=None):
        data = s.AgencyWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        agency = services.do_update_agency(request.user, int(pk), dict(data.validated_data))
        return Response(s.AgencySerializer(agency).data)

    def update(self, request, *args, **kwargs):
        return self.partial_update(request, *args, **kwargs)

    def destroy(self, request, pk=None):
        services.do_delete_agency(request.user, int(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DistrictViewSet(viewsets.ReadOnlyModelViewSet):
    """Taoyuan's districts; the detail includes the boundary GeoJSON."""

    queryset = District.objects.order_by("code")
    read_capability = Capability.VIEW_AGENCIES
    filterset_fields = ["code", "name_zh"]
    search_fields = ["name_zh", "name_en"]

    def get_serializer_class(self):
        return s.DistrictDetailSerializer if self.action == "retrieve" else s.DistrictSerializer
