"""Refunds to agencies (issue "Points II", item 3): the trust identity's third term.

trust book balance = confirmed deposits − confirmed payouts − confirmed refunds to agencies. A refund
is instructed by the operator (points wait in ``refund_pending``), completed only by a matching
trust-statement debit, and may be cancelled until then; anything that does not match is an exception.
"""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from citygov.core.errors import Conflict, Forbidden, InvalidInput
from citygov.core.models import ChangeLog
from citygov.points.engine import signing_keys
from citygov.points.engine import statement as statement_engine
from citygov.points.models import (
    Account,
    AccountKind,
    AgencyRefund,
    AgencyRefundStatus,
    StatementLine,
    Transfer,
    TransferKind,
    TrustException,
    TrustExceptionKind,
)
from citygov.points.queries import agency_figures, check_ledger
from citygov.points.services import agency_refunds, ledger, reconciliation
from citygov.points.tests.support import T0

pytestmark = pytest.mark.django_db

HEADER = "交易日期,摘要,支出金額,存入金額,餘額,對方銀行代碼,對方帳號,備註\n"
ACCOUNT = ("0040037", "00123456789")  # the agency's account at the city treasury's bank


def statement(statement_id: str, *rows: str) -> io.BytesIO:
    return io.BytesIO(("對帳單編號," + statement_id + "\n" + HEADER + "".join(r + "\n" for r in rows)).encode())


def instruct(p, amount=5_000, source="funded", **extra):
    fields = {"agency_id": p.agency.pk, "amount": amount, "source": source, "bank_code": ACCOUNT[0],
              "bank_account": ACCOUNT[1], "request_reference": "府社助字第1150001234號", "reason": "年度賸餘款繳回",
              "now": T0, **extra}
    return agency_refunds.do_instruct_agency_refund(p.operator, **fields)


def balance(kind, agency) -> int:
    account = Account.objects.filter(kind=kind, agency=agency).first()
    return account.balance if account else 0


def check():
    assert reconciliation.check_trust() == []
    assert check_ledger().problems == []


def test_a_refund_waits_for_the_bank_and_the_matching_debit_completes_it(programme):
    p = programme
    refund = instruct(p)

    assert refund.reference == "RF-20260301-01" and refund.status == AgencyRefundStatus.INSTRUCTED
    assert (balance(AccountKind.AGENCY_FUNDED, p.agency), balance(AccountKind.REFUND_PENDING, p.agency)) == (85_000, 5_000)
    assert Transfer.objects.get(kind=TransferKind.AGENCY_REFUND).agency_refund == refund
    figures = next(f for f in agency_figures() if f.agency_id == p.agency.pk)
    assert (figures.refund_pending, figures.balanced) == (5_000, True)
    assert ChangeLog.objects.filter(note="points.agency_refund").count() == 1
    check()

    report = reconciliation.do_import_statement(p.operator, statement(
        "TS-0302", f"2026/03/02,機關退款,5000,,-5000,{ACCOUNT[0]},{ACCOUNT[1]},RF-20260301-01 賸餘款"))

    assert (report.new, report.matched_refunds, report.matched_payouts, report.exceptions) == (1, 1, 0, 0)
    refund.refresh_from_db()
    assert refund.status == AgencyRefundStatus.REFUNDED and refund.refunded_at is not None
    assert StatementLine.objects.get().agency_refund == refund
    assert (balance(AccountKind.REFUND_PENDING, p.agency), balance(AccountKind.REFUNDED, p.agency)) == (0, 5_000)
    figures = reconciliation.trust_figures()
    assert (figures.agency_refunds, figures.payouts, figures.book_balance, figures.statement_balance) == (
        5_000, 0, -5_000, -5_000)
    check()

    again = reconciliation.do_import_statement(p.operator, statement(
        "TS-0302", f"2026/03/02,機關退款,5000,,-5000,{ACCOUNT[0]},{ACCOUNT[1]},RF-20260301-01 賸餘款"))
    assert (again.new, again.already_imported) == (0, 1)
    assert Transfer.objects.filter(kind=TransferKind.AGENCY_REFUNDED).count() == 1


