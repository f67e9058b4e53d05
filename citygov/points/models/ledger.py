"""The double-entry points ledger: accounts, append-only transfers, and the records that move points.

1 point = NT$1, integers only. Every movement is a :class:`Transfer` of ``amount > 0`` from one
account (debit) to another (credit), so every transfer balances by construction; an account's
balance is credits minus debits and is kept on the account row. Balances of every account but the
mint and merchant payables can never go below zero: the database enforces it with a CHECK.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from citygov.core.scoping import AgencyScopedQuerySet


class AccountKind(models.TextChoices):
    """What an account holds, and for whom."""

    MINT = "mint", _("Mint")  # the source of every point; its balance is minus all points purchased
    AGENCY_UNFUNDED = "agency_unfunded", _("Agency: purchased, not yet funded")
    AGENCY_FUNDED = "agency_funded", _("Agency: funded, unreserved")
    CAMPAIGN = "campaign", _("Campaign budget (reserved, unissued)")
    LOT = "lot", _("Member lot")
    HOLD = "hold", _("Hold")
    MERCHANT_PAYABLE = "merchant_payable", _("Merchant payable")
    EXPIRED = "expired", _("Expired")
    SETTLED = "settled", _("Settled")
    REFUND_PENDING = "refund_pending", _("Agency refund instructed, awaiting the bank")
    REFUNDED = "refunded", _("Refunded to the agency (bank confirmed)")


# Accounts allowed below zero: the mint (by definition) and payables (a refund after settlement
# carries a negative payable forward, R6).
MAY_GO_NEGATIVE = (AccountKind.MINT, AccountKind.MERCHANT_PAYABLE)
# Accounts keyed by agency alone.
AGENCY_ACCOUNTS = (AccountKind.AGENCY_UNFUNDED, AccountKind.AGENCY_FUNDED, AccountKind.EXPIRED,
                   AccountKind.SETTLED, AccountKind.REFUND_PENDING, AccountKind.REFUNDED)


class Account(models.Model):
    """A ledger account. Its balance (credits − debits) is maintained on every transfer."""

    kind = models.CharField(_("kind"), max_length=20, choices=AccountKind.choices)
    agency = models.ForeignKey("agencies.Agency", verbose_name=_("agency"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="+")
    merchant = models.ForeignKey("points.Merchant", verbose_name=_("merchant"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    balance = models.BigIntegerField(_("balance"), default=0)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0) | Q(kind__in=MAY_GO_NEGATIVE),
                                   name="points_account_non_negative"),
            models.UniqueConstraint(fields=["kind", "agency"], condition=Q(kind__in=AGENCY_ACCOUNTS),
                                    name="points_account_one_per_agency_kind"),
            models.UniqueConstraint(fields=["kind"], condition=Q(kind=AccountKind.MINT),
                                    name="points_account_one_mint"),
            models.UniqueConstraint(fields=["merchant"], condition=Q(kind=AccountKind.MERCHANT_PAYABLE),
                                    name="points_account_one_payable_per_merchant"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}#{self.pk}"


class TransferKind(models.TextChoices):
    """Why points moved. Each kind is allowed between one pair of account kinds only."""

    PURCHASE = "purchase", _("Agency purchase")
    FUND = "fund", _("Trust deposit confirmed")
    RESERVE = "reserve", _("Campaign budget reserved")
    GRANT = "grant", _("Grant to member")
    HOLD = "hold", _("Hold")
    CAPTURE = "capture", _("Capture")
    RELEASE = "release", _("Hold released")
    RELEASE_EXPIRED = "release_expired", _("Hold released into an expired lot")
    RELEASE_TO_CAMPAIGN = "release_to_campaign", _("Hold released into a reversed lot")
    REDEEM = "redeem", _("Redemption")
    REFUND = "refund", _("Refund")
    REFUND_EXPIRED = "refund_expired", _("Refund into an expired lot")
    REFUND_TO_CAMPAIGN = "refund_to_campaign", _("Refund into a reversed lot")
    EXPIRE = "expire", _("Expiry")
    CLOSE_CAMPAIGN = "close_campaign", _("Campaign closed: unissued budget returned")
    REVERSE_GRANT = "reverse_grant", _("Grant reversed")
    REVERSAL = "reversal", _("Correction (reversing transfer)")
    SETTLE = "settle", _("Paid to the merchant (bank confirmed)")
    AGENCY_REFUND = "agency_refund", _("Refund to the agency instructed")
    AGENCY_REFUND_CANCEL = "agency_refund_cancel", _("Refund to the agency cancelled")
    AGENCY_REFUNDED = "agency_refunded", _("Refunded to the agency (bank confirmed)")


K = AccountKind
# The only account-kind pairs each transfer kind may connect (debit → credit): the no-bypass rule.
ALLOWED_PAIRS: dict[str, frozenset[tuple[str, str]]] = {
    TransferKind.PURCHASE: frozenset({(K.MINT, K.AGENCY_UNFUNDED)}),
    TransferKind.FUND: frozenset({(K.AGENCY_UNFUNDED, K.AGENCY_FUNDED)}),
    TransferKind.RESERVE: frozenset({(K.AGENCY_FUNDED, K.CAMPAIGN)}),
    TransferKind.GRANT: frozenset({(K.CAMPAIGN, K.LOT)}),
    TransferKind.HOLD: frozenset({(K.LOT, K.HOLD)}),
    TransferKind.CAPTURE: frozenset({(K.HOLD, K.MERCHANT_PAYABLE)}),
    TransferKind.RELEASE: frozenset({(K.HOLD, K.LOT)}),
    TransferKind.RELEASE_EXPIRED: frozenset({(K.HOLD, K.EXPIRED)}),
    TransferKind.RELEASE_TO_CAMPAIGN: frozenset({(K.HOLD, K.CAMPAIGN), (K.HOLD, K.AGENCY_FUNDED)}),
    TransferKind.REDEEM: frozenset({(K.LOT, K.MERCHANT_PAYABLE)}),
    TransferKind.REFUND: frozenset({(K.MERCHANT_PAYABLE, K.LOT)}),
    TransferKind.REFUND_EXPIRED: frozenset({(K.MERCHANT_PAYABLE, K.EXPIRED)}),
    TransferKind.REFUND_TO_CAMPAIGN: frozenset({(K.MERCHANT_PAYABLE, K.CAMPAIGN),
                                                (K.MERCHANT_PAYABLE, K.AGENCY_FUNDED)}),
    TransferKind.EXPIRE: frozenset({(K.LOT, K.EXPIRED)}),
    TransferKind.CLOSE_CAMPAIGN: frozenset({(K.CAMPAIGN, K.AGENCY_FUNDED)}),
    TransferKind.REVERSE_GRANT: frozenset({(K.LOT, K.CAMPAIGN), (K.LOT, K.AGENCY_FUNDED)}),
    # The only way value leaves a merchant payable towards the merchant: a usage-instruction line the
    # trust bank's statement confirmed (services/settlement.py); no API or admin path posts it.
    TransferKind.SETTLE: frozenset({(K.MERCHANT_PAYABLE, K.SETTLED)}),
    # Money for points an agency will not use (funded but unreserved, or expired in members' hands)
    # goes back to the agency on the operator's refund instruction; only the bank's confirmation on
    # the trust statement completes it (services/agency_refunds.py, services/reconciliation.py).
    TransferKind.AGENCY_REFUND: frozenset({(K.AGENCY_FUNDED, K.REFUND_PENDING), (K.EXPIRED, K.REFUND_PENDING)}),
    TransferKind.AGENCY_REFUND_CANCEL: frozenset({(K.REFUND_PENDING, K.AGENCY_FUNDED), (K.REFUND_PENDING, K.EXPIRED)}),
    TransferKind.AGENCY_REFUNDED: frozenset({(K.REFUND_PENDING, K.REFUNDED)}),
    TransferKind.REVERSAL: frozenset(),  # pairs of the reversed transfer, swapped (checked in services)
}


class TransferQuerySet(AgencyScopedQuerySet):
    pass


class Transfer(models.Model):
    """One append-only movement of points between two accounts, attributed to the agency whose
    purchased points move. Never updated or deleted; corrections are reversing transfers."""

    kind = models.CharField(_("kind"), max_length=24, choices=TransferKind.choices, db_index=True)
    amount = models.BigIntegerField(_("points"))
    debit = models.ForeignKey(Account, verbose_name=_("from account"), on_delete=models.PROTECT, related_name="+")
    credit = models.ForeignKey(Account, verbose_name=_("to account"), on_delete=models.PROTECT, related_name="+")
    agency = models.ForeignKey("agencies.Agency", verbose_name=_("agency"), on_delete=models.PROTECT,
                               related_name="+")
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    terminal_time = models.DateTimeField(_("terminal time (as sent, not trusted)"), null=True, blank=True)
    reverses = models.ForeignKey("self", verbose_name=_("reverses"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="reversals")
    purchase = models.ForeignKey("points.Purchase", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="transfers")
    campaign = models.ForeignKey("points.Campaign", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="transfers")
    lot = models.ForeignKey("points.Lot", null=True, blank=True, on_delete=models.PROTECT, related_name="transfers")
    hold = models.ForeignKey("points.Hold", null=True, blank=True, on_delete=models.PROTECT,
                             related_name="transfers")
    redemption = models.ForeignKey("points.Redemption", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="transfers")
    refund = models.ForeignKey("points.Refund", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="transfers")
    merchant = models.ForeignKey("points.Merchant", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    position = models.ForeignKey("points.SettlementPosition", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="transfers")
    agency_refund = models.ForeignKey("points.AgencyRefund", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="transfers")

    objects = TransferQuerySet.as_manager()

    class Meta:
        verbose_name = _("transfer")
        verbose_name_plural = _("transfers")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="points_transfer_amount_positive"),
            models.CheckConstraint(condition=~Q(debit=models.F("credit")), name="points_transfer_two_accounts"),
        ]
        indexes = [models.Index(fields=["merchant", "created_at"]), models.Index(fields=["agency", "kind"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} #{self.pk}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise PermissionError("transfers are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("transfers are never deleted; post a reversing transfer")


class PurchaseStatus(models.TextChoices):
    UNFUNDED = "unfunded", _("Unfunded")
    FUNDED = "funded", _("Funded")


class Purchase(models.Model):
    """An agency's procurement of points; unfunded until the trust deposit is confirmed (R8)."""

    agency = models.ForeignKey("agencies.Agency", verbose_name=_("agency"), on_delete=models.PROTECT,
                               related_name="+")
    reference = models.CharField(_("purchase reference"), max_length=60)
    points = models.BigIntegerField(_("points"))
    status = models.CharField(_("status"), max_length=10, choices=PurchaseStatus.choices,
                              default=PurchaseStatus.UNFUNDED)
    bank_reference = models.CharField(_("bank reference"), max_length=60, blank=True)
    created_at = models.DateTimeField(_("ordered"), default=timezone.now)
    funded_at = models.DateTimeField(_("funded"), null=True, blank=True)

    objects = AgencyScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("purchase")
        verbose_name_plural = _("purchases")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(points__gt=0), name="points_purchase_positive"),
            models.UniqueConstraint(fields=["agency", "reference"], name="points_purchase_unique_reference"),
        ]

    def __str__(self) -> str:
        return self.reference


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    APPROVED = "approved", _("Approved")
    CLOSED = "closed", _("Closed")


