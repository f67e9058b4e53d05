"""Security API: devices, installed software with identification results, agency posture, information
systems with their backup and components, tests and findings, and file imports."""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from citygov.core.errors import InvalidInput
from citygov.core.roles import Capability
from citygov.security import queries, services
from citygov.security.api import serializers as s
from citygov.security.models import CoreSystem, Device, Finding, InstalledSoftware, SecurityTest, SystemComponent
from citygov.security.uploads import IMPORT_KINDS, run_import


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


class CoreSystemViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Information systems with warranties, patches, off-site backup, flags and components.

    POST creates a system, PUT/PATCH ``{id}/`` edits it (backup record included), through the same
    services as the pages; POST ``{id}/drill/`` records a restore drill, ``{id}/patch/`` a patch date.
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

    def _answer(self, system_id: int, code: int = status.HTTP_200_OK) -> Response:
        system = self.get_queryset().get(pk=system_id)
        return Response(self.get_serializer(system).data, status=code)

    @extend_schema(summary="Create an information system", request=s.CoreSystemInputSerializer,
                   responses={201: s.CoreSystemSerializer})
    def create(self, request, *args, **kwargs):
        body = s.CoreSystemInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        agency_id = data.pop("agency")
        if agency_id is None:
            raise InvalidInput(_("The system has invalid fields."), fields={"agency": [_("Choose the agency.")]})
        system = services.do_create_system(request.user, agency_id, services.SystemInput(**data))
        return self._answer(system.pk, status.HTTP_201_CREATED)

    @extend_schema(summary="Edit an information system and its backup record", request=s.CoreSystemInputSerializer,
                   responses={200: s.CoreSystemSerializer})
    def update(self, request, *args, **kwargs):
        partial = kwargs.get("partial", False)
        system = self.get_object()
        body = s.CoreSystemInputSerializer(data=request.data, partial=partial)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        if data.pop("agency", None) not in (None, system.agency_id):
            raise InvalidInput(_("The system has invalid fields."),
                               fields={"agency": [_("A system cannot move to another agency.")]})
        wanted = dataclasses.replace(services.system_input_of(system), **data) if partial else \
            services.SystemInput(**data)
        services.do_update_system(request.user, system.pk, wanted)
        return self._answer(system.pk)

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


class SystemComponentViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin,
                             viewsets.ReadOnlyModelViewSet):
    """Components of information systems: each is identified to a CPE and matched to CVEs when saved.

    POST adds one to a system, PUT/PATCH changes it (e.g. a new version), DELETE removes it; all through
    the services, with a change-log row.
    """

    serializer_class = s.ComponentSerializer
    read_capability = Capability.VIEW_SECURITY
    write_capability = Capability.MANAGE_SECURITY
    filterset_fields = ["agency", "system", "status", "worst_severity"]
    search_fields = ["display_name", "publisher"]

    def get_queryset(self):
        return SystemComponent.objects.for_agency(self.request.user).order_by("system_id", "display_name", "id")

    @extend_schema(summary="Add a component to a system", request=s.ComponentInputSerializer,
                   responses={201: s.ComponentSerializer})
    def create(self, request, *args, **kwargs):
        body = s.ComponentInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        system_id = data.pop("system")
        if system_id is None:
            raise InvalidInput(_("The component has invalid fields."), fields={"system": [_("Choose the system.")]})
        component = services.do_add_component(request.user, system_id, services.ComponentInput(**data))
        return Response(s.ComponentSerializer(component).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Change a component", request=s.ComponentInputSerializer,
                   responses={200: s.ComponentSerializer})
    def update(self, request, *args, **kwargs):
        partial = kwargs.get("partial", False)
        component = self.get_object()
        body = s.ComponentInputSerializer(data=request.data, partial=partial)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        if data.pop("system", None) not in (None, component.system_id):
            raise InvalidInput(_("The component has invalid fields."),
                               fields={"system": [_("A component cannot move to another system.")]})
        current = services.ComponentInput(component.display_name, component.display_version, component.publisher)
        wanted = dataclasses.replace(current, **data) if partial else services.ComponentInput(**data)
        done = services.do_update_component(request.user, component.pk, wanted)
        return Response(s.ComponentSerializer(done).data)

    def destroy(self, request, *args, **kwargs):
        component = self.get_object()
        services.do_remove_component(request.user, component.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ImportView(APIView):
    """Import a file for an agency (multipart ``file``, ``agency``; ``hostname`` for an osqueryi inventory).

    ``kind``: ``inventory`` (CSV, JSON, osquery ``programs``/``deb_packages`` JSON or daemon logs),
    ``devices``, ``systems``, ``components`` or ``tests`` (penetration tests and red/blue exercises with
    findings). The answer lists rejected rows by line; the good rows are imported; re-importing the same
    file changes nothing. A file that cannot be read at all is a 400 problem and nothing is written.
    """

    read_capability = Capability.VIEW_SECURITY
    write_capability = Capability.MANAGE_SECURITY
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(summary="Import a file", request={"multipart/form-data": s.ImportInputSerializer},
                   parameters=[OpenApiParameter("kind", str, OpenApiParameter.PATH, enum=list(IMPORT_KINDS))],
                   responses={200: s.ImportReportSerializer})
    def post(self, request, kind: str):
        if kind not in IMPORT_KINDS:
            raise NotFound()
        body = s.ImportInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        report = run_import(request.user, kind, data["agency"], data["file"], hostname=data["hostname"])
        return Response(s.ImportReportSerializer({
            **{name: getattr(report, name) for name in ("rows", "created", "updated", "unchanged", "devices_created")},
            "problems": [{"line": p.line, "message": str(p.message)} for p in report.problems]}).data)
