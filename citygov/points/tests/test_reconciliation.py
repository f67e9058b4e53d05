"""Trust-account reconciliation (issue "Points II", item 3): deposits fund purchases, debits settle
instruction lines (several may pay one line), anything else opens an exception; duplicate imports
add nothing; the trust identities hold."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from citygov.core.errors import Forbidden
from citygov.points.models import (
    Account,
    AccountKind,
    BatchStatus,
    LineStatus,
    Purchase,
    PurchaseStatus,
    SettlementPosition,
    StatementLine,
    Transfer,
    TransferKind,
    TrustException,
    TrustExceptionKind,
)
from citygov.points.queries import check_ledger
from citygov.points.services import ledger, reconciliation, settlement
from citygov.points.tests.support import T0

pytestmark = pytest.mark.django_db

TPE = dt.timezone(dt.timedelta(hours=8))
DAY = dt.date(2026, 3, 1)
HEADER = "交易日期,摘要,支出金額,存入金額,餘額,對方銀行代碼,對方帳號,備註\n"


def statement(statement_id: str, *rows: str) -> io.BytesIO:
    return io.BytesIO(("對帳單編號," + statement_id + "\n" + HEADER + "".join(r + "\n" for r in rows)).encode())


@pytest.fixture
def batch(programme):
    """B-20260301 with one line: NT$150 to 桃園好店 (012 1000 / 000111222333)."""
    p = programme
    p.merchant.bank_code, p.merchant.bank_account = "0121000", "000111222333"
    p.merchant.save()
    for member in p.members[:2]:
        ledger.do_grant(p.agency_admin, p.campaign.pk, member.card_number, now=T0)
    ledger.do_redeem(p.ctx, p.members[0].card_number, 100, now=dt.datetime(2026, 3, 1, 18, tzinfo=TPE))
    ledger.do_redeem(p.ctx, p.members[1].card_number, 50, now=dt.datetime(2026, 3, 1, 19, tzinfo=TPE))
    settlement.do_build_batches_through(p.operator, DAY, now=dt.datetime(2026, 3, 2, 1, tzinfo=TPE))
    return settlement.SettlementBatch.objects.get()


def check(p):
    assert reconciliation.check_trust() == []
    assert check_ledger().problems == []


def test_a_matching_debit_settles_the_line_and_moves_the_points_to_settled(programme, batch):
    p = programme
    report = reconciliation.do_import_statement(p.operator, statement(
        "TS-0302", "2026/03/02,撥付,150,,-150,0121000,000111222333,B-20260301 04595257"))

    assert (report.new, report.matched_payouts, report.settled_lines, report.exceptions) == (1, 1, 1, 0)
    position = SettlementPosition.objects.get()
    assert (position.line_status, position.matched) == (LineStatus.SETTLED, 150)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.SETTLED
    settle = Transfer.objects.get(kind=TransferKind.SETTLE)
    assert (settle.amount, settle.agency_id, settle.position_id) == (150, p.agency.pk, position.pk)
    assert Account.objects.get(kind=AccountKind.MERCHANT_PAYABLE, merchant=p.merchant).balance == 0
    check(p)


def test_several_debits_together_pay_one_line(programme, batch):
    p = programme
    reconciliation.do_import_statement(p.operator, statement(
        "TS-0302", "2026/03/02,撥付,100,,-100,0121000,000111222333,B-20260301"))
    position = SettlementPosition.objects.get()
    assert (position.line_status, position.matched) == (LineStatus.INSTRUCTED, 100)
    assert not Transfer.objects.filter(kind=TransferKind.SETTLE).exists()  # settled only when matched in full
    reconciliation.do_import_statement(p.operator, statement(
        "TS-0303", "2026/03/03,撥付,50,,-150,0121000,000111222333,B-20260301"))
    position.refresh_from_db()
    assert (position.line_status, position.matched) == (LineStatus.SETTLED, 150)
    check(p)


def test_importing_the_same_statement_twice_adds_nothing(programme, batch):
    p = programme
    text = statement("TS-0302", "2026/03/02,撥付,150,,-150,0121000,000111222333,B-20260301").getvalue()
    reconciliation.do_import_statement(p.operator, io.BytesIO(text))
    again = reconciliation.do_import_statement(p.operator, io.BytesIO(text))
    assert (again.new, again.already_imported) == (0, 1)
    assert StatementLine.objects.count() == 1
    assert Transfer.objects.filter(kind=TransferKind.SETTLE).count() == 1
    check(p)


@pytest.mark.parametrize(("row", "kind"), [
    ("2026/03/02,手續費,30,,-30,,,", TrustExceptionKind.UNKNOWN_DEBIT),
    ("2026/03/02,撥付,150,,-150,0121000,999999999999,B-20260301", TrustExceptionKind.WRONG_ACCOUNT),
    ("2026/03/02,撥付,160,,-160,0121000,000111222333,B-20260301", TrustExceptionKind.WRONG_AMOUNT),
    ("2026/03/02,撥付,150,,-150,0129999,000111222333,B-20260301", TrustExceptionKind.WRONG_ACCOUNT),
    ("2026/03/02,存入,,5000,5000,0040000,123,PO-UNKNOWN", TrustExceptionKind.UNKNOWN_REFERENCE),
])
def test_a_mismatched_line_opens_an_exception_and_adjusts_nothing(programme, batch, row, kind):
    p = programme
    report = reconciliation.do_import_statement(p.operator, statement("TS-0302", row))
    assert report.exceptions == 1
    exception = TrustException.objects.get()
    assert (exception.kind, exception.status, exception.affects_statement) == (kind, "open", True)
    assert SettlementPosition.objects.get().line_status == LineStatus.INSTRUCTED
    assert not Transfer.objects.filter(kind=TransferKind.SETTLE).exists()
    figures = reconciliation.trust_figures()
    assert figures.statement_balance == figures.book_balance + figures.open_exceptions
    check(p)

    settlement.do_resolve_exception(p.operator, exception.pk, "已與信託銀行確認並處理")
    assert reconciliation.check_trust() == []


def test_a_debit_beyond_a_paid_line_is_an_over_payment(programme, batch):
    p = programme
    report = reconciliation.do_import_statement(p.operator, statement(
        "TS-0302", "2026/03/02,撥付,150,,-150,0121000,000111222333,B-20260301",
        "2026/03/02,撥付,10,,-160,0121000,000111222333,B-20260301"))
    assert (report.matched_payouts, report.exceptions) == (1, 1)
    exception = TrustException.objects.get()
    assert (exception.kind, exception.amount, exception.merchant_id) == (TrustExceptionKind.OVER_PAYMENT, -10,
                                                                         p.merchant.pk)
    assert SettlementPosition.objects.get().line_status == LineStatus.SETTLED
    check(p)


def test_a_credit_with_the_purchase_reference_funds_the_purchase(programme):
    p = programme
    purchase = ledger.do_create_purchase(p.agency_admin, agency_id=p.agency.pk, reference="PO-2026-0099",
                                         points=5000, now=T0)
    report = reconciliation.do_import_statement(p.operator, statement(
        "TS-0305", "2026/03/05,存入,,\"5,000\",5000,0040000,123456,PO-2026-0099"))
    assert report.matched_deposits == 1
    purchase.refresh_from_db()
    assert (purchase.status, purchase.bank_reference) == (PurchaseStatus.FUNDED, "TS-0305#1")
    wrong = ledger.do_create_purchase(p.agency_admin, agency_id=p.agency.pk, reference="PO-2026-0100",
                                      points=5000, now=T0)
    reconciliation.do_import_statement(p.operator, statement(
        "TS-0306", "2026/03/06,存入,,4000,9000,0040000,123456,PO-2026-0100"))
    assert Purchase.objects.get(pk=wrong.pk).status == PurchaseStatus.UNFUNDED
    assert TrustException.objects.get().kind == TrustExceptionKind.DEPOSIT_AMOUNT
    check(p)


def test_bad_rows_are_reported_by_line_and_good_rows_imported(programme, batch):
    p = programme
    report = reconciliation.do_import_statement(p.operator, statement(
        "TS-0302", "2026/13/02,撥付,150,,-150,0121000,000111222333,B-20260301",
        "2026/03/02,撥付,150,,-150,0121000,000111222333,B-20260301"))
    assert [error.line_number for error in report.errors] == [1]
    assert report.new == 1
    assert StatementLine.objects.get().line_number == 2


def test_only_the_operator_imports_statements(programme):
    with pytest.raises(Forbidden):
        reconciliation.do_import_statement(programme.agency_admin, statement("TS-1", "2026/03/02,x,1,,-1,,,"))
    assert StatementLine.objects.count() == 0


def test_the_import_statement_command_reports_bad_rows_and_imports_the_rest(programme, batch, tmp_path):
    from django.core.management import CommandError, call_command

    path = tmp_path / "statement.csv"
    path.write_bytes(statement("TS-CLI", "2026/13/02,撥付,1,,-1,,,",
                               "2026/03/02,撥付,150,,-150,0121000,000111222333,B-20260301").getvalue())
    out = io.StringIO()
    with pytest.raises(CommandError) as error:
        call_command("points", "import-statement", str(path), "--user", "operator", "--format", "jsonl", stdout=out)
    assert error.value.returncode == 1
    assert '"line": 1' in out.getvalue()
    assert SettlementPosition.objects.get().line_status == LineStatus.SETTLED
    with pytest.raises(CommandError) as error:
        call_command("points", "import-statement", str(tmp_path / "missing.csv"), "--user", "operator")
    assert error.value.returncode == 2
    (tmp_path / "bad.csv").write_bytes(b"\x00\x01 not a statement")
    with pytest.raises(CommandError) as error:
        call_command("points", "import-statement", str(tmp_path / "bad.csv"), "--user", "operator")
    assert error.value.returncode == 2