def test_a_refund_cannot_take_more_than_the_agency_has_and_every_field_is_checked(programme):
    p = programme
    with pytest.raises(InvalidInput) as caught:
        instruct(p, amount=90_001)
    assert caught.value.code == "insufficient_points" and "90,000" in caught.value.message
    with pytest.raises(InvalidInput) as caught:
        instruct(p, agency_id="no-such-agency", amount=0, source="bonus", bank_code="12", bank_account="abc",
                 request_reference="")
    assert set(caught.value.fields) == {"agency", "amount", "source", "bank_code", "bank_account",
                                        "request_reference"}
    with pytest.raises(InvalidInput):
        instruct(p, source="expired")  # nothing has expired yet
    assert not AgencyRefund.objects.exists()
    assert not Transfer.objects.filter(kind=TransferKind.AGENCY_REFUND).exists()
    assert balance(AccountKind.AGENCY_FUNDED, p.agency) == 90_000


def test_expired_points_can_be_refunded(programme):
    p = programme
    ledger.do_grant(p.agency_admin, p.campaign.pk, p.members[0].card_number, now=T0)
    assert ledger.do_expire_lots(now=T0 + dt.timedelta(days=31)) == 1
    assert balance(AccountKind.EXPIRED, p.agency) == 100

    refund = instruct(p, amount=100, source="expired", now=T0 + dt.timedelta(days=32))

    assert refund.reference == "RF-20260402-01"
    assert (balance(AccountKind.EXPIRED, p.agency), balance(AccountKind.REFUND_PENDING, p.agency)) == (0, 100)
    check()


def test_only_the_operator_instructs_or_cancels_a_refund(programme):
    p = programme
    with pytest.raises(Forbidden):
        agency_refunds.do_instruct_agency_refund(
            p.agency_admin, agency_id=p.agency.pk, amount=100, source="funded", bank_code=ACCOUNT[0],
            bank_account=ACCOUNT[1], request_reference="府社助字第1號")
    refund = instruct(p)
    with pytest.raises(Forbidden):
        agency_refunds.do_cancel_agency_refund(p.agency_admin, refund.pk, reason="the agency changed its mind")


def test_a_debit_that_does_not_fit_opens_an_exception_and_the_refund_stays_pending(programme):
    p = programme
    instruct(p)
    report = reconciliation.do_import_statement(p.operator, statement(
        "TS-0302",
        f"2026/03/02,機關退款,4000,,-4000,{ACCOUNT[0]},{ACCOUNT[1]},RF-20260301-01",
        "2026/03/02,機關退款,5000,,-9000,0040037,99999999,RF-20260301-01",
        f"2026/03/02,機關退款,10,,-9010,{ACCOUNT[0]},{ACCOUNT[1]},RF-20260301-07"))

    assert (report.new, report.matched_refunds, report.exceptions) == (3, 0, 3)
    kinds = sorted(TrustException.objects.values_list("kind", flat=True))
    assert kinds == sorted([TrustExceptionKind.WRONG_AMOUNT, TrustExceptionKind.WRONG_ACCOUNT,
                            TrustExceptionKind.UNKNOWN_DEBIT])
    assert "RF-20260301-07" in TrustException.objects.get(kind=TrustExceptionKind.UNKNOWN_DEBIT).detail
    assert AgencyRefund.objects.get().status == AgencyRefundStatus.INSTRUCTED
    assert reconciliation.trust_figures().open_exceptions == -9_010
    check()


