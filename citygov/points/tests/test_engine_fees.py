"""Royalty and feedback fee engine: cumulative figures, half-up rounding once per period, restatements by delta."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citygov.points.engine.fees import (
    FeeTerms,
    MonthIncome,
    fee_summary,
    feedback_fee_schedule,
    round_half_up,
)

TERMS = FeeTerms(year=2026, royalty=300_000, feedback_rate=Decimal("0.05"), threshold=1_000_000)


def _incomes(*figures: int) -> list[MonthIncome]:
    return [MonthIncome(month, income) for month, income in enumerate(figures, start=1)]


def test_issue_example_threshold_one_million_at_five_percent():
    # 400k + 400k = 800k (below the threshold), then 500k: cumulative 1.3M, 300k above → 15,000.
    schedule = feedback_fee_schedule(TERMS, _incomes(400_000, 400_000, 500_000, 200_000))
    assert [p.cumulative_income for p in schedule] == [400_000, 800_000, 1_300_000, 1_500_000]
    assert [p.cumulative_fee_due for p in schedule] == [0, 0, 15_000, 25_000]
    assert [p.fee_for_period for p in schedule] == [0, 0, 15_000, 10_000]
    assert [p.adjustment for p in schedule] == [0, 0, 15_000, 10_000]
    summary = fee_summary(TERMS, schedule)
    assert (summary.royalty, summary.feedback_fee_due, summary.total_due) == (300_000, 25_000, 325_000)


def test_threshold_crossed_mid_month_charges_only_the_excess():
    schedule = feedback_fee_schedule(TERMS, _incomes(999_990, 30))
    assert schedule[0].cumulative_fee_due == 0
    # 20 above the threshold × 5% = 1.0
    assert schedule[1].fee_for_period == 1


def test_rounding_is_half_up_once_on_the_cumulative_figure():
    # 10 above → 0.5 → 1 ; 20 above → 1.0 → 1 (so the second month adds 0, not another rounded 0.5 → 1)
    schedule = feedback_fee_schedule(TERMS, _incomes(1_000_010, 10))
    assert [p.cumulative_fee_due for p in schedule] == [1, 1]
    assert [p.fee_for_period for p in schedule] == [1, 0]
    assert round_half_up(Decimal("2.5")) == 3
    assert round_half_up(Decimal("2.4999")) == 2


def test_zero_income_and_gaps_count_as_zero_months():
    schedule = feedback_fee_schedule(TERMS, [MonthIncome(1, 0), MonthIncome(3, 1_200_000)])
    assert [(p.month, p.income, p.fee_for_period) for p in schedule] == [(1, 0, 0), (2, 0, 0), (3, 1_200_000, 10_000)]
    assert feedback_fee_schedule(TERMS, []) == ()


def test_restatement_up_bills_only_the_delta_now():
    billed = {1: 0, 2: 0, 3: 15_000}
    restated = feedback_fee_schedule(TERMS, _incomes(400_000, 600_000, 500_000), already_billed=billed)
    # February restated 400k → 600k: cumulative at March 1.5M → 25,000 due; 15,000 billed → adjust +10,000
    assert [p.fee_for_period for p in restated] == [0, 0, 25_000]
    assert [p.adjustment for p in restated] == [0, 0, 10_000]
    assert restated[2].billed_before == 15_000
    assert "本次調整 NT$+10,000" in restated[2].explanation_zh
    assert "adjustment now NT$+10,000" in restated[2].explanation_en
    assert "已開立" not in restated[0].explanation_zh
    assert fee_summary(TERMS, restated).feedback_fee_to_bill == 10_000


def test_restatement_down_credits_the_delta_and_can_move_the_fee_between_months():
    billed = {1: 0, 2: 5_000, 3: 10_000}
    # Previously 400k, 700k, 200k → billed 0, 5,000, 10,000. February restated down to 500k.
    restated = feedback_fee_schedule(TERMS, _incomes(400_000, 500_000, 200_000), already_billed=billed)
    assert [p.cumulative_fee_due for p in restated] == [0, 0, 5_000]
    assert [p.fee_for_period for p in restated] == [0, 0, 5_000]
    assert [p.adjustment for p in restated] == [0, -5_000, -5_000]
    assert fee_summary(TERMS, restated).feedback_fee_to_bill == -10_000


def test_explanation_states_the_arithmetic_in_both_languages():
    period = feedback_fee_schedule(TERMS, _incomes(1_300_000))[0]
    assert period.explanation_zh == ("2026年1月：累計營業收入 NT$1,300,000，門檻 NT$1,000,000，超過部分 NT$300,000 × 5% = "
                                     "累計應收回饋金 NT$15,000（四捨五入至元）；減前期累計 NT$0，本期回饋金 NT$15,000。")
    assert period.explanation_en.startswith("2026-01: cumulative operating income NT$1,300,000, threshold")
    assert period.explanation.splitlines() == [period.explanation_zh, period.explanation_en]


@pytest.mark.parametrize("kwargs", [
    {"royalty": -1}, {"feedback_rate": Decimal("1.5")}, {"feedback_rate": 0.05}, {"threshold": -5},
    {"period": "quarter"}, {"year": 115},
])
def test_bad_terms_are_refused(kwargs):
    values = {"year": 2026, "royalty": 300_000, "feedback_rate": Decimal("0.05"), "threshold": 1_000_000} | kwargs
    with pytest.raises(ValueError):
        FeeTerms(**values)


def test_bad_incomes_are_refused():
    with pytest.raises(ValueError, match="month must be 1-12"):
        MonthIncome(13, 0)
    with pytest.raises(ValueError, match="income must be a whole"):
        MonthIncome(1, -1)
    with pytest.raises(ValueError, match="appears twice"):
        feedback_fee_schedule(TERMS, [MonthIncome(1, 5), MonthIncome(1, 6)])
    with pytest.raises(ValueError, match="billed month"):
        feedback_fee_schedule(TERMS, [], already_billed={0: 5})


@settings(max_examples=200, deadline=None)
@given(incomes=st.lists(st.integers(min_value=0, max_value=5_000_000), min_size=1, max_size=12),
       rate=st.decimals(min_value=0, max_value=1, places=4),
       threshold=st.integers(min_value=0, max_value=10_000_000))
def test_period_fees_add_up_to_the_final_cumulative_fee(incomes, rate, threshold):
    terms = FeeTerms(year=2026, royalty=0, feedback_rate=rate, threshold=threshold)
    schedule = feedback_fee_schedule(terms, _incomes(*incomes))
    assert sum(p.fee_for_period for p in schedule) == schedule[-1].cumulative_fee_due
    assert all(p.fee_for_period >= 0 for p in schedule)
    assert schedule[-1].cumulative_fee_due == round_half_up(max(0, sum(incomes) - threshold) * rate)


@settings(max_examples=150, deadline=None)
@given(before=st.lists(st.integers(min_value=0, max_value=3_000_000), min_size=12, max_size=12),
       after=st.lists(st.integers(min_value=0, max_value=3_000_000), min_size=12, max_size=12))
def test_billing_the_adjustments_after_a_restatement_reaches_the_restated_total(before, after):
    first = feedback_fee_schedule(TERMS, _incomes(*before))
    billed = {p.month: p.fee_for_period for p in first}
    second = feedback_fee_schedule(TERMS, _incomes(*after), already_billed=billed)
    assert sum(billed.values()) + sum(p.adjustment for p in second) == second[-1].cumulative_fee_due
