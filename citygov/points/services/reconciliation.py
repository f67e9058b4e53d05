"""Trust-account reconciliation: bank statements in, deposits funded, payouts confirmed, the rest queued.

Each statement line is imported once: (statement id, line number) is unique, so importing the same
file again adds nothing. Then:

- a credit whose reference is an unfunded purchase's reference, for exactly the purchase amount,
  funds the purchase (this replaces the operator's manual "confirm deposit");
- a debit whose reference names a batch (``B-YYYYMMDD``) and whose counterparty account and amount fit
  a line of that batch is a confirmed payout; several debits may together pay one line; when a line
  is fully paid, its points move from the merchant payable to ``settled`` (transfer kind ``settle``,
  the only way value reaches a merchant);
- a debit whose reference names a refund to an agency (``RF-YYYYMMDD-NN``) awaiting the bank, paying
  the agency's account the whole amount, confirms that refund (its points move to ``refunded``);
- anything else — an unknown debit, a wrong amount, a wrong account, an unknown reference — opens an
  exception with the line attached. The books are never adjusted automatically.

Identities (:func:`check_trust`):
- trust book balance = confirmed deposits − confirmed payouts − confirmed refunds to agencies
  (+ differences a person accepted when resolving a statement exception);
- statement balance = book balance + Σ open statement exceptions (signed).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import BinaryIO

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from citygov.core.changelog import record_change
from citygov.core.errors import InvalidInput
from citygov.core.models import ChangeAction
from citygov.points.engine import statement as statement_engine
from citygov.points.models import (
    AccountKind,
    AgencyRefund,
    AgencyRefundStatus,
    BankStatement,
    BatchStatus,
    LineStatus,
    Purchase,
    PurchaseStatus,
    SettlementBatch,
    SettlementPosition,
    StatementLine,
    StatementLineState,
    TransferKind,
    TrustException,
    TrustExceptionKind,
    TrustExceptionStatus,
)
from citygov.points.services import agency_refunds, ledger
from citygov.points.services.posting import Leg, post, singleton_account
from citygov.points.services.settlement import _open_exception, check_settle


@dataclass
class ImportReport:
    """What an import did, line by line."""

    statement_id: str = ""
    lines: int = 0
    new: int = 0
    already_imported: int = 0
    matched_deposits: int = 0
    matched_payouts: int = 0
    matched_refunds: int = 0
    settled_lines: int = 0
    exceptions: int = 0
    errors: list[statement_engine.StatementError] = field(default_factory=list)


def do_import_statement(actor, stream: BinaryIO, *, file_name: str = "", statement_id: str | None = None,
                        mapping: statement_engine.ColumnMapping | None = None,
                        now: dt.datetime | None = None) -> ImportReport:
    """Import a trust-account statement (CSV) and reconcile every new line. Bad rows are reported
    by line number and skipped; good rows are imported; re-importing the same file adds nothing."""
    check_settle(actor)
    now = now or timezone.now()
    report = ImportReport()
    kwargs = {"statement_id": statement_id}
    if mapping is not None:
        kwargs["mapping"] = mapping
    try:
        rows = list(statement_engine.read_statement(stream, **kwargs))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(str(exc), code="unreadable_file") from exc
    lines = []
    for row in rows:
        if isinstance(row, statement_engine.StatementError):
            report.errors.append(row)
        else:
            lines.append(row)
    report.lines = len(lines) + len(report.errors)
    if lines:
        report.statement_id = lines[0].statement_id
    imported = {(s, n) for s, n in StatementLine.objects.filter(
        statement__statement_id__in={line.statement_id for line in lines}).values_list(
        "statement__statement_id", "line_number")}
    fresh = [line for line in lines if (line.statement_id, line.line_number) not in imported]
    report.already_imported = len(lines) - len(fresh)
    # The engine decides every match (engine/statement.py); here the decisions are applied, each line in
    # its own transaction, re-checked under the lock of the row it touches.
    awaiting = _awaiting_refunds()
    refunds, refund_refused, others = statement_engine.match_agency_refunds(
        [statement_engine.RefundRef(reference=r.reference, bank_code=r.bank_code, bank_account=r.bank_account,
                                    amount=r.amount) for r in awaiting.values()], fresh,
        already_paid=AgencyRefund.objects.filter(status=AgencyRefundStatus.REFUNDED,
                                                 reference__in=_named_refunds(fresh)).values_list("reference", flat=True))
    payouts = statement_engine.match_payouts(_open_lines(others), others)
    purchases = _unfunded_purchases()
    deposits, refused = statement_engine.match_deposits({ref: p.points for ref, p in purchases.items()}, others)
    decisions: dict[tuple[str, int], object] = {}
    for decision in (*refunds, *refund_refused, *payouts.matches, *payouts.unmatched, *deposits, *refused):
        decisions[(decision.statement_id, decision.line_number)] = decision
    for line in fresh:
        with transaction.atomic():
            statement, _created = BankStatement.objects.get_or_create(
                statement_id=line.statement_id, defaults={"file_name": file_name[:200], "imported_by": actor,
                                                          "imported_at": now})
            if StatementLine.objects.filter(statement=statement, line_number=line.line_number).exists():
                report.already_imported += 1  # another import took it meanwhile
                continue
            report.new += 1
            decision = decisions[(line.statement_id, line.line_number)]
            if isinstance(decision, statement_engine.RefundMatch):
                _apply_refund(statement, line, awaiting[decision.reference], report, now)
            elif isinstance(decision, statement_engine.PayoutMatch):
                _apply_payout(statement, line, decision, report, now)
            elif isinstance(decision, statement_engine.DepositMatch):
                _apply_deposit(actor, statement, line, purchases[decision.reference], report, now)
            else:
                _refuse(statement, line, decision, report, now)
    if report.new:
        record_change(actor=actor, action=ChangeAction.ACTION, note="points.import_statement",
                      after={"statement": report.statement_id, "new": report.new,
                             "already_imported": report.already_imported, "exceptions": report.exceptions,
                             "errors": len(report.errors)})
    return report


def _open_lines(lines) -> list[statement_engine.InstructionLineRef]:
    """The unsettled lines of every batch the statement's debits name, with what is already matched."""
    named = {batch for line in lines if line.amount < 0
             for batch in statement_engine.referenced_batches(line.reference)}
    positions = SettlementPosition.objects.filter(batch__batch_id__in=named, amount__gt=0,
                                                  line_status=LineStatus.INSTRUCTED).select_related("batch", "merchant")
    return [statement_engine.InstructionLineRef(
        batch_id=p.batch.batch_id, merchant_code=p.merchant.tax_id, bank_code=p.bank_code, bank_account=p.bank_account,
        amount=p.amount, already_matched=p.matched) for p in positions]


