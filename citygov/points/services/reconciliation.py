"""Trust-account reconciliation: bank statements in, deposits funded, payouts confirmed, the rest queued.

Each statement line is imported once: (statement id, line number) is unique, so importing the same
file again adds nothing. Then:

- a credit whose reference is an unfunded purchase's reference, for exactly the purchase amount,
  funds the purchase (this replaces the operator's manual "confirm deposit");
- a debit whose reference names a batch (``B-YYYYMMDD``) and whose counterparty account and amount fit
  a line of that batch is a confirmed payout; several debits may together pay one line; when a line
  is fully paid, its points move from the merchant payable to ``settled`` (transfer kind ``settle``,
  the only way value reaches a merchant);
- anything else — an unknown debit, a wrong amount, a wrong account, an unknown reference — opens an
  exception with the line attached. The books are never adjusted automatically.

Identities (:func:`check_trust`):
- trust book balance = confirmed deposits − confirmed payouts − confirmed refunds to agencies
  (+ differences a person accepted when resolving a statement exception);
- statement balance = book balance + Σ open statement exceptions (signed).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import BinaryIO

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from citygov.core.changelog import record_change
from citygov.core.errors import InvalidInput
from citygov.core.models import ChangeAction
from citygov.points.engine import statement as statement_engine
from citygov.points.models import (
    AccountKind,
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
from citygov.points.services import ledger
from citygov.points.services.posting import Leg, post, singleton_account
from citygov.points.services.settlement import _open_exception, check_settle

BATCH_REFERENCE = re.compile(r"B-\d{8}")


@dataclass
class ImportReport:
    """What an import did, line by line."""

    statement_id: str = ""
    lines: int = 0
    new: int = 0
    already_imported: int = 0
    matched_deposits: int = 0
    matched_payouts: int = 0
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
    for line in lines:
        report.statement_id = line.statement_id
        with transaction.atomic():
            statement, _created = BankStatement.objects.get_or_create(
                statement_id=line.statement_id, defaults={"file_name": file_name[:200], "imported_by": actor,
                                                          "imported_at": now})
            if StatementLine.objects.filter(statement=statement, line_number=line.line_number).exists():
                report.already_imported += 1
                continue
            report.new += 1
            _reconcile(actor, statement, line, report, now)
    if report.new:
        record_change(actor=actor, action=ChangeAction.ACTION, note="points.import_statement",
                      after={"statement": report.statement_id, "new": report.new,
                             "already_imported": report.already_imported, "exceptions": report.exceptions,
                             "errors": len(report.errors)})
    return report


def _new_line(statement, line, state, **refs) -> StatementLine:
    return StatementLine.objects.create(
        statement=statement, line_number=line.line_number, booked_on=line.booked_on, amount=line.amount,
        reference=line.reference[:120], counterparty_bank_code=line.counterparty_bank_code[:7],
        counterparty_account=line.counterparty_account[:20], description=line.description[:300],
        balance_after=line.balance_after, state=state, **refs)


def _exception_line(statement, line, kind: str, detail: str, report: ImportReport, now, **refs) -> StatementLine:
    exc = _open_exception(kind, amount=line.amount, source=f"{statement.statement_id}#{line.line_number}", now=now,
                          detail=detail, affects_statement=True, **refs)
    report.exceptions += 1
    return _new_line(statement, line, StatementLineState.EXCEPTION, exception=exc)


def _reconcile(actor, statement, line, report: ImportReport, now) -> None:
    if line.amount > 0:
        _reconcile_credit(actor, statement, line, report, now)
    else:
        _reconcile_debit(statement, line, report, now)


def _reconcile_credit(actor, statement, line, report, now) -> None:
    reference = line.reference.strip()
    purchase = Purchase.objects.select_for_update().filter(reference=reference).first() if reference else None
    if purchase is None or purchase.status != PurchaseStatus.UNFUNDED:
        why = (_("Credit with reference {reference!r}: no unfunded purchase has that reference.")
               .format(reference=reference))
        _exception_line(statement, line, TrustExceptionKind.UNKNOWN_REFERENCE, why, report, now)
        return
    if purchase.points != line.amount:
        why = _("Purchase {reference} is for NT${expected}; the bank credited NT${amount}.").format(
            reference=reference, expected=purchase.points, amount=line.amount)
        _exception_line(statement, line, TrustExceptionKind.DEPOSIT_AMOUNT, why, report, now)
        return
    ledger.do_confirm_deposit(actor, purchase.pk, bank_reference=f"{statement.statement_id}#{line.line_number}",
                              now=now)
    _new_line(statement, line, StatementLineState.MATCHED, purchase=purchase)
    report.matched_deposits += 1


def _reconcile_debit(statement, line, report, now) -> None:
    paid = -line.amount
    found = BATCH_REFERENCE.search(line.reference or "") or BATCH_REFERENCE.search(line.description or "")
    batch = SettlementBatch.objects.filter(batch_id=found.group(0)).first() if found else None
    if batch is None:
        why = _("Debit of NT${amount} names no batch of ours.").format(amount=paid)
        _exception_line(statement, line, TrustExceptionKind.UNKNOWN_DEBIT, why, report, now)
        return
    candidates = SettlementPosition.objects.select_for_update().filter(
        batch=batch, amount__gt=0, line_status=LineStatus.INSTRUCTED, bank_account=line.counterparty_account)
    same_account = [p for p in candidates.order_by("pk")
                    if not line.counterparty_bank_code or p.bank_code[:3] == line.counterparty_bank_code[:3]]
    if not same_account:
        why = _("Debit of NT${amount} for {batch} went to account {account}, which has no open line.").format(
            amount=paid, batch=batch.batch_id, account=line.counterparty_account)
        _exception_line(statement, line, TrustExceptionKind.WRONG_ACCOUNT, why, report, now, batch=batch)
        return
    position = next((p for p in same_account if p.amount - p.matched >= paid), None)
    if position is None:
        target = same_account[0]
        kind = TrustExceptionKind.OVER_PAYMENT if paid > target.amount - target.matched else \
            TrustExceptionKind.WRONG_AMOUNT
        why = _("Debit of NT${amount} for {batch} exceeds what is still open on the line (NT${left}).").format(
            amount=paid, batch=batch.batch_id, left=target.amount - target.matched)
        _exception_line(statement, line, kind, why, report, now, batch=batch, position=target,
                        merchant_id=target.merchant_id)
        return
    position.matched += paid
    position.save(update_fields=["matched"])
    _new_line(statement, line, StatementLineState.MATCHED, position=position)
    report.matched_payouts += 1
    if position.matched == position.amount:
        _settle_line(position, now)
        report.settled_lines += 1


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
        payouts=-_sum(matched.filter(amount__lt=0)),
        agency_refunds=0,
        accepted_differences=_sum(statement_exceptions.filter(status=TrustExceptionStatus.RESOLVED)),
        open_exceptions=_sum(statement_exceptions.filter(status=TrustExceptionStatus.OPEN)),
        statement_balance=_sum(StatementLine.objects.all()),
        last_reported_balance=last.balance_after if last else None,
    )


def check_trust() -> list[str]:
    """The trust identities, plus: every settled line is matched in full by statement debits, and the
    ledger's ``settled`` total equals the confirmed payouts."""
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
    return problems

