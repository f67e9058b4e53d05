"""Datagov API: the catalogue (shared metadata), freshness verdicts (agency-scoped) and catalogue imports.

Reading needs ``datagov.view``; importing needs ``datagov.manage`` (checked again by the service).
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from citygov.core.errors import InvalidInput
from citygov.core.roles import Capability
from citygov.datagov import queries
from citygov.datagov.api import serializers as s
from citygov.datagov.engine import freshness as fr
from citygov.datagov.models import ImportRun, LinkCheck, VocabularyTerm
from citygov.datagov.services import do_import_catalog, do_review_suggestion

STATUS_CHOICES = list(fr.STATUSES)
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10000


@extend_schema_view(list=extend_schema(summary="Search the catalogue", parameters=[
    OpenApiParameter("q", str, description="Search text (every term must match)")]),
    retrieve=extend_schema(summary="One dataset"))
class DatasetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The dataset catalogue; metadata is shared with every agency."""

    read_capability = Capability.VIEW_DATAGOV
    serializer_class = s.DatasetSerializer
    filterset_fields = ["agency", "frequency_class", "spatial", "source", "frequency_recognised"]
    ordering_fields = ["title", "data_updated_at", "metadata_updated_at"]

    def get_queryset(self):
        qs = queries.catalogue(self.request.user).select_related("agency").prefetch_related("resources")
        return queries.search(qs, self.request.query_params.get("q", "")).order_by("title", "id")


class FreshnessView(APIView):
    """Freshness verdicts for the datasets of the caller's agencies, as of a date (start of day, Taipei)."""

    read_capability = Capability.VIEW_DATAGOV

    @extend_schema(summary="Overdue-update check for the caller's agencies", parameters=[
        OpenApiParameter("as_of", str, description="YYYY-MM-DD (default: now)"),
        OpenApiParameter("status", str, enum=STATUS_CHOICES, description="Only this status"),
        OpenApiParameter("stale_months", int, description="Irregular datasets are stale after (default 12)"),
        OpenApiParameter("limit", int, description="At most this many results (default 1000, at most 10000)"),
        OpenApiParameter("offset", int, description="Skip this many results")],
        responses={200: s.FreshnessSerializer(many=True)})
    def get(self, request):
        as_of_text = request.query_params.get("as_of")
        try:
            as_of = queries.as_of_start(serializers.DateField().to_internal_value(as_of_text)) if as_of_text else None
            stale = int(request.query_params.get("stale_months", 12))
            limit = min(int(request.query_params.get("limit", DEFAULT_LIMIT)), MAX_LIMIT)
            offset = max(int(request.query_params.get("offset", 0)), 0)
        except (serializers.ValidationError, ValueError):
            raise InvalidInput(_("as_of must be YYYY-MM-DD; stale_months, limit and offset whole numbers."),
                               code="bad_parameter") from None
        if not 1 <= stale <= 120:
            raise InvalidInput(_("stale_months must be between 1 and 120."), code="bad_parameter")
        wanted = request.query_params.get("status")
        if wanted and wanted not in fr.STATUSES:
            raise InvalidInput(_("Unknown status."), code="bad_parameter")
        judged = queries.freshness_for(request.user, as_of, fr.Policy(stale_after_months=stale))
        rows = [{"dataset": j.dataset_id, "agency": j.agency_id, "status": j.result.status, "basis": j.result.basis,
                 "last_updated": j.result.last_updated, "due": j.result.due, "days_overdue": j.result.days_overdue}
                for j in judged if not wanted or j.result.status == wanted]
        return Response({"summary": queries.summary(judged), "count": len(rows),
                         "results": s.FreshnessSerializer(rows[offset:offset + max(limit, 0)], many=True).data})


class ImportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Catalogue imports and their reports; POST a file to import one."""

    read_capability = Capability.VIEW_DATAGOV
    write_capability = Capability.MANAGE_DATAGOV
    serializer_class = s.ImportRunSerializer
    parser_classes = [MultiPartParser]
    queryset = ImportRun.objects.all()

    @extend_schema(summary="Import a catalogue file (city portal CSV or data.gov.tw export)",
                   request={"multipart/form-data": s.ImportUploadSerializer}, responses={201: s.ImportRunSerializer})
    def create(self, request):
        upload = s.ImportUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        file = upload.validated_data["file"]
        result = do_import_catalog(request.user, file.file, file.name)
        return Response(s.ImportRunSerializer(result.run).data, status=status.HTTP_201_CREATED)


@extend_schema_view(list=extend_schema(summary="Sharing requests the caller's agencies sent or received"),
                    retrieve=extend_schema(summary="One sharing request"))
class SharingRequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Sharing requests, visible to the requesting and the owning agency only."""

    read_capability = Capability.VIEW_DATAGOV
    serializer_class = s.SharingRequestSerializer
    filterset_fields = ["dataset", "status", "requesting_agency", "agency"]

    def get_queryset(self):
        return queries.sharing_for(self.request.user).order_by("-created_at", "-id")


def _as_of_param(request):
    text = request.query_params.get("as_of")
    try:
        return queries.as_of_start(serializers.DateField().to_internal_value(text)) if text else None
    except serializers.ValidationError:
        raise InvalidInput(_("as_of must be YYYY-MM-DD."), code="bad_parameter") from None


class ScorecardView(APIView):
    """Per-agency scorecards (overdue, freshness, classification, links, sharing) for the caller's agencies."""

    read_capability = Capability.VIEW_DATAGOV

    @extend_schema(summary="Agency scorecards", parameters=[
        OpenApiParameter("as_of", str, description="YYYY-MM-DD (default: now)")],
        responses={200: s.ScorecardSerializer(many=True)})
    def get(self, request):
        cards = queries.scorecards(request.user, _as_of_param(request))
        return Response({"count": len(cards), "results": s.ScorecardSerializer(cards, many=True).data})


class VocabularyViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The governed vocabularies (business themes, usage scenarios)."""

    read_capability = Capability.VIEW_DATAGOV
    serializer_class = s.VocabularyTermSerializer
    filterset_fields = ["axis", "active"]
    queryset = VocabularyTerm.objects.all()


@extend_schema_view(list=extend_schema(summary="Classification suggestions for the caller's agencies"),
                    retrieve=extend_schema(summary="One suggestion"))
class SuggestionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Theme and scenario suggestions; POST ``decide`` to accept, correct or reject one."""

    read_capability = Capability.VIEW_DATAGOV
    write_capability = Capability.MANAGE_DATAGOV
    serializer_class = s.ClassificationSuggestionSerializer
    filterset_fields = ["axis", "status", "dataset"]

    def get_queryset(self):
        return queries.suggestions_for(self.request.user).select_related("dataset").order_by("-score", "id")

    @extend_schema(summary="Accept, correct or reject a suggestion", request=s.SuggestionDecisionSerializer,
                   responses={200: s.ClassificationSuggestionSerializer})
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        suggestion = self.get_object()
        body = s.SuggestionDecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        decided = do_review_suggestion(request.user, suggestion.pk, body.validated_data["decision"],
                                       body.validated_data["code"])
        return Response(s.ClassificationSuggestionSerializer(decided).data)


class LinkCheckViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Link probe results of the caller's agencies' resources, newest first."""

    read_capability = Capability.VIEW_DATAGOV
    serializer_class = s.LinkCheckSerializer
    filterset_fields = ["ok", "data_changed", "resource", "resource__dataset"]

    def get_queryset(self):
        return LinkCheck.objects.for_agency(self.request.user).select_related("resource").order_by("-checked_at", "-id")
