"""Serializers of the security API."""

from rest_framework import serializers

from citygov.security.models import Device, InstalledSoftware


class DeviceSerializer(serializers.ModelSerializer):
    """A device with its VANS/EDR enrolment."""

    class Meta:
        model = Device
        fields = ["id", "agency", "hostname", "device_type", "os", "vans_enrolled", "edr_installed", "last_seen"]


class InstalledSoftwareSerializer(serializers.ModelSerializer):
    """An installed program with its identification and known CVEs."""

    class Meta:
        model = InstalledSoftware
        fields = ["id", "agency", "device", "display_name", "display_version", "publisher", "status", "cpe", "vendor",
                  "product", "version", "confidence", "rule", "reason", "cve_count", "worst_severity", "cve_ids"]


class AgencyPostureSerializer(serializers.Serializer):
    """One agency's posture figures."""

    agency_id = serializers.IntegerField()
    name = serializers.CharField()
    security_level = serializers.CharField()
    devices = serializers.IntegerField()
    vans = serializers.IntegerField()
    edr = serializers.IntegerField()
    identified = serializers.IntegerField()
    product_only = serializers.IntegerField()
    unidentified = serializers.IntegerField()
    identification_rate = serializers.FloatField(allow_null=True)
    critical_devices = serializers.IntegerField()
    high_devices = serializers.IntegerField()
