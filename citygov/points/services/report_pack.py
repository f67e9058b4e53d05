"""The monthly report pack: the figures of one calendar month (Asia/Taipei) read from the database.

:func:`month_pack` fills :class:`citygov.points.engine.report_pack.MonthPack`; the engine renders it
as PDF and XLSX. Everything is read, nothing is changed. Definitions:

* point flows are those of the analytics pages (:mod:`citygov.points.analytics`);
* balances at an instant are today's balances minus what moved after that instant (transfers are
  append-only and carry their time), so a past month's pack shows the balances as they were;
* the trust section counts statement lines by the day the bank booked them; a line the books did not
  accept is an "open exception" at the month's end unless its exception was resolved before then.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q, Sum
from django.utils import timezone

from citygov.core.errors import InvalidInput
from citygov.points import analytics
from citygov.points.engine import report_pack as engine
from citygov.points.engine import settlement as settlement_engine
from citygov.points.models import (
    Account,
    AccountKind,
    LineStatus,
    SettlementPosition,
    StatementLine,
    StatementLineState,
    Transfer,
    TrustException,
    TrustExceptionStatus,
)
from citygov.points.services import fees as fee_service

TZ = ZoneInfo("Asia/Taipei")
HELD_BY_MEMBERS = (AccountKind.LOT, AccountKind.HOLD)
FIRST_YEAR, LAST_YEAR = 2000, 2100


def parse_month(text: str) -> tuple[int, int]:
    """``YYYY-MM`` → (year, month), or a clear error in Chinese and English."""
    try:
        year, month = (int(part) for part in str(text).strip().split("-"))
        dt.date(year, month, 1)
    except ValueError:
        raise InvalidInput(f"月份格式應為 YYYY-MM（例如 2026-10），收到 {text!r} / "
                           f"the month must be YYYY-MM (e.g. 2026-10), got {text!r}") from None
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidInput(f"年份須介於 {FIRST_YEAR} 與 {LAST_YEAR} / the year must be {FIRST_YEAR}–{LAST_YEAR}")
    return year, month


def month_bounds(year: int, month: int) -> tuple[dt.datetime, dt.datetime]:
    """[first instant, first instant of the next month) in Asia/Taipei."""
    start = dt.datetime(year, month, 1, tzinfo=TZ)
    end = dt.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=TZ)
    return start, end


def balances_at(moment: dt.datetime) -> dict[str, int]:
    """Σ balance per account kind as it stood at ``moment``: today's minus what moved since."""
    balances: dict[str, int] = defaultdict(int)
    for kind, total in Account.objects.order_by().values("kind").annotate(t=Sum("balance")).values_list("kind", "t"):
        balances[kind] += total or 0
    later = Transfer.objects.filter(created_at__gte=moment).order_by()
    for kind, total in later.values("credit__kind").annotate(t=Sum("amount")).values_list("credit__kind", "t"):
        balances[kind] -= total or 0
    for kind, total in later.values("debit__kind").annotate(t=Sum("amount")).values_list("debit__kind", "t"):
        balances[kind] += total or 0
    return balances


def _movements(start: dt.datetime, end: dt.datetime) -> tuple[dict[str, int], dict[str, int]]:
    """(credits, debits) per account kind of the transfers in [start, end)."""
    within = Transfer.objects.filter(created_at__gte=start, created_at__lt=end).order_by()
    credits = dict(within.values("credit__kind").annotate(t=Sum("amount")).values_list("credit__kind", "t"))
    debits = dict(within.values("debit__kind").annotate(t=Sum("amount")).values_list("debit__kind", "t"))
    return credits, debits


def _accounts(start: dt.datetime, end: dt.datetime) -> tuple[tuple[engine.AccountRoll, ...], dict[str, int],
                                                                 dict[str, int]]:
    closing = balances_at(end)
    credits, debits = _movements(start, end)
    opening = {kind: closing.get(kind, 0) - (credits.get(kind) or 0) + (debits.get(kind) or 0)
               for kind in AccountKind.values}
    rows = tuple(engine.AccountRoll(kind=kind, label=str(AccountKind(kind).label), opening=opening[kind],
                                    credits=credits.get(kind) or 0, debits=debits.get(kind) or 0,
                                    closing=closing.get(kind, 0))
                 for kind in AccountKind.values)
    return rows, opening, closing


def _date(moment: dt.datetime | None) -> dt.date | None:
    return moment.astimezone(TZ).date() if moment is not None else None


def _trust(start: dt.datetime, end: dt.datetime) -> engine.TrustMonth:
    first, last = start.date(), (end - dt.timedelta(days=1)).date()
    lines = StatementLine.objects.order_by()
    booked = lines.filter(booked_on__lte=last)
    in_month = lines.filter(booked_on__gte=first, booked_on__lte=last)

    def total(rows) -> int:
        return rows.aggregate(t=Sum("amount"))["t"] or 0

    matched = booked.filter(state=StatementLineState.MATCHED)
    refused = booked.filter(state=StatementLineState.EXCEPTION)
    accepted = refused.filter(exception__status=TrustExceptionStatus.RESOLVED, exception__resolved_at__lt=end)
    last_line = (booked.exclude(balance_after=None)
                 .order_by("-booked_on", "-statement__imported_at", "-line_number").first())
    return engine.TrustMonth(
        statement_opening=total(lines.filter(booked_on__lt=first)),
        deposits=total(in_month.filter(state=StatementLineState.MATCHED, amount__gt=0)),
        payouts=-total(in_month.filter(state=StatementLineState.MATCHED, amount__lt=0)),
        unmatched=total(in_month.filter(state=StatementLineState.EXCEPTION)),
        statement_closing=total(booked),
        # Refunds to agencies are not a flow of the programme yet: none are in the books.
        book_closing=total(matched) + total(accepted),
        open_exceptions=total(refused) - total(accepted),
        reported_balance=last_line.balance_after if last_line else None,
    )