def _named_refunds(lines) -> set[str]:
    return {name for line in lines if line.amount < 0 for name in statement_engine.referenced_refunds(line.reference)}


def _awaiting_refunds() -> dict[str, AgencyRefund]:
    """Refunds to agencies instructed and not yet paid, by reference."""
    return {r.reference: r for r in AgencyRefund.objects.filter(status=AgencyRefundStatus.INSTRUCTED)}


def _apply_refund(statement, line, refund: AgencyRefund, report: ImportReport, now) -> None:
    refund = AgencyRefund.objects.select_for_update().get(pk=refund.pk)
    if refund.status != AgencyRefundStatus.INSTRUCTED:  # paid (or cancelled) meanwhile
        reason = "over_payment" if refund.status == AgencyRefundStatus.REFUNDED else "unknown_debit"
        _refuse(statement, line, _unmatched_now(line, reason, *statement_engine.REFUND_REASONS[reason],
                                                reference=refund.reference), report, now)
        return
    agency_refunds.confirm_agency_refund(refund, now)
    _new_line(statement, line, StatementLineState.MATCHED, agency_refund=refund)
    report.matched_refunds += 1


def _unfunded_purchases() -> dict[str, Purchase]:
    """Unfunded purchases by reference; a reference two agencies share is left out (a person decides)."""
    by_reference: dict[str, list[Purchase]] = {}
    for purchase in Purchase.objects.filter(status=PurchaseStatus.UNFUNDED):
        by_reference.setdefault(purchase.reference, []).append(purchase)
    return {ref: found[0] for ref, found in by_reference.items() if len(found) == 1}


