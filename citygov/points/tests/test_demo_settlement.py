"""The demo settles a few days through a bank statement and leaves one open exception."""

from __future__ import annotations

import pytest

from citygov.core.roles import Role
from citygov.points.demo import seed_points_demo
from citygov.points.models import BatchStatus, FeeBill, SettlementBatch, TrustException
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
    assert settlement.check_settlement().problems == []
    assert FeeBill.objects.filter(kind="royalty").count() == 1
