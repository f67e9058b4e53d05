"""Serializers of the security API."""

from rest_framework import serializers

from citygov.security.models import CoreSystem, Device, Finding, InstalledSoftware, SecurityTest, SystemComponent


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


class SystemComponentSerializer(serializers.ModelSerializer):
    """A system component with its CPE and known CVEs."""

    class Meta:
        model = SystemComponent
        fields = ["id", "display_name", "display_version", "publisher", "status", "cpe", "vendor", "product",
                  "version", "confidence", "reason", "cve_count", "worst_severity", "cve_ids", "critical_cve_ids"]


class CoreSystemSerializer(serializers.ModelSerializer):
    """An information system with its warranties, backup, computed flags and components."""

    components = SystemComponentSerializer(many=True, read_only=True)
    offsite_backup = serializers.SerializerMethodField()
    tested_backup = serializers.SerializerMethodField()
    warranty_alert = serializers.SerializerMethodField()

    class Meta:
        model = CoreSystem
        fields = ["id", "agency", "name", "is_core", "description", "vendor", "budgets", "status",
                  "software_warranty_end", "hardware_warranty_end", "last_patch", "backup_method",
                  "backup_location", "backup_frequency", "last_backup", "last_restore_drill", "drill_result",
                  "rpo_target_hours", "rto_target_hours", "rpo_achieved_hours", "rto_achieved_hours",
                  "offsite_backup", "tested_backup", "warranty_alert", "components"]

    def _row(self, obj):
        return self.context.get("rows", {}).get(obj.pk)

    def get_offsite_backup(self, obj) -> bool:
        row = self._row(obj)
        return bool(row and row.offsite)

    def get_tested_backup(self, obj) -> bool:
        row = self._row(obj)
        return bool(row and row.tested)

    def get_warranty_alert(self, obj) -> str | None:
        row = self._row(obj)
        return row.warranty.reason if row and row.warranty else None


class FindingSerializer(serializers.ModelSerializer):
    """A test finding with its due date; ``overdue`` when past due and not remediated."""

    overdue = serializers.SerializerMethodField()

    class Meta:
        model = Finding
        fields = ["id", "agency", "test", "title", "severity", "due_date", "remediated_on", "note", "overdue"]

    def get_overdue(self, obj) -> bool:
        import datetime as dt

        return obj.remediated_on is None and obj.due_date < dt.date.today()


class SecurityTestSerializer(serializers.ModelSerializer):
    """A penetration test or red/blue exercise with its findings."""

    findings = FindingSerializer(many=True, read_only=True)

    class Meta:
        model = SecurityTest
        fields = ["id", "agency", "system", "kind", "title", "conducted_by", "performed_on", "findings"]


class BackupCoverageSerializer(serializers.Serializer):
    """The headline: active core systems with tested off-site backup (X of Y)."""

    tested = serializers.IntegerField()
    offsite = serializers.IntegerField()
    total = serializers.IntegerField()


class DrillInputSerializer(serializers.Serializer):
    """A restore drill of a system's off-site backup."""

    performed_on = serializers.DateField()
    result = serializers.ChoiceField(choices=["passed", "partial", "failed"])
    rpo_achieved_hours = serializers.FloatField(required=False, allow_null=True, min_value=0)
    rto_achieved_hours = serializers.FloatField(required=False, allow_null=True, min_value=0)


class PatchInputSerializer(serializers.Serializer):
    """The date a system was patched."""

    patched_on = serializers.DateField()


class SecurityTestInputSerializer(serializers.Serializer):
    """A penetration test or red/blue exercise to record."""

    agency = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=["pentest", "red_blue"])
    title = serializers.CharField(max_length=200)
    performed_on = serializers.DateField()
    conducted_by = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    system = serializers.IntegerField(required=False, allow_null=True, default=None)


class FindingInputSerializer(serializers.Serializer):
    """A finding of a test, with its due date."""

    title = serializers.CharField(max_length=300)
    severity = serializers.ChoiceField(choices=["low", "medium", "high", "critical"])
    due_date = serializers.DateField()


class RemediationInputSerializer(serializers.Serializer):
    """Closing a finding."""

    remediated_on = serializers.DateField()
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class CoreSystemInputSerializer(serializers.Serializer):
    """An information system to create or edit, with its off-site backup record (PATCH: any subset)."""

    agency = serializers.IntegerField(required=False, allow_null=True, default=None,
                                      help_text="the owner agency: required on create; a system never moves")
    name = serializers.CharField(max_length=200)
    is_core = serializers.BooleanField(default=True)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    vendor = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    budgets = serializers.DictField(child=serializers.IntegerField(min_value=0), required=False, default=dict,
                                    help_text='NT$ per year, e.g. {"2024": 800000}')
    software_warranty_end = serializers.DateField(required=False, allow_null=True, default=None)
    hardware_warranty_end = serializers.DateField(required=False, allow_null=True, default=None)
    last_patch = serializers.DateField(required=False, allow_null=True, default=None)
    status = serializers.ChoiceField(choices=["active", "retired"], default="active")
    backup_method = serializers.ChoiceField(choices=["none", "city_site", "cloud", "idc"], default="none")
    backup_location = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    backup_frequency = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    last_backup = serializers.DateField(required=False, allow_null=True, default=None)
    last_restore_drill = serializers.DateField(required=False, allow_null=True, default=None)
    drill_result = serializers.ChoiceField(choices=["", "passed", "partial", "failed"], allow_blank=True, default="")
    rpo_target_hours = serializers.FloatField(required=False, allow_null=True, min_value=0, default=None)
    rto_target_hours = serializers.FloatField(required=False, allow_null=True, min_value=0, default=None)
    rpo_achieved_hours = serializers.FloatField(required=False, allow_null=True, min_value=0, default=None)
    rto_achieved_hours = serializers.FloatField(required=False, allow_null=True, min_value=0, default=None)


class ComponentSerializer(SystemComponentSerializer):
    """A component with the system and agency it belongs to."""

    class Meta(SystemComponentSerializer.Meta):
        fields = ["id", "agency", "system", *SystemComponentSerializer.Meta.fields[1:]]


class ComponentInputSerializer(serializers.Serializer):
    """A software component of a system (identified to a CPE and matched to CVEs when saved)."""

    system = serializers.IntegerField(required=False, allow_null=True, default=None,
                                      help_text="the system: required on create; a component never moves")
    display_name = serializers.CharField(max_length=300)
    display_version = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    publisher = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    arch = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")


class ImportInputSerializer(serializers.Serializer):
    """A file to import for one agency (devices may name their owner agency per row instead)."""

    file = serializers.FileField()
    agency = serializers.IntegerField(required=False, allow_null=True, default=None)
    hostname = serializers.CharField(max_length=120, required=False, allow_blank=True, default="",
                                     help_text="inventory only: the device of rows that name none (osqueryi output)")


class ImportProblemSerializer(serializers.Serializer):
    """A rejected row."""

    line = serializers.IntegerField()
    message = serializers.CharField()


class ImportReportSerializer(serializers.Serializer):
    """What an import did."""

    rows = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    devices_created = serializers.IntegerField()
    problems = ImportProblemSerializer(many=True)
