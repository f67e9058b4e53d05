"""Security API: devices, installed software with identification results, and agency posture (read-only)."""

from __future__ import annotations

import datetime as dt

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from citygov.core.roles import Capability
from citygov.security import queries, services
from citygov.security.api import serializers as s
from citygov.security.models import CoreSystem, Device, Finding, InstalledSoftware, SecurityTest


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


class CoreSystemViewSet(viewsets.ReadOnlyModelViewSet):
    """Information systems with warranties, patches, off-site backup, flags and components.

    POST ``{id}/drill/`` records a restore drill, ``{id}/patch/`` a patch date.
    """

    serializer_class = s.CoreSystemSerializer
    read_capability = Capability.VIEW_SECURITY
    write_capability = Capability.MANAGE_SECURITY
    filterset_fields = ["agency", "is_core", "status", "backup_method", "drill_result"]
    search_fields = ["name", "vendor"]

    def get_queryset(self):
        return CoreSystem.objects.for_agency(self.request.user).prefetch_related("components").order_by(
            "agency_id", "name")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["rows"] = {r.system.pk: r for r in queries.system_rows(self.request.user)}
        return context

    def _answer(self, system_id: int) -> Response:
        system = self.get_queryset().get(pk=system_id)
        return Response(self.get_serializer(system).data)

    @extend_schema(summary="Record a restore drill", request=s.DrillInputSerializer,
                   responses={200: s.CoreSystemSerializer})
    @action(detail=True, methods=["post"])
    def drill(self, request, pk=None):
        system = self.get_object()
        body = s.DrillInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        services.do_record_restore_drill(request.user, system.pk, services.DrillInput(
            data["performed_on"], data["result"], data.get("rpo_achieved_hours"), data.get("rto_achieved_hours")))
        return self._answer(system.pk)

    @extend_schema(summary="Record a patch", request=s.PatchInputSerializer, responses={200: s.CoreSystemSerializer})
    @action(detail=True, methods=["post"], url_path="patch")
    def record_patch(self, request, pk=None):
        system = self.get_object()
        body = s.PatchInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.do_record_patch(request.user, system.pk, body.validated_data["patched_on"])
        return self._answer(system.pk)


class SecurityTestViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Penetration tests and red/blue exercises with their findings; POST one, POST ``{id}/findings/``."""

    serializer_class = s.SecurityTestSerializer
    read_capability = Capability.VIEW_SECURITY
    write_capability = Capability.MANAGE_SECURITY
    filterset_fields = ["agency", "system", "kind"]

    def get_queryset(self):
        return SecurityTest.objects.for_agency(self.request.user).prefetch_related("findings").order_by(
            "-performed_on", "id")

    @extend_schema(summary="Record a penetration test or red/blue exercise", request=s.SecurityTestInputSerializer,
                   responses={201: s.SecurityTestSerializer})
    def create(self, request):
        body = s.SecurityTestInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        test = services.do_record_security_test(request.user, data["agency"], services.SecurityTestInput(
            data["kind"], data["title"], data["performed_on"], data["conducted_by"], data["system"]))
        return Response(s.SecurityTestSerializer(test).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Add a finding to a test", request=s.FindingInputSerializer,
                   responses={201: s.FindingSerializer})
    @action(detail=True, methods=["post"])
    def findings(self, request, pk=None):
        test = self.get_object()
        body = s.FindingInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        finding = services.do_add_finding(request.user, test.pk, data["title"], data["severity"], data["due_date"])
        return Response(s.FindingSerializer(finding).data, status=status.HTTP_201_CREATED)


class FindingViewSet(viewsets.ReadOnlyModelViewSet):
    """Findings; ``?overdue=true`` lists those past due and not remediated; POST ``{id}/remediate/``."""

    serializer_class = s.FindingSerializer
    read_capability = Capability.VIEW_SECURITY
    write_capability = Capability.MANAGE_SECURITY
    filterset_fields = ["agency", "test", "severity"]

    def get_queryset(self):
        rows = Finding.objects.for_agency(self.request.user).order_by("due_date", "id")
        if self.request.query_params.get("overdue", "").lower() in ("1", "true", "yes"):
            rows = rows.filter(remediated_on__isnull=True, due_date__lt=dt.date.today())
        return rows

    @extend_schema(summary="Mark a finding remediated", request=s.RemediationInputSerializer,
                   responses={200: s.FindingSerializer})
    @action(detail=True, methods=["post"])
    def remediate(self, request, pk=None):
        finding = self.get_object()
        body = s.RemediationInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        done = services.do_remediate_finding(request.user, finding.pk, body.validated_data["remediated_on"],
                                             body.validated_data["note"])
        return Response(s.FindingSerializer(done).data)


class BackupCoverageView(APIView):
    """Active core systems with tested off-site backup: X of Y (and how many have off-site backup at all)."""

    read_capability = Capability.VIEW_SECURITY

    @extend_schema(responses=s.BackupCoverageSerializer)
    def get(self, request):
        coverage = queries.backup_coverage(queries.system_rows(request.user))
        return Response(s.BackupCoverageSerializer(coverage.__dict__).data)
