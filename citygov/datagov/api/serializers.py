"""Serializers of the datagov API (read-only rows; the import takes a file)."""

from __future__ import annotations

from rest_framework import serializers

from citygov.datagov.models import (
    ClassificationSuggestion,
    Dataset,
    ImportRun,
    LinkCheck,
    Resource,
    SharingRequest,
    VocabularyTerm,
)


class ResourceSerializer(serializers.ModelSerializer):
    """A distribution of a dataset."""

    class Meta:
        model = Resource
        fields = ["position", "url", "format", "encoding", "size"]
        read_only_fields = fields


class DatasetSerializer(serializers.ModelSerializer):
    """A catalogue entry with its normalised frequency, its resources and its field schema."""

    agency_code = serializers.CharField(source="agency.code", read_only=True, default=None)
    resources = ResourceSerializer(many=True, read_only=True)

    class Meta:
        model = Dataset
        fields = ["id", "source", "source_id", "title", "description", "agency", "agency_code", "provider_agency",
                  "source_agency_code", "source_agency_name", "category", "theme", "scenarios", "keywords", "licence",
                  "frequency_text", "frequency_class", "frequency_interval", "frequency_eu_code",
                  "frequency_recognised", "data_updated_at", "metadata_updated_at", "published_at", "spatial",
                  "layer_type", "landing_url", "schema", "resources"]
        read_only_fields = fields


class FreshnessSerializer(serializers.Serializer):
    """One dataset's freshness verdict."""

    dataset = serializers.IntegerField()
    agency = serializers.IntegerField(allow_null=True)
    status = serializers.CharField()
    basis = serializers.CharField()
    last_updated = serializers.DateTimeField(allow_null=True)
    due = serializers.DateTimeField(allow_null=True)
    days_overdue = serializers.IntegerField()


class ImportRunSerializer(serializers.ModelSerializer):
    """One catalogue import with its report."""

    class Meta:
        model = ImportRun
        fields = ["id", "source", "file_name", "sha256", "encoding", "rows", "created", "updated", "unchanged",
                  "rejected", "errors", "unmatched_agencies", "started_at", "finished_at"]
        read_only_fields = fields


class ImportUploadSerializer(serializers.Serializer):
    """A catalogue file (multipart)."""

    file = serializers.FileField()


class SharingRequestSerializer(serializers.ModelSerializer):
    """A sharing request and its decision (an approved one is a grant for its period)."""

    class Meta:
        model = SharingRequest
        fields = ["id", "dataset", "agency", "requesting_agency", "purpose", "fields", "legal_basis", "period_start",
                  "period_end", "status", "renews", "decided_at", "reason", "created_at"]
        read_only_fields = fields


class VocabularyTermSerializer(serializers.ModelSerializer):
    """A term of a governed vocabulary (business theme or usage scenario)."""

    class Meta:
        model = VocabularyTerm
        fields = ["id", "axis", "code", "label_zh", "label_en", "eu_code", "keywords", "active", "position"]
        read_only_fields = fields


class ClassificationSuggestionSerializer(serializers.ModelSerializer):
    """A proposed theme or scenario, its reason and the steward's decision."""

    dataset_title = serializers.CharField(source="dataset.title", read_only=True)

    class Meta:
        model = ClassificationSuggestion
        fields = ["id", "dataset", "dataset_title", "axis", "code", "score", "reason", "reason_zh", "alternatives",
                  "status", "final_code", "decided_at"]
        read_only_fields = fields


class SuggestionDecisionSerializer(serializers.Serializer):
    """A steward's decision: accept, correct (with ``code``) or reject."""

    decision = serializers.ChoiceField(choices=["accept", "correct", "reject"])
    code = serializers.CharField(required=False, allow_blank=True, max_length=20, default="")


class LinkCheckSerializer(serializers.ModelSerializer):
    """One probe of a resource URL."""

    dataset = serializers.IntegerField(source="resource.dataset_id", read_only=True)
    url = serializers.CharField(source="resource.url", read_only=True)

    class Meta:
        model = LinkCheck
        fields = ["id", "dataset", "resource", "url", "checked_at", "ok", "status", "method", "final_url", "redirects",
                  "content_type", "content_length", "etag", "last_modified", "error", "elapsed_ms", "data_changed"]
        read_only_fields = fields


class ScorecardSerializer(serializers.Serializer):
    """One agency's data-governance figures."""

    agency = serializers.IntegerField(source="agency_id", allow_null=True)
    datasets = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField())
    overdue_rate = serializers.FloatField(allow_null=True)
    updated_within_year = serializers.IntegerField()
    median_age_days = serializers.IntegerField(allow_null=True)
    classified = serializers.IntegerField()
    links_checked = serializers.IntegerField()
    links_broken = serializers.IntegerField()
    sharing_received = serializers.IntegerField()
    sharing_sent = serializers.IntegerField()
    sharing_approved = serializers.IntegerField()
    sharing_rejected = serializers.IntegerField()
    sharing_pending = serializers.IntegerField()
    median_decision_days = serializers.FloatField(allow_null=True)
