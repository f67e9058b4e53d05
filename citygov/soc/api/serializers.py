"""Serializers of the SOC API."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from citygov.soc.engine.formats import FORMATS
from citygov.soc.models import Alert, AlertImport, FollowUpAction, ForensicCase, Incident


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


class ClockSerializer(serializers.Serializer):
    """One legal clock of an incident."""

    key = serializers.CharField()
    start = serializers.DateTimeField()
    due = serializers.DateTimeField()
    done_at = serializers.DateTimeField(allow_null=True)
    state = serializers.ChoiceField(choices=["done", "done_late", "on_time", "due_soon", "overdue"])


class IncidentSerializer(serializers.ModelSerializer):
    clocks = serializers.SerializerMethodField()
    state = serializers.SerializerMethodField()
    policy_name = serializers.CharField(source="policy.name", default="", read_only=True)
    alerts = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Incident
        fields = ["id", "agency", "title", "kind", "level", "description", "aware_at", "policy", "policy_name",
                  "notified_at", "reviewed_at", "recovered_at", "reported_at", "case", "alerts", "state", "clocks",
                  "created_at"]

    @extend_schema_field(ClockSerializer(many=True))
    def get_clocks(self, obj) -> list:
        return ClockSerializer(obj.clocks(), many=True).data

    def get_state(self, obj) -> str:
        return "closed" if obj.is_closed else obj.clock_state()


class IncidentCreateSerializer(serializers.Serializer):
    agency = serializers.IntegerField()
    title = serializers.CharField(max_length=200)
    kind = serializers.CharField(required=False, default="other")
    level = serializers.IntegerField()
    aware_at = serializers.DateTimeField()
    description = serializers.CharField(required=False, allow_blank=True, default="")


class MilestoneSerializer(serializers.Serializer):
    milestone = serializers.ChoiceField(choices=["notify", "review", "recover", "report"])
    at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class LevelSerializer(serializers.Serializer):
    level = serializers.IntegerField()
    reason = serializers.CharField(max_length=500)


class LinkSerializer(serializers.Serializer):
    alerts = serializers.ListField(child=serializers.IntegerField(), required=False, default=list)
    whole_group = serializers.BooleanField(required=False, default=False)
    case = serializers.IntegerField(required=False, allow_null=True, default=None)
    new_case = serializers.BooleanField(required=False, default=False)
