"""The monthly report pack (issue "Points II", item 6): figures, PDF and XLSX, the command, the page and
the settlement API."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse
from openpyxl import load_workbook

from citygov.core.errors import InvalidInput
from citygov.core.roles import Role
from citygov.points.engine import report_pack as engine
from citygov.points.models import AccountKind, TrustExceptionStatus
from citygov.points.services import fees, ledger, reconciliation, settlement
from citygov.points.services.report_pack import month_pack, parse_month
from citygov.points.tests.test_engine_instruction import _pdf_content, _pdf_string

pytestmark = pytest.mark.django_db

TPE = dt.timezone(dt.timedelta(hours=8))
HEADER = "交易日期,摘要,支出金額,存入金額,餘額,對方銀行代碼,對方帳號,備註\n"
NOW = dt.datetime(2026, 5, 2, 12, tzinfo=TPE)


def statement(statement_id: str, *rows: str) -> io.BytesIO:
    return io.BytesIO(("對帳單編號," + statement_id + "\n" + HEADER + "".join(r + "\n" for r in rows)).encode())


@pytest.fixture
def settled_march(programme):
    """March 2026: two grants, two redemptions (150), batch B-20260301 paid by the bank on 03/02, a
    bank fee of NT$30 nobody instructed (an open exception); a third grant on 03/30 and in April one
    more redemption (40)."""
    p = programme
    p.merchant.bank_code, p.merchant.bank_account = "0121000", "000111222333"
    p.merchant.save()
    for member in p.members[:2]:
        ledger.do_grant(p.agency_admin, p.campaign.pk, member.card_number, now=dt.datetime(2026, 3, 1, 17, tzinfo=TPE))
    ledger.do_redeem(p.ctx, p.members[0].card_number, 100, now=dt.datetime(2026, 3, 1, 18, tzinfo=TPE))
    ledger.do_redeem(p.ctx, p.members[1].card_number, 50, now=dt.datetime(2026, 3, 1, 19, tzinfo=TPE))
    settlement.do_build_batches_through(p.operator, dt.date(2026, 3, 1), now=dt.datetime(2026, 3, 2, 1, tzinfo=TPE))
    reconciliation.do_import_statement(p.operator, statement(
        "TS-0302", "2026/03/02,撥付,150,,-150,0121000,000111222333,B-20260301 04595257",
        "2026/03/03,手續費,30,,-180,,,"), now=dt.datetime(2026, 3, 3, 10, tzinfo=TPE))
    ledger.do_grant(p.agency_admin, p.campaign.pk, p.members[1].card_number, now=dt.datetime(2026, 3, 30, 9, tzinfo=TPE))
    ledger.do_redeem(p.ctx, p.members[1].card_number, 40, now=dt.datetime(2026, 4, 2, 12, tzinfo=TPE))
    fees.do_set_fee_contract(p.operator, year=2026, royalty=300_000, feedback_rate=Decimal("0.05"),
                             threshold=1_000_000)
    fees.do_enter_income(p.operator, year=2026, month=3, income=1_200_000)
    return p


def _roll(pack, kind):
    return next(row for row in pack.accounts if row.kind == kind)


def test_march_figures(settled_march):
    pack = month_pack(2026, 3, now=NOW)
    assert (pack.points.issued, pack.points.spent, pack.points.transactions) == (300, 150, 2)
    assert (pack.points.outstanding_start, pack.points.outstanding_end) == (0, 150)
    assert pack.ledger_balanced
    assert all(row.opening == 0 for row in pack.accounts)  # the programme began in March
    assert _roll(pack, AccountKind.SETTLED).closing == 150
    assert _roll(pack, AccountKind.MERCHANT_PAYABLE).closing == 0
    trust = pack.trust
    assert (trust.payouts, trust.unmatched, trust.statement_closing) == (150, -30, -180)
    assert (trust.book_closing, trust.open_exceptions, trust.difference, trust.reconciles) == (-150, -30, 0, True)
    [payout] = pack.payouts
    assert (payout.batch_id, payout.merchant_code, payout.amount, payout.transactions, payout.confirmed) == (
        "B-20260301", "04595257", 150, 2, 150)
    assert payout.settled_on == dt.date(2026, 3, 3)
    [exception] = pack.exceptions
    assert (exception.amount, exception.status) == (-30, str(TrustExceptionStatus.OPEN.label))
    assert (pack.fees.income, pack.fees.cumulative_fee_due, pack.fees.year_to_date_due) == (
        1_200_000, 10_000, 310_000)


def test_a_past_month_keeps_its_balances_and_the_next_month_opens_where_it_closed(settled_march):
    march = month_pack(2026, 3, now=NOW)
    april = month_pack(2026, 4, now=NOW)
    assert (april.points.outstanding_start, april.points.outstanding_end, april.points.spent) == (150, 110, 40)
    for closed, opened in zip(march.accounts, april.accounts, strict=True):
        assert closed.closing == opened.opening, closed.kind
    assert april.ledger_balanced
    assert april.payouts == () and april.trust.statement_opening == -180
    # The exception is still open at the end of April; its resolution in May does not rewrite April.
    exception = reconciliation.TrustException.objects.get()
    settlement.do_resolve_exception(settled_march.operator, exception.pk, "銀行手續費，由營運機構吸收",
                                    now=dt.datetime(2026, 5, 1, 9, tzinfo=TPE))
    april_again = month_pack(2026, 4, now=NOW)
    assert april_again.exceptions[0].status == str(TrustExceptionStatus.OPEN.label)
    assert april_again.trust.open_exceptions == -30
    may = month_pack(2026, 5, now=NOW)
    assert may.exceptions[0].status == str(TrustExceptionStatus.RESOLVED.label)
    assert (may.trust.open_exceptions, may.trust.book_closing, may.trust.reconciles) == (0, -180, True)
    # A month with no income entered shows the cumulative position so far and nothing to bill.
    assert (april.fees.income, april.fees.cumulative_fee_due, april.fees.adjustment) == (0, 10_000, 0)
    assert "本月尚未結束" in may.notes[0]


def test_bad_months_are_refused_in_both_languages():
    for text in ("2026-13", "26/03", "", "2026-3-1"):
        with pytest.raises(InvalidInput, match="YYYY-MM"):
            parse_month(text)
    with pytest.raises(InvalidInput, match="has not begun"):
        month_pack(2026, 6, now=NOW)


def test_pdf_and_xlsx_carry_every_section(settled_march):
    pack = month_pack(2026, 3, now=NOW)
    pdf = engine.to_pdf(pack)
    assert pdf.startswith(b"%PDF-") and b"/Encoding /UniCNS-UCS2-H" in pdf
    content = _pdf_content(pdf)
    for text in ("點數計畫月報", "一、點數發放、使用、失效與流通", "二、帳戶餘額變動（複式記帳）", "三、信託專戶對帳",
                 "四、特約商店撥付明細", "五、例外事項", "六、權利金與回饋金", "桃園好店", "B-20260301", "相符",
                 "第 1 頁，共"):
        assert _pdf_string(text) in content, text
    assert engine.to_pdf(pack) == pdf  # deterministic

    book = load_workbook(io.BytesIO(engine.to_xlsx(pack)))
    assert book.sheetnames == ["摘要", "帳戶餘額", "信託專戶對帳", "撥付明細", "例外事項", "權利金與回饋金"]
    summary = {row[0]: row[1] for row in book["摘要"].iter_rows(values_only=True) if row and row[0]}
    assert (summary["本月發放"], summary["本月使用（扣除退款）"], summary["月底流通點數（會員持有）"]) == (300, 150, 150)
    payouts = list(book["撥付明細"].iter_rows(values_only=True))
    assert payouts[1][:8] == ("B-20260301", "2026-03-01", "04595257", "桃園好店", "0121000", "000111222333", 150, 2)
    trust = {row[0]: row[1] for row in book["信託專戶對帳"].iter_rows(values_only=True)}
    assert (trust["月底對帳單餘額"], trust["月底未結例外（含正負）"], trust["結論"]) == (-180, -30, "相符")
    fee_rows = {row[0]: row[1] for row in book["權利金與回饋金"].iter_rows(values_only=True)}
    assert fee_rows["累計應收回饋金"] == 10_000


def test_xlsx_never_carries_a_formula_from_a_name(settled_march):
    settled_march.merchant.name = "=HYPERLINK(\"http://x\")"
    settled_march.merchant.save()
    book = load_workbook(io.BytesIO(engine.to_xlsx(month_pack(2026, 3, now=NOW))))
    assert book["撥付明細"]["D2"].value.startswith("'=")


def test_month_pack_command_writes_both_files(settled_march, tmp_path, capsys):
    call_command("points", "month-pack", "--month", "2026-03", "--out", str(tmp_path), "--format", "jsonl")
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (summary["issued"], summary["payouts"], summary["trust_reconciles"]) == (300, 150, True)
    assert (tmp_path / "points-month-2026-03.pdf").read_bytes().startswith(b"%PDF-")
    assert load_workbook(tmp_path / "points-month-2026-03.xlsx").sheetnames[0] == "摘要"
    from django.core.management.base import CommandError

    with pytest.raises(CommandError) as failed:
        call_command("points", "month-pack", "--month", "2026-13", "--out", str(tmp_path))
    assert failed.value.returncode == 2


def test_page_and_downloads_need_the_settlement_capability(settled_march, client_for, make_user):
    client = client_for(settled_march.operator)
    page = client.get(reverse("points:month_pack"), {"month": "2026-03"})
    assert page.status_code == 200
    text = page.content.decode()
    assert 'id="pack-issued">300<' in text and "B-20260301" in text and "桃園好店" in text
    pdf = client.get(reverse("points:month_pack_download", args=["2026-03", "pdf"]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    assert 'filename="points-month-2026-03.pdf"' in pdf["Content-Disposition"]
    xlsx = client.get(reverse("points:month_pack_download", args=["2026-03", "xlsx"]))
    assert load_workbook(io.BytesIO(xlsx.content)).sheetnames[0] == "摘要"
    assert client.get(reverse("points:month_pack_download", args=["2026-03", "doc"])).status_code == 404
    bad = client.get(reverse("points:month_pack"), {"month": "2026-13"}, follow=True)
    assert "YYYY-MM" in bad.content.decode()
    agency_staff = client_for(settled_march.agency_admin)
    assert agency_staff.get(reverse("points:month_pack"), {"month": "2026-03"}).status_code == 403
    auditor = make_user("auditor", Role.AUDITOR)
    assert client_for(auditor).get(reverse("points:month_pack_download", args=["2026-03", "xlsx"])).status_code == 200


def test_settlement_api(settled_march, api_client_for):
    api = api_client_for(settled_march.operator)
    batches = api.get("/api/points/settlement/batches/").json()
    assert [b["batch_id"] for b in batches] == ["B-20260301"]
    assert batches[0]["total_amount"] == 150 and batches[0]["status"] == "settled"
    detail = api.get("/api/points/settlement/batches/B-20260301/").json()
    [position] = [row for row in detail["positions"] if row["line"]]
    assert (position["merchant_code"], position["amount"], position["line_status"], position["matched"]) == (
        "04595257", 150, "settled", 150)
    assert api.get("/api/points/settlement/batches/B-20990101/").status_code == 404
    assert api.get("/api/points/settlement/batches/", {"before": "2026-03-01"}).json() == []
    assert api.get("/api/points/settlement/batches/", {"before": "yesterday"}).status_code == 400
    open_ones = api.get("/api/points/settlement/exceptions/", {"status": "open"}).json()
    assert [(row["amount"], row["kind"]) for row in open_ones] == [(-30, "unknown_debit")]
    assert api.get("/api/points/settlement/exceptions/", {"status": "maybe"}).status_code == 400
    trust = api.get("/api/points/settlement/trust/").json()
    assert (trust["statement_balance"], trust["book_balance"], trust["open_exceptions"], trust["problems"]) == (
        -180, -150, -30, [])
    pack = api.get("/api/points/reports/month/2026-03/").json()
    assert (pack["label"], pack["points"]["issued"], pack["trust"]["reconciles"], pack["payout_total"]) == (
        "2026-03", 300, True, 150)
    assert api.get("/api/points/reports/month/2026-13/").status_code == 400
    outsider = api_client_for(settled_march.agency_admin)
    assert outsider.get("/api/points/settlement/batches/").status_code == 403
    assert outsider.get("/api/points/reports/month/2026-03/").status_code == 403
    assert api.post("/api/points/settlement/batches/", {}).status_code == 405
