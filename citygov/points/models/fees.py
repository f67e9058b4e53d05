"""Contract fees owed by the points operator: royalty (權利金) and feedback fee (回饋金).

Fees are receivables from the operator; they never move trust money and never touch the ledger.
Monthly operating income is append-only: a restatement is a new entry, and the latest entry of a
month is its figure. Bills are append-only too: a restatement bills (or credits) the difference.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class FeeContract(models.Model):
    """The fee terms of one contract year."""

    year = models.PositiveSmallIntegerField(_("year"), unique=True)
    royalty = models.BigIntegerField(_("royalty (NT$ per year)"))
    feedback_rate = models.DecimalField(_("feedback fee rate"), max_digits=6, decimal_places=4)
    threshold = models.BigIntegerField(_("income threshold (NT$)"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("fee contract")
        verbose_name_plural = _("fee contracts")
        ordering = ["-year"]
        constraints = [
            models.CheckConstraint(condition=Q(royalty__gte=0) & Q(threshold__gte=0) & Q(feedback_rate__gte=0)
                                   & Q(feedback_rate__lte=1), name="points_fee_contract_bounds"),
        ]

    def __str__(self) -> str:
        return str(self.year)


class OperatingIncome(models.Model):
    """One entry of the operator's operating income for a month; the latest entry of a month counts."""

    year = models.PositiveSmallIntegerField(_("year"))
    month = models.PositiveSmallIntegerField(_("month"))
    income = models.BigIntegerField(_("operating income (NT$)"))
    note = models.CharField(_("note"), max_length=300, blank=True)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("entered by"), null=True,
                                   on_delete=models.PROTECT, related_name="+")
    entered_at = models.DateTimeField(_("entered"), default=timezone.now)

    class Meta:
        verbose_name = _("operating income")
        verbose_name_plural = _("operating income")
        ordering = ["year", "month", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(month__gte=1) & Q(month__lte=12) & Q(income__gte=0),
                                   name="points_income_bounds"),
        ]

    def __str__(self) -> str:
        return f"{self.year}-{self.month:02d} {self.income}"


class FeeBillKind(models.TextChoices):
    ROYALTY = "royalty", _("Royalty")
    FEEDBACK = "feedback", _("Feedback fee")
    ADJUSTMENT = "adjustment", _("Feedback fee adjustment (restatement)")


class FeeBill(models.Model):
    """An amount billed to the operator (a credit when negative). Append-only."""

    year = models.PositiveSmallIntegerField(_("year"))
    month = models.PositiveSmallIntegerField(_("month"), null=True, blank=True)
    kind = models.CharField(_("kind"), max_length=12, choices=FeeBillKind.choices)
    amount = models.BigIntegerField(_("amount (NT$)"))
    cumulative_income = models.BigIntegerField(_("cumulative income used"), default=0)
    explanation = models.TextField(_("calculation"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True,
                                   on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("fee bill")
        verbose_name_plural = _("fee bills")
        ordering = ["year", "month", "id"]
        constraints = [
            models.UniqueConstraint(fields=["year"], condition=Q(kind="royalty"), name="points_royalty_once_a_year"),
        ]

    def __str__(self) -> str:
        return f"{self.year}-{self.month or 0:02d} {self.kind} {self.amount}"
