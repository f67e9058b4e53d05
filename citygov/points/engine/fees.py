"""Royalty (權利金) and feedback fee (回饋金) owed by the points operator to the city. Pure Python.

The contract fixes, per year, a royalty (a fixed NT$ amount, e.g. NT$300,000) and a feedback fee: a
percentage of the operator's *cumulative* operating income of the year above a threshold (e.g. 5% of
everything above NT$1,000,000).

The fee is always recomputed from cumulative figures, never summed per transaction::

    cumulative_fee_due(m) = round_half_up(max(0, cumulative_income(m) - threshold) * rate)   # to NT$1
    fee_for_period(m)     = cumulative_fee_due(m) - cumulative_fee_due(m - 1)

so rounding happens once per period and the fees of all periods add up exactly to the cumulative figure.
When an earlier month's income is restated, the schedule is recomputed from the restated figures and
each period's ``adjustment`` (``fee_for_period - billed_before``) is what has to be billed (positive) or
credited (negative) now; nothing already billed is rewritten. Fees are receivables from the operator:
they never move trust money.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

PERIODS = ("month",)


def round_half_up(value: Decimal) -> int:
    """Round a Decimal to a whole NT$ amount, halves away from zero (0.5 → 1, 2.5 → 3).

    >>> round_half_up(Decimal("2.5")), round_half_up(Decimal("2.49")), round_half_up(Decimal("-0.5"))
    (3, 2, -1)
    """
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class FeeTerms:
    """The fee terms of one contract year."""

    year: int
    royalty: int  # NT$ per year
    feedback_rate: Decimal  # e.g. Decimal("0.05") for 5%
    threshold: int  # cumulative operating income (NT$) above which the rate applies
    period: str = "month"

    def __post_init__(self) -> None:
        if not isinstance(self.year, int) or not 1911 < self.year < 10000:
            raise ValueError(f"fee terms: year must be a Gregorian year, got {self.year!r}")
        if not isinstance(self.royalty, int) or self.royalty < 0:
            raise ValueError(f"fee terms: royalty must be a whole NT$ amount >= 0, got {self.royalty!r}")
        if not isinstance(self.threshold, int) or self.threshold < 0:
            raise ValueError(f"fee terms: threshold must be a whole NT$ amount >= 0, got {self.threshold!r}")
        rate = self.feedback_rate
        if not isinstance(rate, Decimal) or not rate.is_finite() or not Decimal(0) <= rate <= Decimal(1):
            raise ValueError(f"fee terms: feedback_rate must be a Decimal between 0 and 1, got {rate!r}")
        if self.period not in PERIODS:
            raise ValueError(f"fee terms: period must be one of {PERIODS}, got {self.period!r}")


@dataclass(frozen=True)
class MonthIncome:
    """The operator's operating income of one month (NT$)."""

    month: int  # 1-12
    income: int  # NT$, >= 0

    def __post_init__(self) -> None:
        if not isinstance(self.month, int) or not 1 <= self.month <= 12:
            raise ValueError(f"month income: month must be 1-12, got {self.month!r}")
        if not isinstance(self.income, int) or isinstance(self.income, bool) or self.income < 0:
            raise ValueError(f"month income: income must be a whole NT$ amount >= 0, got {self.income!r}")


@dataclass(frozen=True)
class FeePeriod:
    """One month of the feedback-fee schedule."""

    month: int
    income: int
    cumulative_income: int
    cumulative_fee_due: int
    fee_for_period: int
    billed_before: int
    adjustment: int  # fee_for_period - billed_before: to bill (> 0) or credit (< 0) now
    explanation_zh: str
    explanation_en: str

    @property
    def explanation(self) -> str:
        """Both explanations, Chinese first."""
        return f"{self.explanation_zh}\n{self.explanation_en}"


@dataclass(frozen=True)
class FeeSummary:
    """The year's totals: royalty, feedback fee due so far, billed so far and still to bill."""

    year: int
    royalty: int
    feedback_fee_due: int
    feedback_fee_billed: int
    feedback_fee_to_bill: int

    @property
    def total_due(self) -> int:
        """Royalty plus the cumulative feedback fee."""
        return self.royalty + self.feedback_fee_due