def test_a_second_debit_for_a_paid_refund_is_an_over_payment(programme):
    p = programme
    instruct(p)
    row = f"2026/03/02,機關退款,5000,,,{ACCOUNT[0]},{ACCOUNT[1]},RF-20260301-01"
    report = reconciliation.do_import_statement(p.operator, statement("TS-0302", row, row))
    assert (report.matched_refunds, report.exceptions) == (1, 1)
    assert TrustException.objects.get().kind == TrustExceptionKind.OVER_PAYMENT
    later = reconciliation.do_import_statement(p.operator, statement("TS-0303", row))
    assert (later.matched_refunds, later.exceptions) == (0, 1)
    assert TrustException.objects.filter(kind=TrustExceptionKind.OVER_PAYMENT).count() == 2
    check()


def test_cancelling_returns_the_points_and_a_late_debit_is_an_exception(programme):
    p = programme
    refund = instruct(p)
    with pytest.raises(InvalidInput):
        agency_refunds.do_cancel_agency_refund(p.operator, refund.pk, reason="no")
    agency_refunds.do_cancel_agency_refund(p.operator, refund.pk, reason="機關撤回申請（來函）")

    refund.refresh_from_db()
    assert refund.status == AgencyRefundStatus.CANCELLED
    assert (balance(AccountKind.AGENCY_FUNDED, p.agency), balance(AccountKind.REFUND_PENDING, p.agency)) == (90_000, 0)
    with pytest.raises(Conflict):
        agency_refunds.do_cancel_agency_refund(p.operator, refund.pk, reason="機關撤回申請（來函）")
    report = reconciliation.do_import_statement(p.operator, statement(
        "TS-0302", f"2026/03/02,機關退款,5000,,-5000,{ACCOUNT[0]},{ACCOUNT[1]},RF-20260301-01"))
    assert (report.matched_refunds, report.exceptions) == (0, 1)
    assert TrustException.objects.get().kind == TrustExceptionKind.UNKNOWN_DEBIT
    check()


def test_the_instruction_is_signed_and_verifies(programme, settings, tmp_path):
    private_pem, public_pem = signing_keys.generate_key_pair()
    settings.POINTS_SIGNING_KEY = private_pem.decode()
    refund = instruct(programme)

    payload = refund.instruction.encode()
    document = json.loads(payload)
    assert (document["reference"], document["amount"], document["bank_account"], document["source"]) == (
        "RF-20260301-01", 5_000, ACCOUNT[1], "funded")
    assert document["format"] == "citygov-points-refund-instruction/1"
    signature = agency_refunds.refund_signature_file(refund)
    assert signing_keys.check_signature_file(public_pem, payload, signature).ok
    assert not signing_keys.check_signature_file(public_pem, payload.replace(b"5000", b"9000"), signature).ok

    (tmp_path / "instr.json").write_bytes(payload)
    (tmp_path / "instr.sig").write_bytes(signature)
    (tmp_path / "pub.pem").write_bytes(public_pem)
    out = io.StringIO()
    call_command("points", "verify-instruction", str(tmp_path / "instr.json"), "--signature", str(tmp_path / "instr.sig"),
                 "--public-key", str(tmp_path / "pub.pem"), stdout=out)
    assert "signature ok" in out.getvalue()


def test_refund_agency_command(programme, tmp_path):
    out = io.StringIO()
    call_command("points", "refund-agency", "--agency", programme.agency.code, "--amount", "1200", "--from", "funded",
                 "--bank-code", ACCOUNT[0], "--bank-account", ACCOUNT[1], "--request", "府社助字第2號",
                 "--user", "operator", "--out", str(tmp_path), "--format", "jsonl", stdout=out)
    summary = json.loads(out.getvalue())
    assert summary["amount"] == 1200 and summary["reference"].startswith("RF-")
    assert (tmp_path / f"{summary['reference']}.json").read_bytes() == AgencyRefund.objects.get().instruction.encode()

    with pytest.raises(CommandError) as unknown:
        call_command("points", "refund-agency", "--agency", "no-such-agency", "--amount", "1", "--from", "funded",
                     "--bank-code", ACCOUNT[0], "--bank-account", ACCOUNT[1], "--request", "府社助字第5號",
                     "--user", "operator")
    assert unknown.value.returncode == 2 and "查無此機關" in str(unknown.value)
    with pytest.raises(CommandError) as too_much:
        call_command("points", "refund-agency", "--agency", programme.agency.code, "--amount", "10000000",
                     "--from", "funded", "--bank-code", ACCOUNT[0], "--bank-account", ACCOUNT[1],
                     "--request", "府社助字第6號", "--user", "operator")
    assert too_much.value.returncode == 2 and "amount" in str(too_much.value)
    assert AgencyRefund.objects.count() == 1