class Campaign(models.Model):
    """A campaign that grants points to members from a budget reserved out of its agency's funded pool."""

    agency = models.ForeignKey("agencies.Agency", verbose_name=_("agency"), on_delete=models.PROTECT,
                               related_name="+")
    name = models.CharField(_("name"), max_length=200)
    budget = models.BigIntegerField(_("budget (points)"))
    grant_points = models.BigIntegerField(_("points per grant"))
    per_member_limit = models.BigIntegerField(_("points per member (limit)"))
    claim_start = models.DateTimeField(_("claims open"))
    claim_end = models.DateTimeField(_("claims close (exclusive)"))
    lot_validity_days = models.PositiveIntegerField(_("points valid for (days)"), default=365)
    status = models.CharField(_("status"), max_length=10, choices=CampaignStatus.choices,
                              default=CampaignStatus.DRAFT)
    account = models.OneToOneField(Account, verbose_name=_("budget account"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="campaign")
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    objects = AgencyScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(budget__gt=0) & Q(grant_points__gt=0) & Q(per_member_limit__gt=0),
                                   name="points_campaign_positive"),
            models.CheckConstraint(condition=Q(claim_end__gt=models.F("claim_start")),
                                   name="points_campaign_window"),
        ]

    def __str__(self) -> str:
        return self.name


