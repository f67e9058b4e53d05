"""Security API: devices, installed software with identification results, and agency posture (read-only)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from citygov.core.roles import Capability
from citygov.security import queries
from citygov.security.api import serializers as s
from citygov.security.models import Device, InstalledSoftware


class DeviceViewSet(viewsets.ReadOnlyModelViewSet):
    """Devices of the agencies the caller can reach."""

    serializer_class = s.DeviceSerializer
    read_capability = Capability.VIEW_SECURITY
    filterset_fields = ["agency", "device_type", "vans_enrolled", "edr_installed"]
    search_fields = ["hostname"]

    def get_queryset(self):
        return Device.objects.for_agency(self.request.user).order_by("agency_id", "hostname")


class InstalledSoftwareViewSet(viewsets.ReadOnlyModelViewSet):
    """Installed software with its CPE identification and CVEs, scoped to the caller's agencies."""

    serializer_class = s.InstalledSoftwareSerializer
    read_capability = Capability.VIEW_SECURITY
    filterset_fields = ["agency", "device", "status", "worst_severity", "vendor", "product"]
    search_fields = ["display_name", "publisher"]

    def get_queryset(self):
        return InstalledSoftware.objects.for_agency(self.request.user).order_by("id")


class PostureView(APIView):
    """Identification rate, VANS/EDR coverage and vulnerable devices per agency."""

    read_capability = Capability.VIEW_SECURITY

    @extend_schema(responses=s.AgencyPostureSerializer(many=True))
    def get(self, request):
        rows = [{**p.__dict__, "identification_rate": p.identification_rate}
                for p in queries.agency_postures(request.user)]
        return Response(s.AgencyPostureSerializer(rows, many=True).data)
