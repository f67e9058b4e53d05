"""Trust settlement: daily batches, the merchants' positions in them, and the exception queue.

Money reaches a merchant only along capture → batch → usage instruction (運用指示書) → bank
confirmation. A batch takes every capture and refund transfer that is committed when it is built;
each transfer belongs to at most one batch (a unique constraint), so nothing is paid twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from citygov.core.scoping import AgencyScopedQuerySet


class BatchStatus(models.TextChoices):
    BUILT = "built", _("Built, not signed")
    SIGNED = "signed", _("Instruction signed")
    SETTLED = "settled", _("Settled")


class SettlementBatch(models.Model):
    """The batch of business day D (``B-YYYYMMDD``), built at D+1 00:05 Asia/Taipei.

    ``instruction`` holds the canonical JSON of the usage instruction exactly as hashed and signed;
    the PDF and CSV are rendered from it on demand, so they never drift from what was signed."""

    batch_id = models.CharField(_("batch"), max_length=12, unique=True)
    business_day = models.DateField(_("business day"), unique=True)
    built_at = models.DateTimeField(_("built"), default=timezone.now)
    status = models.CharField(_("status"), max_length=10, choices=BatchStatus.choices, default=BatchStatus.BUILT)
    window_start = models.DateTimeField(_("window start"))
    window_end = models.DateTimeField(_("window end (exclusive)"))
    transfer_count = models.PositiveIntegerField(_("transfers"), default=0)
    late_count = models.PositiveIntegerField(_("late transfers"), default=0)
    line_count = models.PositiveIntegerField(_("lines"), default=0)
    total_amount = models.BigIntegerField(_("amount to pay (NT$)"), default=0)
    transaction_count = models.PositiveIntegerField(_("transactions in lines"), default=0)
    instruction = models.TextField(_("instruction (canonical JSON)"), blank=True)
    content_hash = models.CharField(_("content hash"), max_length=80, blank=True)
    signature = models.TextField(_("Ed25519 signature (base64)"), blank=True)
    key_fingerprint = models.CharField(_("signing key fingerprint"), max_length=80, blank=True)
    signed_at = models.DateTimeField(_("signed"), null=True, blank=True)
    settled_at = models.DateTimeField(_("settled"), null=True, blank=True)

    class Meta:
        verbose_name = _("settlement batch")
        verbose_name_plural = _("settlement batches")
        ordering = ["-business_day"]

    def __str__(self) -> str:
        return self.batch_id


class SettlementItem(models.Model):
    """One capture or refund transfer taken into a batch (signed: captures > 0, refunds < 0)."""

    transfer = models.OneToOneField("points.Transfer", verbose_name=_("transfer"), on_delete=models.PROTECT,
                                    related_name="settlement_item")
    # A daily batch inserts up to a million items at once: only the indexes the reads need (the
    # composite index serves "items of a batch"); merchant and agency are copies of the transfer's
    # own references, so they carry no foreign-key check of their own.
    batch = models.ForeignKey(SettlementBatch, verbose_name=_("batch"), on_delete=models.PROTECT,
                              related_name="items", db_index=False)
    merchant = models.ForeignKey("points.Merchant", verbose_name=_("merchant"), on_delete=models.DO_NOTHING,
                                 related_name="+", db_index=False, db_constraint=False)
    agency = models.ForeignKey("agencies.Agency", verbose_name=_("agency"), on_delete=models.DO_NOTHING,
                               related_name="+", db_index=False, db_constraint=False)
    amount = models.BigIntegerField(_("points (signed)"))
    late = models.BooleanField(_("late"), default=False)

    class Meta:
        verbose_name = _("settlement item")
        verbose_name_plural = _("settlement items")
        indexes = [models.Index(fields=["batch", "merchant", "agency"])]

    def __str__(self) -> str:
        return f"{self.batch_id}:{self.transfer_id}"


class PositionOutcome(models.TextChoices):
    PAY = "pay", _("Paid")
    PAY_FINAL = "pay_final", _("Final payment")
    WITHHELD_SUSPENDED = "withheld_suspended", _("Withheld: merchant suspended")
    AWAITING_FINAL_APPROVAL = "awaiting_final_approval", _("Withheld: final payment awaits approval")
    NO_BANK_ACCOUNT = "no_bank_account", _("Withheld: no bank account")
    NOT_PAYABLE = "not_payable", _("Withheld: merchant not payable")
    CARRY_NEGATIVE = "carry_negative", _("Negative, carried forward")
    RECEIVABLE = "receivable", _("Receivable from the merchant")
    NOTHING_DUE = "nothing_due", _("Nothing due")


class LineStatus(models.TextChoices):
    NONE = "", _("No line")
    INSTRUCTED = "instructed", _("Instructed")
    SETTLED = "settled", _("Settled (bank confirmed)")


class SettlementPosition(models.Model):
    """One merchant in one batch: net = captures − refunds + carry, and what became of it."""

    batch = models.ForeignKey(SettlementBatch, verbose_name=_("batch"), on_delete=models.PROTECT,
                              related_name="positions")
    merchant = models.ForeignKey("points.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT,
                                 related_name="settlement_positions")
    outcome = models.CharField(_("outcome"), max_length=30, choices=PositionOutcome.choices)
    captured = models.BigIntegerField(_("captured"), default=0)
    refunded = models.BigIntegerField(_("refunded"), default=0)
    carry_in = models.BigIntegerField(_("carried in"), default=0)
    net = models.BigIntegerField(_("net"), default=0)
    amount = models.BigIntegerField(_("amount paid (NT$)"), default=0)
    transactions = models.PositiveIntegerField(_("transactions"), default=0)
    bank_code = models.CharField(_("bank code"), max_length=7, blank=True)
    bank_account = models.CharField(_("bank account"), max_length=20, blank=True)
    line_status = models.CharField(_("line status"), max_length=12, choices=LineStatus.choices, blank=True,
                                   default=LineStatus.NONE)
    matched = models.BigIntegerField(_("confirmed by the bank (NT$)"), default=0)
    settled_at = models.DateTimeField(_("settled"), null=True, blank=True)

    class Meta:
        verbose_name = _("settlement position")
        verbose_name_plural = _("settlement positions")
        ordering = ["batch", "merchant"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "merchant"], name="points_position_once_per_batch"),
            models.CheckConstraint(condition=Q(amount__gte=0) & Q(matched__gte=0) & Q(matched__lte=models.F("amount")),
                                   name="points_position_amounts"),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}:{self.merchant_id}"

    @property
    def carry_out(self) -> int:
        return self.net - self.amount


class PositionShare(models.Model):
    """One agency's part of a position; ``carry_out`` is carried into the next batch."""

    position = models.ForeignKey(SettlementPosition, on_delete=models.PROTECT, related_name="shares")
    agency = models.ForeignKey("agencies.Agency", verbose_name=_("agency"), on_delete=models.PROTECT,
                               related_name="+")
    captured = models.BigIntegerField(default=0)
    refunded = models.BigIntegerField(default=0)
    carry_in = models.BigIntegerField(default=0)
    paid = models.BigIntegerField(default=0)
    carry_out = models.BigIntegerField(default=0)

    objects = AgencyScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("position share")
        verbose_name_plural = _("position shares")
        constraints = [models.UniqueConstraint(fields=["position", "agency"], name="points_share_once")]

    def __str__(self) -> str:
        return f"{self.position_id}:{self.agency_id}"


