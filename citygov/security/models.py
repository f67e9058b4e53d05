"""Security posture: agencies' devices and the software installed on them, with identification results."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from citygov.core.scoping import AgencyScopedQuerySet


class DeviceType(models.TextChoices):
    """What kind of asset a device is."""

    PC = "pc", _("PC")
    LAPTOP = "laptop", _("Laptop")
    SERVER = "server", _("Server")
    OTHER = "other", _("Other device")


class IdentificationStatus(models.TextChoices):
    """How far a software row was identified (the audit's 'not identified' share is the last one)."""

    IDENTIFIED = "identified", _("Identified")
    PRODUCT_ONLY = "product_only", _("Product only")
    UNIDENTIFIED = "unidentified", _("Not identified")


class Severity(models.TextChoices):
    """CVSS qualitative rating of the worst known CVE."""

    NONE = "", _("None known")
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")
    UNKNOWN = "unknown", _("Unknown score")


class Device(models.Model):
    """An IT asset of an agency (PC, laptop, server), with its VANS and EDR enrolment."""

    agency = models.ForeignKey("agencies.Agency", verbose_name=_("agency"), on_delete=models.PROTECT,
                               related_name="security_devices")
    hostname = models.CharField(_("host name"), max_length=120)
    device_type = models.CharField(_("device type"), max_length=10, choices=DeviceType.choices,
                                   default=DeviceType.PC)
    os = models.CharField(_("operating system"), max_length=120, blank=True)
    vans_enrolled = models.BooleanField(_("enrolled in VANS"), default=False)
    edr_installed = models.BooleanField(_("EDR installed"), default=False)
    last_seen = models.DateField(_("last seen"), null=True, blank=True)

    objects = AgencyScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        ordering = ["agency_id", "hostname"]
        constraints = [models.UniqueConstraint(fields=["agency", "hostname"], name="security_device_unique_host")]

    def __str__(self) -> str:
        return self.hostname


class IdentifiedSoftware(models.Model):
    """A software name as an inventory lists it, with its CPE identification and known CVEs: the
    fields shared by installed software and core-system components (both filled by the same
    identification, ``services._identify_and_match``)."""

    display_name = models.CharField(_("display name"), max_length=300)
    display_version = models.CharField(_("display version"), max_length=100, blank=True)
    publisher = models.CharField(_("publisher"), max_length=200, blank=True)
    status = models.CharField(_("identification"), max_length=12, choices=IdentificationStatus.choices)
    cpe = models.CharField(_("CPE"), max_length=300, blank=True)
    vendor = models.CharField(_("vendor"), max_length=120, blank=True)
    product = models.CharField(_("product"), max_length=160, blank=True)
    version = models.CharField(_("version"), max_length=100, blank=True)
    confidence = models.FloatField(_("confidence"), default=0.0)
    rule = models.CharField(_("deciding rule"), max_length=40, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    cve_count = models.PositiveIntegerField(_("known CVEs"), default=0)
    worst_severity = models.CharField(_("worst severity"), max_length=10, choices=Severity.choices, blank=True)
    cve_ids = models.JSONField(_("CVE identifiers"), default=list, blank=True)

    class Meta:
        abstract = True


class InstalledSoftware(IdentifiedSoftware):
    """One program or package installed on a device, with its CPE identification and known CVEs."""

    agency = models.ForeignKey("agencies.Agency", verbose_name=_("agency"), on_delete=models.PROTECT,
                               related_name="security_software")
    device = models.ForeignKey(Device, verbose_name=_("device"), on_delete=models.CASCADE, related_name="software")

    objects = AgencyScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("installed software")
        verbose_name_plural = _("installed software")
        ordering = ["device_id", "display_name"]
        constraints = [models.UniqueConstraint(fields=["device", "display_name", "display_version"],
                                               name="security_software_unique_row")]
        indexes = [models.Index(fields=["agency", "status"])]

    def __str__(self) -> str:
        return f"{self.display_name} {self.display_version}".strip()


class ManualMapping(models.Model):
    """An analyst's mapping of a normalised software name to an NVD vendor:product, applied city-wide."""

    normalized_name = models.CharField(_("normalised name"), max_length=300, unique=True)
    vendor = models.CharField(_("vendor"), max_length=120)
    product = models.CharField(_("product"), max_length=160)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("manual CPE mapping")
        verbose_name_plural = _("manual CPE mappings")
        ordering = ["normalized_name"]

    def __str__(self) -> str:
        return f"{self.normalized_name} → {self.vendor}:{self.product}"


class SystemStatus(models.TextChoices):
    """Whether a core information system is in service."""

    ACTIVE = "active", _("Active")
    RETIRED = "retired", _("Retired")


class BackupMethod(models.TextChoices):
    """Where a system's backup copy is kept (anything but "none" is off-site)."""

    NONE = "none", _("No off-site backup")
    CITY_SITE = "city_site", _("Another site of the city")
    CLOUD = "cloud", _("Cloud")
    IDC = "idc", _("Data centre (IDC)")


class DrillResult(models.TextChoices):
    """Outcome of the last restore drill."""

    NONE = "", _("Not drilled")
    PASSED = "passed", _("Passed")
    PARTIAL = "partial", _("Partly restored")
    FAILED = "failed", _("Failed")


class CoreSystem(models.Model):
    """An agency's information system: warranties, patching, budget lines and its off-site backup."""

    agency = models.ForeignKey("agencies.Agency", verbose_name=_("agency"), on_delete=models.PROTECT,
                               related_name="security_systems")
    name = models.CharField(_("system name"), max_length=200)
    is_core = models.BooleanField(_("core system"), default=True)
    description = models.TextField(_("description"), blank=True)
    vendor = models.CharField(_("vendor"), max_length=200, blank=True)
    budgets = models.JSONField(_("budget lines (NT$ per year)"), default=dict, blank=True)
    software_warranty_end = models.DateField(_("software warranty end"), null=True, blank=True)
    hardware_warranty_end = models.DateField(_("hardware warranty end"), null=True, blank=True)
    last_patch = models.DateField(_("last patch"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=SystemStatus.choices, default=SystemStatus.ACTIVE)
    backup_method = models.CharField(_("off-site backup"), max_length=10, choices=BackupMethod.choices,
                                     default=BackupMethod.NONE)
    backup_location = models.CharField(_("backup location"), max_length=200, blank=True)
    backup_frequency = models.CharField(_("backup frequency"), max_length=60, blank=True)
    last_backup = models.DateField(_("last backup"), null=True, blank=True)
    last_restore_drill = models.DateField(_("last restore drill"), null=True, blank=True)
    drill_result = models.CharField(_("drill result"), max_length=10, choices=DrillResult.choices, blank=True)
    rpo_target_hours = models.FloatField(_("RPO target (hours)"), null=True, blank=True)
    rto_target_hours = models.FloatField(_("RTO target (hours)"), null=True, blank=True)
    rpo_achieved_hours = models.FloatField(_("RPO achieved in the drill (hours)"), null=True, blank=True)
    rto_achieved_hours = models.FloatField(_("RTO achieved in the drill (hours)"), null=True, blank=True)

    objects = AgencyScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("information system")
        verbose_name_plural = _("information systems")
        ordering = ["agency_id", "name"]
        constraints = [models.UniqueConstraint(fields=["agency", "name"], name="security_system_unique_name")]

    def __str__(self) -> str:
        return self.name


class SystemComponent(IdentifiedSoftware):
    """A software component of a system, identified to a CPE with its known CVEs (like an inventory row)."""

    agency = models.ForeignKey("agencies.Agency", verbose_name=_("agency"), on_delete=models.PROTECT,
                               related_name="security_components")
    system = models.ForeignKey(CoreSystem, verbose_name=_("system"), on_delete=models.CASCADE,
                               related_name="components")
    critical_cve_ids = models.JSONField(_("critical CVE identifiers"), default=list, blank=True)

    objects = AgencyScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("system component")
        verbose_name_plural = _("system components")
        ordering = ["system_id", "display_name"]
        constraints = [models.UniqueConstraint(fields=["system", "display_name", "display_version"],
                                               name="security_component_unique_row")]

    def __str__(self) -> str:
        return f"{self.display_name} {self.display_version}".strip()


class SecurityTestKind(models.TextChoices):
    """A penetration test or a red team / blue team exercise."""

    PENTEST = "pentest", _("Penetration test")
    RED_BLUE = "red_blue", _("Red/blue team exercise")


class SecurityTest(models.Model):
    """A penetration test or red/blue exercise of an agency (optionally of one system), with findings."""

    agency = models.ForeignKey("agencies.Agency", verbose_name=_("agency"), on_delete=models.PROTECT,
                               related_name="security_tests")
    system = models.ForeignKey(CoreSystem, verbose_name=_("system"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="tests")
    kind = models.CharField(_("kind"), max_length=10, choices=SecurityTestKind.choices)
    title = models.CharField(_("title"), max_length=200)
    conducted_by = models.CharField(_("conducted by"), max_length=200, blank=True)
    performed_on = models.DateField(_("performed on"))

    objects = AgencyScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("security test")
        verbose_name_plural = _("security tests")
        ordering = ["-performed_on", "title"]

    def __str__(self) -> str:
        return self.title


class FindingSeverity(models.TextChoices):
    """How serious a test finding is."""

    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


class Finding(models.Model):
    """A finding of a test, to be remediated by its due date."""

    agency = models.ForeignKey("agencies.Agency", verbose_name=_("agency"), on_delete=models.PROTECT,
                               related_name="security_findings")
    test = models.ForeignKey(SecurityTest, verbose_name=_("test"), on_delete=models.CASCADE, related_name="findings")
    title = models.CharField(_("finding"), max_length=300)
    severity = models.CharField(_("severity"), max_length=10, choices=FindingSeverity.choices,
                                default=FindingSeverity.MEDIUM)
    due_date = models.DateField(_("remediate by"))
    remediated_on = models.DateField(_("remediated on"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)

    objects = AgencyScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("finding")
        verbose_name_plural = _("findings")
        ordering = ["due_date", "id"]

    def __str__(self) -> str:
        return self.title
