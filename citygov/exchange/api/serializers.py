"""Serializers of the exchange API: registry rows with their X-Road identifiers, and write requests."""

from __future__ import annotations

from rest_framework import serializers

from citygov.agencies.models import Agency
from citygov.exchange.models import AccessRight, Member, Service, Subsystem, TransferRecord


class MemberSerializer(serializers.ModelSerializer):
    """A member with its identifier, subsystem codes and gateways."""

    identifier = serializers.CharField(read_only=True)
    subsystems = serializers.SlugRelatedField(many=True, read_only=True, slug_field="code")
    gateways = serializers.SerializerMethodField()

    class Meta:
        model = Member
        fields = ["id", "identifier", "agency", "member_class", "code", "name", "subsystems", "gateways"]
        read_only_fields = fields

    def get_gateways(self, obj) -> list[dict]:
        return [{"address": g.address, "cert_sha256": g.cert_sha256, "serial": g.serial} for g in obj.gateways.all()]


class MemberCreateSerializer(serializers.Serializer):
    """A new member: the agency, its member class and code, and its name."""

    agency = serializers.PrimaryKeyRelatedField(queryset=Agency.objects.all())
    member_class = serializers.CharField(max_length=16, default="GOV")
    code = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)


class ServiceSerializer(serializers.ModelSerializer):
    """A service with its identifier and OpenAPI description."""

    identifier = serializers.CharField(read_only=True)

    class Meta:
        model = Service
        fields = ["id", "identifier", "subsystem", "code", "title", "openapi", "store_payloads"]
        read_only_fields = fields


class AccessRightSerializer(serializers.ModelSerializer):
    """Who may call which service, until when."""

    service_id = serializers.CharField(source="service.identifier", read_only=True)
    client_id = serializers.CharField(source="client.identifier", read_only=True)

    class Meta:
        model = AccessRight
        fields = ["id", "service", "service_id", "client", "client_id", "not_after", "grant_ref", "grant_dataset",
                  "created_at"]
        read_only_fields = fields


class AccessRightCreateSerializer(serializers.Serializer):
    """A new access right: service and client subsystem ids, optional end and sharing grant reference."""

    service = serializers.PrimaryKeyRelatedField(queryset=Service.objects.all())
    client = serializers.PrimaryKeyRelatedField(queryset=Subsystem.objects.all())
    not_after = serializers.DateTimeField(required=False, allow_null=True)
    grant_ref = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    grant_dataset = serializers.IntegerField(required=False, allow_null=True, min_value=1,
                                             help_text="data-governance dataset whose sharing grant is checked live")


class TransferRecordSerializer(serializers.ModelSerializer):
    """A transfer record (no payload)."""

    member_id = serializers.CharField(source="member.identifier", read_only=True)

    class Meta:
        model = TransferRecord
        fields = ["id", "member_id", "side", "seq", "time", "x_road_id", "client", "service", "request_hash",
                  "response_hash", "status", "error", "duration_ms"]
        read_only_fields = fields