class Lot(models.Model):
    """The points of one grant to one member, spendable until ``expires_at`` (exclusive)."""

    member = models.ForeignKey("points.Member", verbose_name=_("member"), on_delete=models.PROTECT,
                               related_name="lots")
    campaign = models.ForeignKey(Campaign, verbose_name=_("campaign"), on_delete=models.PROTECT, related_name="lots")
    agency = models.ForeignKey("agencies.Agency", verbose_name=_("agency"), on_delete=models.PROTECT,
                               related_name="+")
    points = models.BigIntegerField(_("points granted"))
    expires_at = models.DateTimeField(_("expires"), db_index=True)
    account = models.OneToOneField(Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="lot")
    created_at = models.DateTimeField(_("granted"), default=timezone.now)
    reversed_at = models.DateTimeField(_("reversed"), null=True, blank=True)

    objects = AgencyScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("lot")
        verbose_name_plural = _("lots")
        ordering = ["expires_at", "id"]
        constraints = [models.CheckConstraint(condition=Q(points__gt=0), name="points_lot_positive")]

    def __str__(self) -> str:
        return f"lot #{self.pk}"


class HoldStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CAPTURED = "captured", _("Captured")
    VOIDED = "voided", _("Voided")
    EXPIRED = "expired", _("Timed out")


