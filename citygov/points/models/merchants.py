"""Contracted merchants and their payment terminals."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class MerchantStatus(models.TextChoices):
    """Lifecycle: applied → approved/active ↔ suspended → closed | not_renewed."""

    APPLIED = "applied", _("Applied")
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    CLOSED = "closed", _("Closed")
    NOT_RENEWED = "not_renewed", _("Not renewed")


class Merchant(models.Model):
    """A shop contracted to accept points. Only active merchants with points payment enabled redeem."""

    tax_id = models.CharField(_("business ID (統一編號)"), max_length=8, unique=True)
    name = models.CharField(_("name"), max_length=200)
    category = models.CharField(_("category"), max_length=60, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    district = models.ForeignKey("agencies.District", verbose_name=_("district"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    lon = models.FloatField(_("longitude"), null=True, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    bank_code = models.CharField(_("bank code"), max_length=7, blank=True)
    bank_account = models.CharField(_("bank account"), max_length=20, blank=True)
    contract_start = models.DateField(_("contract start"), null=True, blank=True)
    contract_end = models.DateField(_("contract end"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=MerchantStatus.choices,
                              default=MerchantStatus.APPLIED, db_index=True)
    points_enabled = models.BooleanField(_("points payment enabled"), default=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")
        ordering = ["tax_id"]

    def __str__(self) -> str:
        return self.name

    @property
    def can_redeem(self) -> bool:
        """R9: only active merchants with points payment enabled may hold or redeem."""
        return self.status == MerchantStatus.ACTIVE and self.points_enabled


class Terminal(models.Model):
    """A merchant's payment terminal with its own credential (HMAC secret)."""

    merchant = models.ForeignKey(Merchant, verbose_name=_("merchant"), on_delete=models.PROTECT,
                                 related_name="terminals")
    terminal_id = models.CharField(_("terminal id"), max_length=40, unique=True)
    secret = models.CharField(_("signing secret"), max_length=128)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("terminal")
        verbose_name_plural = _("terminals")

    def __str__(self) -> str:
        return self.terminal_id
