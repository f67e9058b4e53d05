"""Royalty and feedback fee (issue "Points II", item 4): cumulative recomputation, half-up rounding
once per period, restatements billed as deltas, never touching trust money or points."""

from __future__ import annotations

from decimal import Decimal

import pytest

from citygov.core.errors import Forbidden, InvalidInput, NotFound
from citygov.core.roles import Role
from citygov.points.models import FeeBill, Transfer
from citygov.points.services import fees

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(make_user):
    return make_user("fee-operator", Role.POINTS_OPERATOR)


@pytest.fixture
def contract(operator):
    return fees.do_set_fee_contract(operator, year=2026, royalty=300_000, feedback_rate="0.05", threshold=1_000_000)


def bills():
    return [(b.month, b.kind, b.amount) for b in FeeBill.objects.order_by("id")]


def test_the_royalty_is_billed_once_and_the_fee_starts_above_the_threshold(operator, contract):
    fees.do_enter_income(operator, year=2026, month=1, income=900_000)
    fees.do_enter_income(operator, year=2026, month=2, income=300_000)
    fees.do_enter_income(operator, year=2026, month=3, income=10_010)

    # Jan: 900,000 < threshold → 0. Feb: cumulative 1,200,000 → 5% of 200,000 = 10,000.
    # Mar: 1,210,010 → 5% of 210,010 = 10,500.5 → 10,501 cumulative (half-up) → 501 for March.
    assert bills() == [(None, "royalty", 300_000), (2, "feedback", 10_000), (3, "feedback", 501)]
    statement = fees.fee_statement(2026)
    assert (statement.summary.royalty, statement.summary.feedback_fee_due, statement.summary.feedback_fee_to_bill) \
        == (300_000, 10_501, 0)
    assert statement.billed_total == 310_501
    assert Transfer.objects.count() == 0  # fees never move points or trust money


def test_a_restatement_bills_only_the_difference_up_and_down(operator, contract):
    fees.do_enter_income(operator, year=2026, month=1, income=1_100_000)   # 5,000
    fees.do_enter_income(operator, year=2026, month=2, income=100_000)     # cumulative 10,000 → 5,000
    fees.do_enter_income(operator, year=2026, month=1, income=1_300_000, note="會計師查核後更正")
    # January restated: cumulative Jan 15,000 (+10,000); Feb cumulative 20,000 → still 5,000 for February.
    assert bills()[-1:] == [(1, "adjustment", 10_000)]
    fees.do_enter_income(operator, year=2026, month=2, income=0, note="退貨沖銷")
    assert bills()[-1:] == [(2, "adjustment", -5_000)]
    statement = fees.fee_statement(2026)
    assert statement.summary.feedback_fee_due == 15_000
    assert sum(amount for month, kind, amount in bills() if kind != "royalty") == 15_000
    # the history of entries is kept
    assert [p.income for p in fees.latest_incomes(2026)] == [1_300_000, 0]


def test_changing_the_terms_recomputes_and_bills_the_difference(operator, contract):
    fees.do_enter_income(operator, year=2026, month=1, income=2_000_000)    # 50,000 at 5%
    fees.do_set_fee_contract(operator, year=2026, royalty=300_000, feedback_rate=Decimal("0.06"),
                             threshold=1_000_000)
    assert bills()[-1:] == [(1, "adjustment", 10_000)]
    assert FeeBill.objects.filter(kind="royalty").count() == 1


def test_bad_fee_input_is_refused_and_changes_nothing(operator, contract, make_user):
    before = bills()
    with pytest.raises(InvalidInput):
        fees.do_enter_income(operator, year=2026, month=13, income=5)
    with pytest.raises(InvalidInput):
        fees.do_enter_income(operator, year=2026, month=1, income=-5)
    with pytest.raises(InvalidInput):
        fees.do_enter_income(operator, year=2026, month=1, income="12.5")
    with pytest.raises(InvalidInput):
        fees.do_set_fee_contract(operator, year=2026, royalty=1, feedback_rate="1.5", threshold=0)
    with pytest.raises(NotFound):
        fees.do_enter_income(operator, year=2025, month=1, income=5)
    with pytest.raises(Forbidden):
        fees.do_enter_income(make_user("someone", Role.AGENCY_ADMIN), year=2026, month=1, income=5)
    assert bills() == before


def test_the_fee_page_enters_terms_and_income(operator, client_for, make_user):
    client = client_for(operator)
    empty = client.get("/points/fees/?year=2026")
    assert empty.status_code == 200
    assert 'id="schedule"' not in empty.content.decode()
    client.post("/points/fees/?year=2026", {"year": 2026, "contract-royalty": 300000, "contract-feedback_rate": "0.05",
                                            "contract-threshold": 1000000})
    client.post("/points/fees/?year=2026", {"year": 2026, "income-month": 1, "income-income": 1_200_000})
    html = client.get("/points/fees/?year=2026").content.decode()
    assert '<dd id="fee-due">10000</dd>' in html or '<dd id="fee-due">10,000</dd>' in html
    assert bills() == [(None, "royalty", 300_000), (1, "feedback", 10_000)]
    agency_admin = make_user("agency-admin-fees", Role.AGENCY_ADMIN)
    assert client_for(agency_admin).get("/points/fees/?year=2026").status_code == 403