class Hold(models.Model):
    """A terminal's authorisation: points reserved from specific lots until captured, voided or timed out."""

    merchant = models.ForeignKey("points.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT,
                                 related_name="holds")
    terminal = models.ForeignKey("points.Terminal", verbose_name=_("terminal"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    member = models.ForeignKey("points.Member", verbose_name=_("member"), on_delete=models.PROTECT,
                               related_name="holds")
    amount = models.BigIntegerField(_("points held"))
    captured = models.BigIntegerField(_("points captured"), default=0)
    released = models.BigIntegerField(_("points released"), default=0)
    status = models.CharField(_("status"), max_length=10, choices=HoldStatus.choices, default=HoldStatus.OPEN,
                              db_index=True)
    account = models.OneToOneField(Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="hold")
    created_at = models.DateTimeField(_("authorised"), default=timezone.now)
    expires_at = models.DateTimeField(_("times out"), db_index=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    terminal_time = models.DateTimeField(_("terminal time (as sent)"), null=True, blank=True)
    reference = models.CharField(_("terminal reference"), max_length=60, blank=True)

    class Meta:
        verbose_name = _("hold")
        verbose_name_plural = _("holds")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0) & Q(captured__gte=0) & Q(released__gte=0)
                                   & Q(amount__gte=models.F("captured") + models.F("released")),
                                   name="points_hold_bounds"),
        ]

    def __str__(self) -> str:
        return f"hold #{self.pk}"


class HoldAllocation(models.Model):
    """The points a hold took from one lot, in consumption order."""

    hold = models.ForeignKey(Hold, on_delete=models.PROTECT, related_name="allocations")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField()
    seq = models.PositiveSmallIntegerField()

    class Meta:
        verbose_name = _("hold allocation")
        verbose_name_plural = _("hold allocations")
        ordering = ["hold", "seq"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="points_hold_allocation_positive")]

    def __str__(self) -> str:
        return f"{self.hold_id}:{self.lot_id}={self.amount}"


class Redemption(models.Model):
    """Points spent at a merchant: a capture of a hold, or a one-step redeem."""

    merchant = models.ForeignKey("points.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT,
                                 related_name="redemptions")
    terminal = models.ForeignKey("points.Terminal", verbose_name=_("terminal"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    member = models.ForeignKey("points.Member", verbose_name=_("member"), on_delete=models.PROTECT,
                               related_name="redemptions")
    hold = models.OneToOneField(Hold, verbose_name=_("hold"), null=True, blank=True, on_delete=models.PROTECT,
                                related_name="redemption")
    amount = models.BigIntegerField(_("points"))
    refunded = models.BigIntegerField(_("points refunded"), default=0)
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    terminal_time = models.DateTimeField(_("terminal time (as sent)"), null=True, blank=True)
    reference = models.CharField(_("terminal reference"), max_length=60, blank=True)

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0) & Q(refunded__gte=0)
                                   & Q(refunded__lte=models.F("amount")), name="points_redemption_refund_bound"),
        ]

    def __str__(self) -> str:
        return f"redemption #{self.pk}"


