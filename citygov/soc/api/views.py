"""SOC API: alerts (list, triage, escalate a recurrence group), figures, imports, cases and
follow-up actions. Reads are scoped with ``for_agency(user)``; every write calls one service."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from citygov.core.roles import Capability
from citygov.soc import queries, services
from citygov.soc.api import serializers as s
from citygov.soc.models import AlertImport, ForensicCase


class _SocReads:
    read_capability = Capability.VIEW_SOC
    write_capability = Capability.VIEW_SOC  # the service checks the exact capability


class AlertViewSet(_SocReads, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Normalised alerts, newest first; filter by category, severity, status, agency."""

    serializer_class = s.AlertSerializer
    filterset_fields = ["category", "severity", "status", "agency", "source_format", "signature_id"]
    search_fields = ["signature", "src_ip", "dest_ip"]
    ordering_fields = ["time"]

    def get_queryset(self):
        return queries.alerts_for(self.request.user).order_by("-time", "-id")

    @extend_schema(request=s.TriageSerializer, responses={200: dict})
    @action(detail=True, methods=["post"])
    def triage(self, request, pk=None):
        """Acknowledge or dismiss (with a reason) the alert or its whole recurrence group."""
        alert = self.get_object()
        data = s.TriageSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        count = services.do_triage_alert(request.user, alert.pk, **data.validated_data)
        return Response({"updated": count})

    @extend_schema(request=s.EscalateSerializer, responses={201: s.CaseSerializer})
    @action(detail=True, methods=["post"])
    def escalate(self, request, pk=None):
        """Escalate the alert's recurrence group into one (new or existing) case."""
        alert = self.get_object()
        data = s.EscalateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        case = services.do_escalate_alert(request.user, alert.pk, data.validated_data["title"],
                                          data.validated_data["kind"], case_id=data.validated_data["case"])
        return Response(s.CaseSerializer(case).data, status=status.HTTP_201_CREATED)


class FiguresView(_SocReads, APIView):
    """The analytics figures (as on the page) for the caller's scope."""

    @extend_schema(summary="Alert figures", responses={200: dict}, parameters=[
        OpenApiParameter("focus", bool, description="medium and high only")])
    def get(self, request):
        flt = queries.AlertFilter(focus=request.query_params.get("focus") in ("1", "true"))
        figures = queries.alert_figures(request.user, flt)
        return Response(figures)


class ImportViewSet(_SocReads, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Alert imports; POST a file (multipart) to import it."""

    serializer_class = s.AlertImportSerializer
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        return AlertImport.objects.order_by("-created_at", "-id")

    @extend_schema(request=s.ImportRequestSerializer, responses={201: s.AlertImportSerializer})
    def create(self, request):
        data = s.ImportRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        run = services.do_import_alerts(request.user, upload.file, upload.name, data.validated_data["format"])
        return Response(s.AlertImportSerializer(run).data, status=status.HTTP_201_CREATED)


class CaseViewSet(_SocReads, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Forensic cases with their follow-up actions."""

    serializer_class = s.CaseSerializer

    def get_queryset(self):
        return ForensicCase.objects.for_agency(self.request.user).prefetch_related("actions").order_by("-created_at")


class ActionViewSet(_SocReads, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Follow-up actions; agencies report progress, the bureau verifies."""

    serializer_class = s.FollowUpActionSerializer
    filterset_fields = ["status", "agency", "case"]

    def get_queryset(self):
        return queries.actions_for(self.request.user).order_by("due_date", "id")

    @extend_schema(request=s.ProgressSerializer, responses=s.FollowUpActionSerializer)
    @action(detail=True, methods=["post"])
    def progress(self, request, pk=None):
        """In progress, or done with evidence (the owning agency)."""
        item = self.get_object()
        data = s.ProgressSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        updated = services.do_report_progress(request.user, item.pk, data.validated_data["status"],
                                              data.validated_data["evidence_note"])
        return Response(s.FollowUpActionSerializer(updated).data)

    @extend_schema(request=s.VerifySerializer, responses=s.FollowUpActionSerializer)
    @action(detail=True, methods=["post"])
    def verify(self, request, pk=None):
        """Verified, or returned with a note (the bureau)."""
        item = self.get_object()
        data = s.VerifySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        updated = services.do_verify_action(request.user, item.pk, data.validated_data["accept"],
                                            data.validated_data["note"])
        return Response(s.FollowUpActionSerializer(updated).data)


class IncidentViewSet(_SocReads, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Incidents (資安事件) with their legal clocks; the bureau records them, milestones are recorded
    by the bureau or the agency, alerts and a forensic case are linked."""

    serializer_class = s.IncidentSerializer
    filterset_fields = ["agency", "level", "kind"]

    def get_queryset(self):
        return queries.incidents_for(self.request.user).prefetch_related("alerts").order_by("-aware_at", "-id")

    def _fresh(self, pk: int):
        return s.IncidentSerializer(self.get_queryset().get(pk=pk)).data

    @extend_schema(request=s.IncidentCreateSerializer, responses={201: s.IncidentSerializer})
    def create(self, request):
        """Record an incident (``soc.cases``)."""
        data = s.IncidentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        incident = services.do_create_incident(request.user, services.IncidentInput(
            agency_id=v["agency"], title=v["title"], kind=v["kind"], level=v["level"], aware_at=v["aware_at"],
            description=v["description"]))
        return Response(self._fresh(incident.pk), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.MilestoneSerializer, responses=s.IncidentSerializer)
    @action(detail=True, methods=["post"])
    def milestone(self, request, pk=None):
        """Record when notification, level review, recovery or the report happened (default now)."""
        incident = self.get_object()
        data = s.MilestoneSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.do_record_milestone(request.user, incident.pk, data.validated_data["milestone"],
                                     data.validated_data["at"])
        return Response(self._fresh(incident.pk))

    @extend_schema(request=s.LevelSerializer, responses=s.IncidentSerializer)
    @action(detail=True, methods=["post"])
    def level(self, request, pk=None):
        """Change the level, with the reason (the bureau)."""
        incident = self.get_object()
        data = s.LevelSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.do_change_level(request.user, incident.pk, data.validated_data["level"],
                                 data.validated_data["reason"])
        return Response(self._fresh(incident.pk))

    @extend_schema(request=s.LinkSerializer, responses=s.IncidentSerializer)
    @action(detail=True, methods=["post"])
    def link(self, request, pk=None):
        """Link alerts (optionally with their recurrence groups), and/or a forensic case (``case``, or
        ``new_case`` to open one)."""
        incident = self.get_object()
        data = s.LinkSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if v["alerts"]:
            services.do_link_alerts(request.user, incident.pk, v["alerts"], whole_group=v["whole_group"])
        if v["case"] is not None or v["new_case"]:
            services.do_link_case(request.user, incident.pk, v["case"])
        return Response(self._fresh(incident.pk))