def _payouts(year: int, month: int) -> tuple[engine.PayoutRow, ...]:
    positions = (SettlementPosition.objects
                 .filter(batch__business_day__year=year, batch__business_day__month=month,
                         outcome__in=settlement_engine.PAID_OUTCOMES)
                 .select_related("batch", "merchant").order_by("batch__business_day", "merchant__tax_id"))
    return tuple(engine.PayoutRow(
        batch_id=p.batch.batch_id, business_day=p.batch.business_day, merchant_code=p.merchant.tax_id,
        merchant_name=p.merchant.name, bank_code=p.bank_code, bank_account=p.bank_account, amount=p.amount,
        transactions=p.transactions, status=str(LineStatus(p.line_status).label), confirmed=p.matched,
        settled_on=_date(p.settled_at)) for p in positions)


def _exceptions(start: dt.datetime, end: dt.datetime) -> tuple[engine.ExceptionRow, ...]:
    rows = (TrustException.objects.filter(created_at__lt=end)
            .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=start))
            .select_related("owner").order_by("created_at", "pk"))
    result = []
    for exc in rows:
        resolved = exc.resolved_at is not None and exc.resolved_at < end
        status = TrustExceptionStatus.RESOLVED if resolved else TrustExceptionStatus.OPEN
        result.append(engine.ExceptionRow(
            number=exc.pk, kind=exc.get_kind_display(), amount=exc.amount, opened_on=_date(exc.created_at),
            status=str(status.label), resolved_on=_date(exc.resolved_at) if resolved else None,
            owner=exc.owner.get_username() if exc.owner else "", detail=exc.detail))
    return tuple(result)


def _fees(year: int, month: int) -> engine.FeeMonth | None:
    """The month's row of the fee schedule; a month with no income entered yet shows the cumulative
    position of the last month before it (income 0, nothing to adjust)."""
    statement = fee_service.fee_statement(year)
    if statement is None:
        return None
    contract = statement.contract
    period = next((row for row in statement.schedule if row.month == month), None)
    if period is not None:
        income, cumulative, due, billed, adjustment = (period.income, period.cumulative_income,
                                                       period.cumulative_fee_due, period.billed_before,
                                                       period.adjustment)
        explanation = period.explanation_zh
    else:
        before = [row for row in statement.schedule if row.month < month]
        last = before[-1] if before else None
        cumulative = last.cumulative_income if last else 0
        due = last.cumulative_fee_due if last else 0
        income, billed = 0, fee_service.billed_by_month(year).get(month, 0)
        adjustment = -billed
        explanation = f"{year}年{month}月尚未登錄營業收入；沿用前月累計數。"
    return engine.FeeMonth(
        royalty=contract.royalty, feedback_rate_percent=f"{(contract.feedback_rate * 100).normalize():f}%",
        threshold=contract.threshold, income=income, cumulative_income=cumulative, cumulative_fee_due=due,
        billed_before=billed, adjustment=adjustment, year_to_date_due=contract.royalty + due,
        explanation=explanation)


def month_pack(year: int, month: int, *, now: dt.datetime | None = None) -> engine.MonthPack:
    """The report pack of ``year``-``month``; a month not over yet is reported up to ``now``."""
    now = now or timezone.now()
    start, end = month_bounds(year, month)
    if start > now:
        raise InvalidInput(f"{year:04d}-{month:02d} 尚未開始，無月報 / {year:04d}-{month:02d} has not begun: "
                           "there is no report for it yet")
    accounts, opening, closing = _accounts(start, end)
    flows = analytics.flow_total(analytics.daily_flows(None, start.date(), (end - dt.timedelta(days=1)).date()))
    points = engine.PointsMonth(
        issued=flows.issued, spent=flows.spent, expired=flows.expired, transactions=flows.transactions,
        outstanding_start=sum(opening.get(kind, 0) for kind in HELD_BY_MEMBERS),
        outstanding_end=sum(closing.get(kind, 0) for kind in HELD_BY_MEMBERS))
    notes = []
    if end > now:
        notes.append(f"本月尚未結束，數字截至 {now.astimezone(TZ):%Y-%m-%d %H:%M}。"
                     f" / The month is not over: figures up to {now.astimezone(TZ):%Y-%m-%d %H:%M}.")
    return engine.MonthPack(
        year=year, month=month, operator_name=settings.POINTS_OPERATOR_NAME, generated_at=now.astimezone(TZ),
        points=points, accounts=accounts, trust=_trust(start, end), payouts=_payouts(year, month),
        exceptions=_exceptions(start, end), fees=_fees(year, month), notes=tuple(notes))