class RedemptionAllocation(models.Model):
    """The points a redemption took from one lot, in consumption order (refunds walk it backwards)."""

    redemption = models.ForeignKey(Redemption, on_delete=models.PROTECT, related_name="allocations")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField()
    seq = models.PositiveSmallIntegerField()

    class Meta:
        verbose_name = _("redemption allocation")
        verbose_name_plural = _("redemption allocations")
        ordering = ["redemption", "seq"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="points_redemption_allocation_pos")]

    def __str__(self) -> str:
        return f"{self.redemption_id}:{self.lot_id}={self.amount}"


class Refund(models.Model):
    """Points given back against a captured redemption (Σ refunds ≤ captured, R6)."""

    redemption = models.ForeignKey(Redemption, verbose_name=_("redemption"), on_delete=models.PROTECT,
                                   related_name="refunds")
    amount = models.BigIntegerField(_("points"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="points_refund_positive")]

    def __str__(self) -> str:
        return f"refund #{self.pk}"


class LedgerException(models.Model):
    """Something the ledger refused to paper over (e.g. a grant reversal's shortfall, R13)."""

    agency = models.ForeignKey("agencies.Agency", verbose_name=_("agency"), on_delete=models.PROTECT,
                               related_name="+")
    kind = models.CharField(_("kind"), max_length=40)
    amount = models.BigIntegerField(_("points"), default=0)
    lot = models.ForeignKey(Lot, verbose_name=_("lot"), null=True, blank=True, on_delete=models.PROTECT,
                            related_name="+")
    detail = models.TextField(_("detail"), blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)

    objects = AgencyScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("ledger exception")
        verbose_name_plural = _("ledger exceptions")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"


class IdempotencyState(models.TextChoices):
    IN_FLIGHT = "in_flight", _("In flight")
    DONE = "done", _("Done")


class IdempotencyRecord(models.Model):
    """One idempotency key of one API credential, with the request's fingerprint and the first answer.

    Kept for at least 30 days (R5); the same key and payload replays the answer, a different payload
    is a conflict."""

    scope = models.CharField(_("credential"), max_length=80)
    key = models.CharField(_("idempotency key"), max_length=120)
    fingerprint = models.CharField(_("request fingerprint"), max_length=64)
    state = models.CharField(_("state"), max_length=10, choices=IdempotencyState.choices,
                             default=IdempotencyState.IN_FLIGHT)
    status_code = models.PositiveSmallIntegerField(_("response status"), null=True, blank=True)
    response = models.JSONField(_("response"), null=True, blank=True)
    created_at = models.DateTimeField(_("first seen"), default=timezone.now, db_index=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="points_idempotency_unique_key")]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"


class NoticeKind(models.TextChoices):
    D60 = "d60", _("60 days before expiry")
    D30 = "d30", _("30 days before expiry")
    D7 = "d7", _("7 days before expiry")


class ExpiryNotice(models.Model):
    """A notice to a member that a lot will expire; one per lot and kind."""

    member = models.ForeignKey("points.Member", verbose_name=_("member"), on_delete=models.PROTECT,
                               related_name="notices")
    lot = models.ForeignKey(Lot, verbose_name=_("lot"), on_delete=models.PROTECT, related_name="notices")
    kind = models.CharField(_("kind"), max_length=4, choices=NoticeKind.choices)
    channel = models.CharField(_("channel"), max_length=20)
    points = models.BigIntegerField(_("points expiring"))
    message = models.TextField(_("message"))
    created_at = models.DateTimeField(_("sent"), default=timezone.now)

    class Meta:
        verbose_name = _("expiry notice")
        verbose_name_plural = _("expiry notices")
        constraints = [models.UniqueConstraint(fields=["lot", "kind"], name="points_notice_once_per_lot_kind")]

    def __str__(self) -> str:
        return f"{self.kind} lot #{self.lot_id}"
