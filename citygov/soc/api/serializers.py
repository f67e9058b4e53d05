"""Serializers of the SOC API."""

from __future__ import annotations

from rest_framework import serializers

from citygov.soc.engine.formats import FORMATS
from citygov.soc.models import Alert, AlertImport, FollowUpAction, ForensicCase


class AlertSerializer(serializers.ModelSerializer):
    class Meta:
        model = Alert
        fields = ["id", "agency", "time", "source_format", "src_ip", "src_port", "dest_ip", "dest_port", "protocol",
                  "signature_id", "signature", "family", "source_category", "source_severity", "category", "severity",
                  "rule", "sensor", "action", "status", "status_reason", "case"]


class AlertImportSerializer(serializers.ModelSerializer):
    class Meta:
        model = AlertImport
        fields = ["id", "file_name", "requested_format", "detected", "encoding", "records", "created", "duplicates",
                  "skipped", "rejected", "rejected_lines", "unknown_networks", "created_at"]


class ImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField()
    format = serializers.ChoiceField(choices=FORMATS, default="auto")


class TriageSerializer(serializers.Serializer):
    verb = serializers.ChoiceField(choices=["acknowledge", "dismiss"])
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    whole_group = serializers.BooleanField(required=False, default=False)


class EscalateSerializer(serializers.Serializer):
    title = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    kind = serializers.CharField(required=False, default="other")
    case = serializers.IntegerField(required=False, allow_null=True, default=None)


class FollowUpActionSerializer(serializers.ModelSerializer):
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = FollowUpAction
        fields = ["id", "case", "agency", "recommendation", "owner", "due_date", "status", "overdue", "evidence_note",
                  "completed_at", "verified_at", "waived_reason", "escalated_at"]

    def get_overdue(self, obj) -> bool:
        return obj.is_overdue()


class CaseSerializer(serializers.ModelSerializer):
    actions = FollowUpActionSerializer(many=True, read_only=True)

    class Meta:
        model = ForensicCase
        fields = ["id", "agency", "title", "kind", "vendor", "scope", "findings", "root_cause", "aware_at", "status",
                  "created_at", "actions"]


class ProgressSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["in_progress", "done"])
    evidence_note = serializers.CharField(required=False, allow_blank=True, default="")


class VerifySerializer(serializers.Serializer):
    accept = serializers.BooleanField()
    note = serializers.CharField(required=False, allow_blank=True, default="")
