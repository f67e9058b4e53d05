"""The demo settles a few days through a bank statement and leaves one open exception."""

from __future__ import annotations

import pytest

from citygov.core.roles import Role
from citygov.points.demo import seed_points_demo
from citygov.points.models import (
    AgencyRefund,
    AgencyRefundStatus,
    BatchStatus,
    FeeBill,
    Purchase,
    PurchaseStatus,
    SettlementBatch,
    TrustException,
)
from citygov.points.services import reconciliation, settlement

pytestmark = pytest.mark.django_db


def test_the_demo_has_settled_days_an_open_exception_and_fees(reference_data, make_user, settings, tmp_path):
    settings.POINTS_SIGNING_KEY = ""
    settings.POINTS_SIGNING_KEY_FILE = str(tmp_path / "demo-key.pem")
    admin = make_user("demo-admin", Role.CITY_ADMIN)

    seed_points_demo(admin)

    batches = list(SettlementBatch.objects.order_by("business_day"))
    assert len(batches) == 12
    assert all(batch.signature for batch in batches)
    assert sum(batch.status == BatchStatus.SETTLED for batch in batches) >= 3
    assert any(batch.line_count for batch in batches)
    assert [(e.kind, e.amount, e.status) for e in TrustException.objects.all()] == [("unknown_debit", -30, "open")]
    assert reconciliation.check_trust() == []
    # Purchases were funded by deposits on the trust statement, and one agency got the money of its
    # expired points back: the trust account holds what it should, and says so.
    assert set(Purchase.objects.values_list("status", flat=True)) == {PurchaseStatus.FUNDED}
    assert all(p.statement_lines.count() == 1 for p in Purchase.objects.all())
    refund = AgencyRefund.objects.get()
    assert refund.status == AgencyRefundStatus.REFUNDED and refund.source == "expired" and refund.amount > 0
    trust = reconciliation.trust_figures()
    assert trust.deposits == sum(Purchase.objects.values_list("points", flat=True))
    assert trust.agency_refunds == refund.amount and trust.payouts > 0
    assert trust.book_balance > 0 and trust.statement_balance == trust.book_balance - 30
    assert trust.last_reported_balance == trust.statement_balance
    assert settlement.check_settlement().problems == []
    assert FeeBill.objects.filter(kind="royalty").count() == 1