def test_pages_and_api(programme, client_for):
    p = programme
    operator = client_for(p.operator)
    page = operator.get(reverse("points:settlement_refunds"))
    assert page.status_code == 200 and "new-refund" in page.content.decode()

    response = operator.post(reverse("points:settlement_refund_create"), {
        "agency": p.agency.pk, "source": "funded", "amount": "2500", "bank_code": ACCOUNT[0],
        "bank_account": ACCOUNT[1], "request_reference": "府社助字第3號", "reason": ""})
    assert response.status_code == 302
    refund = AgencyRefund.objects.get()
    assert refund.amount == 2500
    html = operator.get(reverse("points:settlement_refunds")).content.decode()
    assert "RF-20" in html and "2,500" in html
    download = operator.get(reverse("points:settlement_refund_download", args=[refund.pk, "json"]))
    assert download.content == refund.instruction.encode()

    listed = operator.get("/api/points/settlement/agency-refunds/?status=instructed").json()
    assert [(r["reference"], r["amount"], r["status"]) for r in listed] == [(refund.reference, 2500, "instructed")]
    detail = operator.get(f"/api/points/settlement/agency-refunds/{refund.reference}/").json()
    assert detail["instruction"] == refund.instruction and detail["statement_line"] is None
    assert operator.get("/api/points/settlement/agency-refunds/?status=paid").status_code == 400

    too_much = operator.post(reverse("points:settlement_refund_create"), {
        "agency": p.agency.pk, "source": "funded", "amount": "999999", "bank_code": ACCOUNT[0],
        "bank_account": ACCOUNT[1], "request_reference": "府社助字第4號"}, follow=True)
    assert "87,500" in too_much.content.decode()
    assert AgencyRefund.objects.count() == 1

    operator.post(reverse("points:settlement_refund_cancel", args=[refund.pk]), {"reason": "機關撤回申請"})
    assert AgencyRefund.objects.get().status == AgencyRefundStatus.CANCELLED

    agency = client_for(p.agency_admin)
    assert agency.get(reverse("points:settlement_refunds")).status_code == 403
    assert agency.get("/api/points/settlement/agency-refunds/").status_code == 403
    assert agency.post(reverse("points:settlement_refund_create"), {"agency": p.agency.pk}).status_code == 403


def test_the_engine_leaves_other_lines_for_the_payout_and_deposit_matching():
    def line(number, amount, reference, account="00123456789"):
        return statement_engine.StatementLine(
            statement_id="S", line_number=number, booked_on=dt.date(2026, 3, 2), amount=amount, reference=reference,
            counterparty_bank_code="004", counterparty_account=account, description="", balance_after=None)

    refs = [statement_engine.RefundRef("RF-20260301-01", "0040037", "123456789", 500)]
    lines = [line(1, -500, "rf20260301-01"), line(2, -150, "B-20260301"), line(3, 800, "PO-1"),
             line(4, -500, "RF-20260301-01")]
    matches, unmatched, rest = statement_engine.match_agency_refunds(refs, lines)
    assert [(m.reference, m.line_number, m.amount) for m in matches] == [("RF-20260301-01", 1, 500)]
    assert [(u.line_number, u.reason) for u in unmatched] == [(4, "over_payment")]
    assert [r.line_number for r in rest] == [2, 3]
    assert statement_engine.referenced_refunds("退款 RF20260301-02、ＲＦ-20260301-103") == [
        "RF-20260301-02", "RF-20260301-103"]