class FinalSettlementApproval(models.Model):
    """The operator's approval that a closed or not-renewed merchant gets its one final line."""

    merchant = models.OneToOneField("points.Merchant", verbose_name=_("merchant"), on_delete=models.PROTECT,
                                    related_name="final_settlement")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("approved by"),
                                    on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(_("approved"), default=timezone.now)
    note = models.CharField(_("note"), max_length=300, blank=True)
    paid_in = models.ForeignKey(SettlementBatch, verbose_name=_("paid in batch"), null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("final settlement approval")
        verbose_name_plural = _("final settlement approvals")

    def __str__(self) -> str:
        return f"final {self.merchant_id}"


class TrustExceptionKind(models.TextChoices):
    MERCHANT_RECEIVABLE = "merchant_receivable", _("Merchant owes the programme (refund after closure)")
    NO_BANK_ACCOUNT = "no_bank_account", _("Merchant has no bank account")
    UNKNOWN_DEBIT = "unknown_debit", _("Unknown debit on the trust account")
    WRONG_AMOUNT = "wrong_amount", _("Amount differs from the instruction")
    WRONG_ACCOUNT = "wrong_account", _("Paid to an account not in the instruction")
    OVER_PAYMENT = "over_payment", _("Paid more than instructed")
    UNKNOWN_REFERENCE = "unknown_reference", _("Credit with an unknown reference")
    DEPOSIT_AMOUNT = "deposit_amount", _("Deposit differs from the purchase")


class TrustExceptionStatus(models.TextChoices):
    OPEN = "open", _("Open")
    RESOLVED = "resolved", _("Resolved")


class TrustException(models.Model):
    """Something settlement or reconciliation could not match. The books are never adjusted
    automatically: a person owns it and writes down how it was resolved.

    ``amount`` is signed as it affects the trust account statement (debit < 0, credit > 0); for
    ledger-side exceptions (a merchant receivable) it is the points the merchant owes."""

    kind = models.CharField(_("kind"), max_length=30, choices=TrustExceptionKind.choices)
    status = models.CharField(_("status"), max_length=10, choices=TrustExceptionStatus.choices,
                              default=TrustExceptionStatus.OPEN, db_index=True)
    amount = models.BigIntegerField(_("amount (NT$)"), default=0)
    affects_statement = models.BooleanField(_("on the bank statement"), default=False)
    batch = models.ForeignKey(SettlementBatch, verbose_name=_("batch"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="exceptions")
    merchant = models.ForeignKey("points.Merchant", verbose_name=_("merchant"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    position = models.ForeignKey(SettlementPosition, verbose_name=_("position"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="exceptions")
    source = models.CharField(_("source"), max_length=120, blank=True)
    detail = models.TextField(_("detail"), blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+")
    resolution = models.TextField(_("resolution notes"), blank=True)
    created_at = models.DateTimeField(_("opened"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("resolved by"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("trust exception")
        verbose_name_plural = _("trust exceptions")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "source"], condition=~Q(source=""),
                                    name="points_trust_exception_once_per_source"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"


class BankStatement(models.Model):
    """One imported trust-account statement; its lines are imported once each (statement id, line)."""

    statement_id = models.CharField(_("statement"), max_length=60, unique=True)
    file_name = models.CharField(_("file"), max_length=200, blank=True)
    imported_at = models.DateTimeField(_("imported"), default=timezone.now)
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("imported by"), null=True,
                                    on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("bank statement")
        verbose_name_plural = _("bank statements")
        ordering = ["-imported_at"]

    def __str__(self) -> str:
        return self.statement_id


class StatementLineState(models.TextChoices):
    MATCHED = "matched", _("Matched")
    EXCEPTION = "exception", _("Exception")


class StatementLine(models.Model):
    """One line of a trust-account statement: a credit (> 0) or a debit (< 0) in NT$."""

    statement = models.ForeignKey(BankStatement, verbose_name=_("statement"), on_delete=models.PROTECT,
                                  related_name="lines")
    line_number = models.PositiveIntegerField(_("line"))
    booked_on = models.DateField(_("booked on"))
    amount = models.BigIntegerField(_("amount (NT$)"))
    reference = models.CharField(_("reference"), max_length=120, blank=True)
    counterparty_bank_code = models.CharField(_("counterparty bank"), max_length=7, blank=True)
    counterparty_account = models.CharField(_("counterparty account"), max_length=20, blank=True)
    description = models.CharField(_("description"), max_length=300, blank=True)
    balance_after = models.BigIntegerField(_("balance after"), null=True, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=StatementLineState.choices)
    position = models.ForeignKey(SettlementPosition, verbose_name=_("paid line"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="statement_lines")
    purchase = models.ForeignKey("points.Purchase", verbose_name=_("purchase"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="statement_lines")
    agency_refund = models.OneToOneField("points.AgencyRefund", verbose_name=_("refund to an agency"), null=True,
                                         blank=True, on_delete=models.PROTECT, related_name="statement_line")
    exception = models.OneToOneField(TrustException, verbose_name=_("exception"), null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="statement_line")

    class Meta:
        verbose_name = _("statement line")
        verbose_name_plural = _("statement lines")
        ordering = ["statement", "line_number"]
        constraints = [
            models.UniqueConstraint(fields=["statement", "line_number"], name="points_statement_line_once"),
            models.CheckConstraint(condition=~Q(amount=0), name="points_statement_line_non_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.statement_id}#{self.line_number}"


class RefundSource(models.TextChoices):
    FUNDED = "funded", _("Funded points the agency has not reserved")
    EXPIRED = "expired", _("Points that expired in members' hands")


class AgencyRefundStatus(models.TextChoices):
    INSTRUCTED = "instructed", _("Instructed, awaiting the bank")
    REFUNDED = "refunded", _("Refunded (bank confirmed)")
    CANCELLED = "cancelled", _("Cancelled")


class AgencyRefund(models.Model):
    """Money returned from the trust account to the agency that paid for points it will not use.

    The operator instructs it (a signed one-line instruction, ``RF-YYYYMMDD-NN``) on the agency's written
    request; the points wait in ``refund_pending`` until a trust-statement debit with the reference, the
    agency's account and the exact amount confirms it. Until then it may be cancelled (points go back)."""

    reference = models.CharField(_("refund reference"), max_length=20, unique=True)
    agency = models.ForeignKey("agencies.Agency", verbose_name=_("agency"), on_delete=models.PROTECT,
                               related_name="+")
    source = models.CharField(_("from"), max_length=10, choices=RefundSource.choices)
    amount = models.BigIntegerField(_("amount (NT$)"))
    bank_code = models.CharField(_("bank code"), max_length=7)
    bank_account = models.CharField(_("bank account"), max_length=20)
    request_reference = models.CharField(_("agency's request (document number)"), max_length=60)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=AgencyRefundStatus.choices,
                              default=AgencyRefundStatus.INSTRUCTED, db_index=True)
    instruction = models.TextField(_("instruction (canonical JSON)"))
    content_hash = models.CharField(_("content hash"), max_length=80)
    signature = models.TextField(_("Ed25519 signature (base64)"), blank=True)
    key_fingerprint = models.CharField(_("signing key fingerprint"), max_length=80, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("instructed by"), null=True,
                                   on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("instructed"), default=timezone.now)
    refunded_at = models.DateTimeField(_("refunded"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    cancel_reason = models.CharField(_("why cancelled"), max_length=300, blank=True)

    objects = AgencyScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("refund to an agency")
        verbose_name_plural = _("refunds to agencies")
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="points_agency_refund_positive")]

    def __str__(self) -> str:
        return self.reference
