"""Roll-up tables of the alert analytics, maintained by the importer as alerts are stored, so the
analytics page reads thousands of rows instead of every alert.

* :class:`AlertDaily` — alerts per Asia/Taipei day × agency × category × severity × signature.
* :class:`AlertGroupTotal` — alerts per recurrence group (signature, source, destination) × agency ×
  category × severity, with the first and last time seen. The agency follows from the addresses
  and the category and severity from the signature, so a row is a recurrence group (one group is
  split only if its alerts' category or severity differ — a source that varies the severity of one
  signature).
* :class:`AlertEndpointTotal` — alerts per source and per destination address × agency × category ×
  severity.

Alerts are never deleted and their agency, category, severity, signature and addresses never change
after import, so adding each batch's new alerts keeps both tables exact. ``agency_pk`` is the
agency's id, 0 for "no agency" (a plain integer so that the unique key never holds a NULL). Each row
is found by ``key``, a SHA-1 of its grouping values.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class AlertDaily(models.Model):
    """The number of alerts of one day, agency, category, severity and signature."""

    key = models.CharField(_("key"), max_length=40, unique=True)
    day = models.DateField(_("day"), db_index=True)
    agency_pk = models.PositiveIntegerField(_("agency"), default=0, db_index=True)
    category = models.CharField(_("category"), max_length=40)
    severity = models.CharField(_("severity"), max_length=10)
    signature_id = models.CharField(_("signature id"), max_length=60, blank=True)
    signature = models.CharField(_("signature"), max_length=500)
    family = models.CharField(_("signature family"), max_length=120, blank=True)
    count = models.PositiveBigIntegerField(_("alerts"), default=0)

    class Meta:
        verbose_name = _("daily alert roll-up")
        verbose_name_plural = _("daily alert roll-ups")

    def __str__(self) -> str:
        return f"{self.day} {self.signature} ({self.count})"


class AlertGroupTotal(models.Model):
    """The alerts of one recurrence group (per agency, category and severity) and when it was first
    and last seen."""

    key = models.CharField(_("key"), max_length=40, unique=True)
    agency_pk = models.PositiveIntegerField(_("agency"), default=0, db_index=True)
    category = models.CharField(_("category"), max_length=40)
    severity = models.CharField(_("severity"), max_length=10)
    signature_id = models.CharField(_("signature id"), max_length=60, blank=True)
    signature = models.CharField(_("signature"), max_length=500)
    src_ip = models.CharField(_("source IP"), max_length=45, blank=True)
    dest_ip = models.CharField(_("destination IP"), max_length=45, blank=True)
    count = models.PositiveBigIntegerField(_("alerts"), default=0)
    first_seen = models.DateTimeField(_("first seen"))
    last_seen = models.DateTimeField(_("last seen"))

    class Meta:
        verbose_name = _("recurrence-group roll-up")
        verbose_name_plural = _("recurrence-group roll-ups")
        indexes = [models.Index(fields=["-count"], name="soc_group_top", condition=models.Q(count__gte=2))]

    def __str__(self) -> str:
        return f"{self.signature} {self.src_ip} → {self.dest_ip} ({self.count})"


class AlertEndpointTotal(models.Model):
    """The alerts from (``role`` "src") or to ("dest") one address, per agency, category and
    severity: the top sources and destinations without grouping the group roll-up."""

    key = models.CharField(_("key"), max_length=40, unique=True)
    agency_pk = models.PositiveIntegerField(_("agency"), default=0)
    category = models.CharField(_("category"), max_length=40)
    severity = models.CharField(_("severity"), max_length=10)
    role = models.CharField(_("role"), max_length=4)
    ip = models.CharField(_("IP address"), max_length=45)
    count = models.PositiveBigIntegerField(_("alerts"), default=0)

    class Meta:
        verbose_name = _("address roll-up")
        verbose_name_plural = _("address roll-ups")
        indexes = [models.Index(fields=["role", "-count"], name="soc_endpoint_top")]

    def __str__(self) -> str:
        return f"{self.role} {self.ip} ({self.count})"