def _rate_text(rate: Decimal) -> str:
    percent = (rate * 100).normalize()
    return f"{percent:f}%"


def _explain(terms: FeeTerms, month: int, cumulative: int, due: int, previous_due: int,
             fee: int, billed: int, adjustment: int) -> tuple[str, str]:
    excess = max(0, cumulative - terms.threshold)
    rate = _rate_text(terms.feedback_rate)
    zh = (f"{terms.year}年{month}月：累計營業收入 NT${cumulative:,}，門檻 NT${terms.threshold:,}，"
          f"超過部分 NT${excess:,} × {rate} = 累計應收回饋金 NT${due:,}（四捨五入至元）；"
          f"減前期累計 NT${previous_due:,}，本期回饋金 NT${fee:,}")
    en = (f"{terms.year}-{month:02d}: cumulative operating income NT${cumulative:,}, threshold "
          f"NT${terms.threshold:,}, excess NT${excess:,} × {rate} = cumulative feedback fee NT${due:,} "
          f"(rounded half-up to NT$1); less NT${previous_due:,} due before, fee for the period NT${fee:,}")
    if billed:  # a restatement: say what was billed and what changes now
        zh += f"；已開立 NT${billed:,}，本次調整 NT${adjustment:+,}"
        en += f"; billed before NT${billed:,}, adjustment now NT${adjustment:+,}"
    return zh + "。", en + "."


def feedback_fee_schedule(terms: FeeTerms, incomes: Sequence[MonthIncome],
                          already_billed: Mapping[int, int] | None = None) -> tuple[FeePeriod, ...]:
    """The month-by-month feedback fee of ``terms.year`` from the (possibly restated) monthly incomes.

    ``incomes`` holds at most one figure per month; months missing between January and the last month
    with an income or a billed amount count as zero income. ``already_billed`` maps a month to the
    feedback fee already billed for it; each period's ``adjustment`` is the amount to bill now.

    >>> terms = FeeTerms(2026, 300_000, Decimal("0.05"), 1_000_000)
    >>> [p.fee_for_period for p in feedback_fee_schedule(terms, [MonthIncome(1, 900_000), MonthIncome(2, 300_000)])]
    [0, 10000]
    """
    billed = dict(already_billed or {})
    by_month: dict[int, int] = {}
    for item in incomes:
        if not isinstance(item, MonthIncome):
            raise TypeError(f"feedback fee: expected MonthIncome, got {type(item).__name__}")
        if item.month in by_month:
            raise ValueError(f"feedback fee: month {item.month} appears twice in the incomes")
        by_month[item.month] = item.income
    for month, amount in billed.items():
        if not isinstance(month, int) or not 1 <= month <= 12:
            raise ValueError(f"feedback fee: billed month must be 1-12, got {month!r}")
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise ValueError(f"feedback fee: billed amount for month {month} must be a whole NT$ amount")
    last = max([*by_month, *billed], default=0)
    periods: list[FeePeriod] = []
    cumulative = 0
    previous_due = 0
    for month in range(1, last + 1):
        income = by_month.get(month, 0)
        cumulative += income
        excess = max(0, cumulative - terms.threshold)
        due = round_half_up(Decimal(excess) * terms.feedback_rate)
        fee = due - previous_due
        billed_before = billed.get(month, 0)
        adjustment = fee - billed_before
        zh, en = _explain(terms, month, cumulative, due, previous_due, fee, billed_before, adjustment)
        periods.append(FeePeriod(month=month, income=income, cumulative_income=cumulative, cumulative_fee_due=due,
                                 fee_for_period=fee, billed_before=billed_before, adjustment=adjustment,
                                 explanation_zh=zh, explanation_en=en))
        previous_due = due
    return tuple(periods)


def fee_summary(terms: FeeTerms, schedule: Sequence[FeePeriod]) -> FeeSummary:
    """The year's royalty and feedback-fee totals from a schedule built by :func:`feedback_fee_schedule`."""
    due = schedule[-1].cumulative_fee_due if schedule else 0
    billed = sum(p.billed_before for p in schedule)
    return FeeSummary(year=terms.year, royalty=terms.royalty, feedback_fee_due=due, feedback_fee_billed=billed,
                      feedback_fee_to_bill=due - billed)
