"""Alerts, alert imports, the agency CIDR table and the editable classification rules."""

from __future__ import annotations

import re

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from citygov.core.scoping import AgencyScopedQuerySet
from citygov.soc.engine.taxonomy import CATEGORIES, MATCH_KINDS, SEVERITIES

CATEGORY_CHOICES = [(code, zh) for code, (zh, _en) in CATEGORIES.items()]
SEVERITY_CHOICES = [(code, zh) for code, (zh, _en) in SEVERITIES.items()]


class SocQuerySet(AgencyScopedQuerySet):
    """Agency-scoped, except that the bureau's SOC analysts (``soc.triage``) monitor every agency,
    including alerts from address ranges no agency owns yet."""

    def for_agency(self, user) -> SocQuerySet:
        from citygov.core.roles import Capability

        if user is not None and user.is_authenticated and user.is_active and user.has_capability(
                Capability.SOC_TRIAGE):
            return self
        return super().for_agency(user)


class AgencyNetwork(models.Model):
    """An address range (CIDR) an agency owns: alerts to or from it belong to that agency."""

    agency = models.ForeignKey("agencies.Agency", verbose_name=_("agency"), on_delete=models.PROTECT,
                               related_name="soc_networks")
    cidr = models.CharField(_("network (CIDR)"), max_length=50, unique=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    objects = SocQuerySet.as_manager()

    class Meta:
        verbose_name = _("agency network")
        verbose_name_plural = _("agency networks")
        ordering = ["cidr"]

    def __str__(self) -> str:
        return self.cidr

    def clean(self) -> None:
        """The admin form's check: a valid network, stored in its normal form."""
        import ipaddress

        from django.core.exceptions import ValidationError

        try:
            self.cidr = str(ipaddress.ip_network(self.cidr.strip(), strict=False))
        except ValueError:
            raise ValidationError({"cidr": _("Not a network (CIDR).")}) from None


class ClassificationRule(models.Model):
    """One row of the ordered classification table (the engine's default table applies while this
    table is empty)."""

    position = models.PositiveIntegerField(_("position"), db_index=True)
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("match on"), max_length=20, choices=[(k, k) for k in MATCH_KINDS])
    pattern = models.CharField(_("pattern"), max_length=300)
    category = models.CharField(_("category"), max_length=40, choices=CATEGORY_CHOICES)
    source = models.CharField(_("only for source"), max_length=20, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("classification rule")
        verbose_name_plural = _("classification rules")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """The admin form's check: the rule must compile into the engine's rule (kind, pattern)."""
        from django.core.exceptions import ValidationError

        from citygov.soc.engine.taxonomy import Rule

        try:
            Rule(self.name, self.kind, self.pattern, self.category, self.source)
        except (ValueError, re.error) as exc:
            raise ValidationError({"pattern": str(exc)}) from None


class AlertImport(models.Model):
    """One import of an alert file (or a listener session): what was read, created and rejected."""

    file_name = models.CharField(_("file"), max_length=300)
    requested_format = models.CharField(_("format"), max_length=20, default="auto")
    detected = models.CharField(_("detected"), max_length=20, blank=True)
    encoding = models.CharField(_("encoding"), max_length=20, blank=True)
    records = models.PositiveIntegerField(_("records"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    duplicates = models.PositiveIntegerField(_("already imported"), default=0)
    skipped = models.PositiveIntegerField(_("not alerts"), default=0)
    rejected = models.PositiveIntegerField(_("rejected"), default=0)
    rejected_lines = models.JSONField(_("rejected lines"), default=list, blank=True)
    unknown_networks = models.JSONField(_("addresses of no agency"), default=list, blank=True)
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("imported by"), null=True,
                                    blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("imported at"), default=timezone.now)

    class Meta:
        verbose_name = _("alert import")
        verbose_name_plural = _("alert imports")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.file_name


class AlertStatus(models.TextChoices):
    """Triage: new → acknowledged | dismissed (false positive) | escalated (to a case)."""

    NEW = "new", _("New")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    DISMISSED = "dismissed", _("Dismissed (false positive)")
    ESCALATED = "escalated", _("Escalated")


class Alert(models.Model):
    """One normalised alert; source values kept verbatim beside our category and severity."""

    # Few indexes on purpose: every index costs ingestion time (a speed target), and the analytics
    # read the roll-ups, not this table. (agency, time) covers the agency; the dedup key's unique
    # constraint is a plain one (no PostgreSQL LIKE twin index).
    agency = models.ForeignKey("agencies.Agency", verbose_name=_("agency"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="soc_alerts", db_index=False)
    dedup_key = models.CharField(_("dedup key"), max_length=40)
    source_format = models.CharField(_("source format"), max_length=20)
    time = models.DateTimeField(_("time"), db_index=True)
    src_ip = models.CharField(_("source IP"), max_length=45, blank=True)
    src_port = models.PositiveIntegerField(_("source port"), null=True, blank=True)
    dest_ip = models.CharField(_("destination IP"), max_length=45, blank=True)
    dest_port = models.PositiveIntegerField(_("destination port"), null=True, blank=True)
    protocol = models.CharField(_("protocol"), max_length=20, blank=True)
    signature_id = models.CharField(_("signature id"), max_length=60, blank=True)
    signature = models.CharField(_("signature"), max_length=500)
    family = models.CharField(_("signature family"), max_length=120, blank=True)
    source_category = models.CharField(_("source category"), max_length=300, blank=True)
    source_severity = models.CharField(_("source severity"), max_length=40, blank=True)
    category = models.CharField(_("category"), max_length=40, choices=CATEGORY_CHOICES)
    severity = models.CharField(_("severity"), max_length=10, choices=SEVERITY_CHOICES)
    rule = models.CharField(_("classified by"), max_length=160, blank=True)
    sensor = models.CharField(_("sensor"), max_length=200, blank=True)
    action = models.CharField(_("action taken"), max_length=40, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=AlertStatus.choices, default=AlertStatus.NEW)
    status_reason = models.CharField(_("reason"), max_length=500, blank=True)
    case = models.ForeignKey("soc.ForensicCase", verbose_name=_("case"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="alerts")
    imported = models.ForeignKey(AlertImport, verbose_name=_("import"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="alerts")

    objects = SocQuerySet.as_manager()

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-time", "-id"]
        indexes = [
            models.Index(fields=["signature_id", "src_ip", "dest_ip"], name="soc_alert_recurrence"),
            models.Index(fields=["agency", "time"], name="soc_alert_agency_time"),
        ]
        constraints = [models.UniqueConstraint(fields=["dedup_key"], name="soc_alert_dedup_key_unique")]

    def __str__(self) -> str:
        return self.signature
