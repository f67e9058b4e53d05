"""Serializers of the datagov API (read-only rows; the import takes a file)."""

from __future__ import annotations

from rest_framework import serializers

from citygov.datagov.models import Dataset, ImportRun, Resource, SharingRequest


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
