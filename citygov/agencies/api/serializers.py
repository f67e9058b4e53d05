"""Serializers of the agencies API."""

from __future__ import annotations

from rest_framework import serializers

from citygov.agencies.models import Agency, AgencyKind, District, SecurityLevel


class DistrictSerializer(serializers.ModelSerializer):
    """A district without its boundary (lists stay small)."""

    class Meta:
        model = District
        fields = ["id", "code", "town_id", "name_zh", "name_en", "centroid_lon", "centroid_lat", "area_km2"]
        read_only_fields = fields


class DistrictDetailSerializer(DistrictSerializer):
    """A district with its GeoJSON boundary."""

    class Meta(DistrictSerializer.Meta):
        fields = [*DistrictSerializer.Meta.fields, "boundary"]
        read_only_fields = fields


class AgencySerializer(serializers.ModelSerializer):
    """An agency; ``parent`` and ``district`` are ids."""

    district_name = serializers.CharField(source="district.name_zh", read_only=True, default=None)

    class Meta:
        model = Agency
        fields = ["id", "code", "name_zh", "name_en", "parent", "kind", "district", "district_name",
                  "security_level", "note", "is_active"]
        read_only_fields = ["id", "district_name"]


class AgencyWriteSerializer(serializers.Serializer):
    """Input for creating or changing an agency (validated again by the service)."""

    code = serializers.SlugField(max_length=60)
    name_zh = serializers.CharField(max_length=100)
    name_en = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    parent = serializers.PrimaryKeyRelatedField(queryset=Agency.objects.all(), required=False, allow_null=True,
                                                default=None)
    kind = serializers.ChoiceField(choices=AgencyKind.choices)
    district = serializers.PrimaryKeyRelatedField(queryset=District.objects.all(), required=False,
                                                  allow_null=True, default=None)
    security_level = serializers.ChoiceField(choices=SecurityLevel.choices, required=False, allow_blank=True,
                                             default="")
    note = serializers.CharField(required=False, allow_blank=True, default="")
    is_active = serializers.BooleanField(required=False, default=True)