def _new_line(statement, line, state, **refs) -> StatementLine:
    return StatementLine.objects.create(
        statement=statement, line_number=line.line_number, booked_on=line.booked_on, amount=line.amount,
        reference=line.reference[:120], counterparty_bank_code=line.counterparty_bank_code[:7],
        counterparty_account=line.counterparty_account[:20], description=line.description[:300],
        balance_after=line.balance_after, state=state, **refs)


# The engine's reasons, as exception kinds of the queue.
REASON_KINDS = {
    "unknown_debit": TrustExceptionKind.UNKNOWN_DEBIT,
    "wrong_account": TrustExceptionKind.WRONG_ACCOUNT,
    "over_payment": TrustExceptionKind.OVER_PAYMENT,
    "unknown_reference": TrustExceptionKind.UNKNOWN_REFERENCE,
}


def _refuse(statement, line, unmatched: statement_engine.Unmatched, report: ImportReport, now, **refs) -> None:
    """Open an exception for the line, with the engine's reason (English and Chinese)."""
    if unmatched.reason == "wrong_amount":
        kind = TrustExceptionKind.DEPOSIT_AMOUNT if line.amount > 0 else TrustExceptionKind.WRONG_AMOUNT
    else:
        kind = REASON_KINDS[unmatched.reason]
    batch = SettlementBatch.objects.filter(batch_id=unmatched.batch_id).first() if unmatched.batch_id else None
    position = (SettlementPosition.objects.filter(batch=batch, merchant__tax_id=unmatched.merchant_code).first()
                if batch is not None and unmatched.merchant_code else None)
    detail = f"{unmatched.message_zh} / {unmatched.message_en}"
    if line.reference:
        detail += f" ({line.reference})"
    exc = _open_exception(kind, amount=line.amount, source=f"{statement.statement_id}#{line.line_number}", now=now,
                          detail=detail, affects_statement=True, batch=batch, position=position,
                          merchant_id=position.merchant_id if position else None, **refs)
    report.exceptions += 1
    _new_line(statement, line, StatementLineState.EXCEPTION, exception=exc)


def _apply_deposit(actor, statement, line, purchase: Purchase, report: ImportReport, now) -> None:
    purchase = Purchase.objects.select_for_update().get(pk=purchase.pk)
    if purchase.status != PurchaseStatus.UNFUNDED:  # funded meanwhile (another import, or by hand)
        _refuse(statement, line, _unmatched_now(line, "wrong_amount", "the purchase is already funded",
                                                "該購買單已入帳，此為重複存入"), report, now)
        return
    ledger.do_confirm_deposit(actor, purchase.pk, bank_reference=f"{statement.statement_id}#{line.line_number}",
                              now=now)
    _new_line(statement, line, StatementLineState.MATCHED, purchase=purchase)
    report.matched_deposits += 1


def _apply_payout(statement, line, match: statement_engine.PayoutMatch, report: ImportReport, now) -> None:
    position = SettlementPosition.objects.select_for_update().filter(
        batch__batch_id=match.batch_id, merchant__tax_id=match.merchant_code).first()
    if position is None or position.line_status != LineStatus.INSTRUCTED \
            or position.matched + match.amount > position.amount:  # paid meanwhile by another import
        _refuse(statement, line, _unmatched_now(line, "over_payment", *statement_engine.REASONS["over_payment"],
                                                batch_id=match.batch_id, merchant_code=match.merchant_code),
                report, now)
        return
    position.matched += match.amount
    position.save(update_fields=["matched"])
    _new_line(statement, line, StatementLineState.MATCHED, position=position)
    report.matched_payouts += 1
    if position.matched == position.amount:
        _settle_line(position, now)
        report.settled_lines += 1


def _unmatched_now(line, reason: str, en: str, zh: str, **where) -> statement_engine.Unmatched:
    return statement_engine.Unmatched(statement_id=line.statement_id, line_number=line.line_number,
                                      amount=line.amount, reason=reason, message_en=en, message_zh=zh, **where)


