"""Royalty and feedback fee: contract terms per year, monthly income, and the bills they give.

The feedback fee is recomputed from cumulative income every time an income figure is entered or
restated (``citygov.points.engine.fees``); what was already billed is never rewritten: the difference
is billed (or credited) as an adjustment. Fees are receivables from the operator and never move
trust money or points.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from citygov.core.changelog import record_change
from citygov.core.errors import InvalidInput, NotFound
from citygov.core.models import ChangeAction
from citygov.points.engine import fees as engine
from citygov.points.models import FeeBill, FeeBillKind, FeeContract, OperatingIncome
from citygov.points.services.settlement import check_settle

MAX_AMOUNT = 10**12


def _amount(value, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(_("{name} must be a whole NT$ amount.").format(name=name), code="bad_amount") from None
    if isinstance(value, float) and value != number:
        raise InvalidInput(_("{name} must be a whole NT$ amount.").format(name=name), code="bad_amount")
    if not 0 <= number <= MAX_AMOUNT:
        raise InvalidInput(_("{name} must be between 0 and 1,000,000,000,000.").format(name=name),
                           code="bad_amount")
    return number


def do_set_fee_contract(actor, *, year: int, royalty, feedback_rate, threshold) -> FeeContract:
    """Record (or correct) the fee terms of a contract year; the feedback fee is recomputed."""
    check_settle(actor)
    royalty, threshold = _amount(royalty, "royalty"), _amount(threshold, "threshold")
    try:
        rate = Decimal(str(feedback_rate))
    except (InvalidOperation, ValueError):
        raise InvalidInput(_("The feedback fee rate must be a number such as 0.05."), code="bad_rate") from None
    if not Decimal(0) <= rate <= Decimal(1) or rate != rate.quantize(Decimal("0.0001")):
        raise InvalidInput(_("The feedback fee rate must be between 0 and 1 with at most 4 decimals."),
                           code="bad_rate")
    if not 2000 <= int(year) <= 2200:
        raise InvalidInput(_("Unknown year."), code="bad_year")
    with transaction.atomic():
        contract = FeeContract.objects.select_for_update().filter(year=year).first()
        before = None
        if contract is None:
            contract = FeeContract(year=year)
        else:
            before = {"royalty": contract.royalty, "feedback_rate": str(contract.feedback_rate),
                      "threshold": contract.threshold}
        contract.royalty, contract.feedback_rate, contract.threshold = royalty, rate, threshold
        contract.save()
        record_change(actor=actor, action=ChangeAction.UPDATE if before else ChangeAction.CREATE, obj=contract,
                      note="points.fee_contract", before=before,
                      after={"royalty": royalty, "feedback_rate": str(rate), "threshold": threshold})
        _bill(actor, contract)
    return contract


def do_enter_income(actor, *, year: int, month: int, income, note: str = "",
                    now: dt.datetime | None = None) -> list[FeeBill]:
    """Enter (or restate) a month's operating income; bill what the recomputed fee adds or removes."""
    check_settle(actor)
    income = _amount(income, "income")
    if not 1 <= int(month) <= 12:
        raise InvalidInput(_("The month must be 1 to 12."), code="bad_month")
    with transaction.atomic():
        contract = FeeContract.objects.select_for_update().filter(year=year).first()
        if contract is None:
            raise NotFound(_("No fee terms for {year}: enter the contract first.").format(year=year),
                           code="no_fee_contract")
        previous = OperatingIncome.objects.filter(year=year, month=month).order_by("-id").first()
        entry = OperatingIncome.objects.create(year=year, month=month, income=income, note=note[:300],
                                               entered_by=actor, entered_at=now or timezone.now())
        record_change(actor=actor, action=ChangeAction.CREATE, obj=entry, note="points.operating_income",
                      before={"income": previous.income} if previous else None,
                      after={"year": year, "month": month, "income": income, "note": note[:300]})
        return _bill(actor, contract)


def _terms(contract: FeeContract) -> engine.FeeTerms:
    return engine.FeeTerms(year=contract.year, royalty=contract.royalty, feedback_rate=contract.feedback_rate,
                           threshold=contract.threshold)


def latest_incomes(year: int) -> list[engine.MonthIncome]:
    """The figure of each month of ``year`` (the latest entry of the month)."""
    latest: dict[int, int] = {}
    for month, income in OperatingIncome.objects.filter(year=year).order_by("month", "id").values_list(
            "month", "income"):
        latest[month] = income
    return [engine.MonthIncome(month, income) for month, income in sorted(latest.items())]


def billed_by_month(year: int) -> dict[int, int]:
    """Feedback fee billed so far per month (bills and adjustments)."""
    billed: dict[int, int] = defaultdict(int)
    for month, total in (FeeBill.objects.filter(year=year, kind__in=(FeeBillKind.FEEDBACK, FeeBillKind.ADJUSTMENT))
                         .values("month").annotate(t=Sum("amount")).values_list("month", "t")):
        billed[month] = total
    return dict(billed)


def _bill(actor, contract: FeeContract) -> list[FeeBill]:
    """Bill the royalty once a year and every feedback-fee difference the schedule shows."""
    bills = []
    if not FeeBill.objects.filter(year=contract.year, kind=FeeBillKind.ROYALTY).exists() and contract.royalty:
        bills.append(FeeBill.objects.create(year=contract.year, kind=FeeBillKind.ROYALTY, amount=contract.royalty,
                                            explanation=f"{contract.year} 年權利金 NT${contract.royalty:,}",
                                            created_by=actor))
    billed = billed_by_month(contract.year)
    for period in engine.feedback_fee_schedule(_terms(contract), latest_incomes(contract.year), billed):
        if period.adjustment == 0:
            continue
        kind = FeeBillKind.ADJUSTMENT if period.month in billed else FeeBillKind.FEEDBACK
        bills.append(FeeBill.objects.create(
            year=contract.year, month=period.month, kind=kind, amount=period.adjustment,
            cumulative_income=period.cumulative_income, explanation=period.explanation_zh, created_by=actor))
    for bill in bills:
        record_change(actor=actor, action=ChangeAction.CREATE, obj=bill, note="points.fee_bill",
                      after={"year": bill.year, "month": bill.month, "kind": bill.kind, "amount": bill.amount})
    return bills


@dataclass(frozen=True)
class FeeStatement:
    """A year's fee position: terms, the month-by-month schedule, bills, and totals."""

    contract: FeeContract
    schedule: tuple[engine.FeePeriod, ...]
    summary: engine.FeeSummary
    bills: list[FeeBill]

    @property
    def billed_total(self) -> int:
        return sum(b.amount for b in self.bills)


def fee_statement(year: int) -> FeeStatement | None:
    """The fee position of ``year``, or None when no terms are recorded."""
    contract = FeeContract.objects.filter(year=year).first()
    if contract is None:
        return None
    terms = _terms(contract)
    schedule = engine.feedback_fee_schedule(terms, latest_incomes(year), billed_by_month(year))
    return FeeStatement(contract=contract, schedule=schedule, summary=engine.fee_summary(terms, schedule),
                        bills=list(FeeBill.objects.filter(year=year).order_by("id")))
