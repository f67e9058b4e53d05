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


class InstalledSoftware(models.Model):
    """One program or package installed on a device, with its CPE identification and known CVEs."""

    agency = models.ForeignKey("agencies.Agency", verbose_name=_("agency"), on_delete=models.PROTECT,
                               related_name="security_software")
    device = models.ForeignKey(Device, verbose_name=_("device"), on_delete=models.CASCADE, related_name="software")
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
