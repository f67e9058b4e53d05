"""Demo settlement: purchases funded by trust-statement deposits, recent daily batches, a bank
statement that settles most of them and pays one refund to an agency (the money of its expired
points), one open exception (a bank fee nobody instructed), and this year's fee terms with monthly income.

Everything goes through the services, like the rest of the points demo. The signing key is created
in the state directory (``var/``) when none is configured, so the demo batches are signed; a real
deployment configures its own key (``CITYGOV_POINTS_SIGNING_KEY`` / ``_FILE``).
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from django.conf import settings
from django.db.models import Sum

from citygov.points.models import (
    Account,
    AccountKind,
    AgencyRefund,
    FeeContract,
    LineStatus,
    Purchase,
    SettlementBatch,
    SettlementPosition,
    StatementLine,
)
from citygov.points.services import agency_refunds, fees, reconciliation, settlement

BATCH_DAYS = 12        # batches of the last 12 days (the first also takes everything before it)
UNSETTLED_DAYS = 2     # the bank has not yet paid the last two days
BANK_FEE = 30
HEADER = "交易日期,摘要,支出金額,存入金額,餘額,對方銀行代碼,對方帳號,備註"
# The funding agency's own account (at the city treasury's bank), where refunds go back to.
AGENCY_BANK = ("0040037", "037001234567")


def _balance() -> int:
    """What the trust account's lines imported so far add up to (the next line's running balance starts here)."""
    return StatementLine.objects.aggregate(t=Sum("amount"))["t"] or 0


def fund_by_statement(admin, purchase: Purchase, *, booked_at: dt.datetime) -> None:
    """Fund a demo purchase the way production does: the trust bank's statement shows the agency's
    deposit with the purchase reference, and reconciliation matches it."""
    balance = _balance() + purchase.points
    text = (f"對帳單編號,TS-DEMO-{purchase.reference}\n{HEADER}\n"
            f"{booked_at:%Y/%m/%d},機關撥入,,{purchase.points},{balance},,,{purchase.reference}\n")
    reconciliation.do_import_statement(admin, io.BytesIO(text.encode("utf-8")), file_name="demo-deposit.csv",
                                       now=booked_at)


def _ensure_signing_key() -> None:
    if settings.POINTS_SIGNING_KEY:
        return
    path = Path(settings.POINTS_SIGNING_KEY_FILE)
    if not path.exists():
        settlement.do_generate_signing_key(path)


def _statement(batches: list[SettlementBatch], refunds: list[AgencyRefund], today: dt.date) -> bytes:
    """The trust bank's statement: each line of the settled batches paid, the refunds to agencies paid,
    plus an unexplained fee."""
    rows = ["對帳單編號,TS-DEMO-" + today.strftime("%Y%m%d"), HEADER]
    balance = _balance()
    for batch in batches:
        paid_on = batch.business_day + dt.timedelta(days=1)
        for line in SettlementPosition.objects.filter(batch=batch, amount__gt=0,
                                                      line_status=LineStatus.INSTRUCTED).order_by("pk"):
            balance -= line.amount
            rows.append(f"{paid_on:%Y/%m/%d},撥付,{line.amount},,{balance},{line.bank_code},{line.bank_account},"
                        f"{batch.batch_id}")
    for refund in refunds:
        balance -= refund.amount
        rows.append(f"{today:%Y/%m/%d},機關退款,{refund.amount},,{balance},{refund.bank_code},{refund.bank_account},"
                    f"{refund.reference}")
    balance -= BANK_FEE
    rows.append(f"{today:%Y/%m/%d},手續費,{BANK_FEE},,{balance},,,")
    return ("\n".join(rows) + "\n").encode("utf-8")


def seed_settlement_demo(admin, *, now: dt.datetime) -> int:
    """Build the demo batches, reconcile a statement and enter fees; returns the batches built."""
    if SettlementBatch.objects.exists():
        return 0
    _ensure_signing_key()
    last = settlement.last_closed_day(now)
    first = last - dt.timedelta(days=BATCH_DAYS - 1)
    settlement.do_build_batches_through(admin, first, now=now)
    result = settlement.do_build_batches_through(admin, last, now=now)
    batches = list(SettlementBatch.objects.order_by("business_day"))
    settled = [b for b in batches if b.business_day <= last - dt.timedelta(days=UNSETTLED_DAYS)]
    refunds = []
    expired = Account.objects.filter(kind=AccountKind.EXPIRED, balance__gt=0).order_by("-balance").first()
    if expired is not None:  # the agency asks for the money of its expired points back
        refunds.append(agency_refunds.do_instruct_agency_refund(
            admin, agency_id=expired.agency_id, amount=expired.balance, source="expired", bank_code=AGENCY_BANK[0],
            bank_account=AGENCY_BANK[1], request_reference="府社助字第1150000321號",
            reason="逾期未使用點數之款項繳回", now=now - dt.timedelta(days=1)))
    reconciliation.do_import_statement(
        admin, io.BytesIO(_statement(settled, refunds, settlement.business_day_of(now))),
        file_name="demo-statement.csv", now=now)
    year = settlement.business_day_of(now).year
    if not FeeContract.objects.filter(year=year).exists():
        fees.do_set_fee_contract(admin, year=year, royalty=300_000, feedback_rate="0.05", threshold=1_000_000)
        for month, income in zip(range(1, settlement.business_day_of(now).month), (
                180_000, 150_000, 210_000, 160_000, 175_000, 190_000, 205_000, 170_000, 185_000, 200_000, 195_000),
                strict=False):
            fees.do_enter_income(admin, year=year, month=month, income=income, now=now)
    return len(result.built) + 1