def _settle_line(position: SettlementPosition, now: dt.datetime) -> None:
    """The bank confirmed the whole line: move its points from the payable to ``settled``, per agency."""
    payable = singleton_account(AccountKind.MERCHANT_PAYABLE, merchant_id=position.merchant_id)
    legs = [Leg(TransferKind.SETTLE, payable, singleton_account(AccountKind.SETTLED, agency_id=share.agency_id),
                share.paid, share.agency_id, {"position_id": position.pk, "merchant_id": position.merchant_id})
            for share in position.shares.order_by("agency_id") if share.paid > 0]
    post(legs, now=now)
    position.line_status = LineStatus.SETTLED
    position.settled_at = now
    position.save(update_fields=["line_status", "settled_at"])
    batch = position.batch
    if not batch.positions.filter(amount__gt=0).exclude(line_status=LineStatus.SETTLED).exists():
        batch.status = BatchStatus.SETTLED
        batch.settled_at = now
        batch.save(update_fields=["status", "settled_at"])


# --- identities ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrustFigures:
    """The trust account as the books and as the bank see it."""

    deposits: int
    payouts: int
    agency_refunds: int
    accepted_differences: int
    open_exceptions: int
    statement_balance: int
    last_reported_balance: int | None

    @property
    def book_balance(self) -> int:
        return self.deposits - self.payouts - self.agency_refunds + self.accepted_differences

    @property
    def problems(self) -> list[str]:
        found = []
        if self.statement_balance != self.book_balance + self.open_exceptions:
            found.append(f"statement balance {self.statement_balance} ≠ book {self.book_balance} + open exceptions "
                         f"{self.open_exceptions}")
        if self.last_reported_balance is not None and self.last_reported_balance != self.statement_balance:
            found.append(f"the bank reports a balance of {self.last_reported_balance}; its lines add up to "
                         f"{self.statement_balance}")
        return found


def _sum(rows) -> int:
    return rows.aggregate(t=Sum("amount"))["t"] or 0


def trust_figures() -> TrustFigures:
    """Deposits and payouts the bank confirmed, exceptions, and the statement balance."""
    matched = StatementLine.objects.filter(state=StatementLineState.MATCHED)
    statement_exceptions = TrustException.objects.filter(affects_statement=True)
    last = StatementLine.objects.exclude(balance_after=None).order_by("-booked_on", "-statement__imported_at",
                                                                      "-line_number").first()
    return TrustFigures(
        deposits=_sum(matched.filter(amount__gt=0)),
        payouts=-_sum(matched.filter(amount__lt=0, agency_refund=None)),
        agency_refunds=-_sum(matched.filter(amount__lt=0).exclude(agency_refund=None)),
        accepted_differences=_sum(statement_exceptions.filter(status=TrustExceptionStatus.RESOLVED)),
        open_exceptions=_sum(statement_exceptions.filter(status=TrustExceptionStatus.OPEN)),
        statement_balance=_sum(StatementLine.objects.all()),
        last_reported_balance=last.balance_after if last else None,
    )


def check_trust() -> list[str]:
    """The trust identities, plus: every settled line is matched in full by statement debits, the
    ledger's ``settled`` total equals the confirmed payouts, and its ``refunded`` total the confirmed
    refunds to agencies (each refunded refund has its bank debit)."""
    figures = trust_figures()
    problems = list(figures.problems)
    for position in SettlementPosition.objects.filter(line_status=LineStatus.SETTLED):
        debits = -_sum(position.statement_lines.all())
        if debits != position.amount:
            problems.append(f"line {position.pk} is settled but the bank paid {debits} of {position.amount}")
    from citygov.points.models import Account

    settled = Account.objects.filter(kind=AccountKind.SETTLED).aggregate(t=Sum("balance"))["t"] or 0
    confirmed = _sum(SettlementPosition.objects.filter(line_status=LineStatus.SETTLED))
    if settled != confirmed:
        problems.append(f"ledger settled {settled} ≠ lines confirmed by the bank {confirmed}")
    refunded = Account.objects.filter(kind=AccountKind.REFUNDED).aggregate(t=Sum("balance"))["t"] or 0
    if refunded != figures.agency_refunds:
        problems.append(f"ledger refunded to agencies {refunded} ≠ refunds confirmed by the bank "
                        f"{figures.agency_refunds}")
    for refund in AgencyRefund.objects.filter(status=AgencyRefundStatus.REFUNDED).select_related("statement_line"):
        line = getattr(refund, "statement_line", None)
        if line is None or -line.amount != refund.amount:
            problems.append(f"refund {refund.reference} is marked refunded without a matching bank debit")
    return problems

