"""The points demo programme: seeded through the services, whole (the ledger check passes), idempotent."""

from __future__ import annotations

from collections import Counter

import pytest

from citygov.core.roles import Role
from citygov.points.demo import MERCHANTS, PURCHASE_REFERENCE, demo_tax_ids, seed_points_demo
from citygov.points.engine.taxid import is_valid_tax_id
from citygov.points.models import (
    Campaign,
    CampaignStatus,
    Hold,
    Lot,
    Member,
    Merchant,
    Purchase,
    Redemption,
    Refund,
    Terminal,
    Transfer,
)
from citygov.points.queries import check_ledger

pytestmark = pytest.mark.django_db


def counts() -> dict:
    return {
        "purchases": Purchase.objects.count(), "campaigns": Campaign.objects.count(),
        "members": Member.objects.count(), "merchants": Merchant.objects.count(),
        "terminals": Terminal.objects.count(), "lots": Lot.objects.count(),
        "redemptions": Redemption.objects.count(), "refunds": Refund.objects.count(),
        "holds": Hold.objects.count(), "transfers": Transfer.objects.count(),
    }


def test_seed_twice_gives_the_same_whole_programme(reference_data, make_user):
    admin = make_user("demo-admin", Role.CITY_ADMIN)

    first = seed_points_demo(admin)
    after_first = counts()
    second = seed_points_demo(admin)

    assert counts() == after_first
    assert (first.members, first.merchants, first.lots, first.redemptions) == (40, 13, 79, 31)
    assert (second.members, second.merchants, second.lots, second.redemptions) == (0, 0, 0, 0)
    assert {k: after_first[k] for k in ("purchases", "campaigns", "members", "merchants", "terminals", "lots",
                                        "redemptions", "refunds", "holds")} == {
        # The two-year history (citygov.points.demo_history) adds a purchase, two campaigns, 20 members,
        # 24 months x 20 grants and 12 x 10 + 12 x 3 redemptions.
        "purchases": 2, "campaigns": 4, "members": 60, "merchants": 13, "terminals": 13, "lots": 79 + 480,
        "redemptions": 31 + 156, "refunds": 1, "holds": 4}
    health = check_ledger()
    assert health.problems == []
    assert health.ok


def test_demo_programme_shape(reference_data, make_user):
    seed_points_demo(make_user("demo-admin", Role.CITY_ADMIN))

    purchase = Purchase.objects.get(reference=PURCHASE_REFERENCE)
    assert (purchase.agency.code, purchase.agency.name_zh, purchase.points, purchase.status) == (
        "social-welfare", "社會局", 500_000, "funded")
    assert purchase.bank_reference
    assert sorted(Campaign.objects.values_list("name", "status")) == [
        ("市民卡新春好禮", CampaignStatus.APPROVED), ("市民卡月月領點（前期）", CampaignStatus.APPROVED),
        ("市民卡月月領點（後期）", CampaignStatus.APPROVED), ("敬老重陽加碼", CampaignStatus.APPROVED)]
    assert Counter(Merchant.objects.values_list("status", flat=True)) == {"active": 10, "suspended": 2,
                                                                          "applied": 1}
    assert Merchant.objects.filter(status="active", points_enabled=False).count() == 3
    districts = set(Merchant.objects.values_list("district__name_zh", flat=True))
    assert {"桃園區", "中壢區", "八德區", "平鎮區", "龜山區"} <= districts
    assert None not in districts
    assert all(is_valid_tax_id(tax_id) for tax_id in Merchant.objects.values_list("tax_id", flat=True))
    # The suspension voided the open holds (R9); every hold is resolved.
    assert sorted(Hold.objects.values_list("status", flat=True)) == ["captured", "voided", "voided", "voided"]
    figures = check_ledger().agencies
    assert len(figures) == 1
    assert figures[0].merchant_unsettled > 0 and figures[0].member_available > 0
    # Points expired, and the settlement demo refunded their money to the agency (bank confirmed).
    assert figures[0].refunded > 0 and figures[0].expired + figures[0].refunded > 0 and figures[0].balanced


def test_demo_tax_ids_are_valid_and_distinct():
    ids = demo_tax_ids(len(MERCHANTS))

    assert len(set(ids)) == len(MERCHANTS)
    assert all(is_valid_tax_id(tax_id) and tax_id.startswith("9999") for tax_id in ids)


def test_core_demo_seeds_the_points_programme(reference_data):
    from citygov.core.demo import seed_demo

    seed_demo()

    assert Purchase.objects.filter(reference=PURCHASE_REFERENCE).exists()
    assert check_ledger().ok


def test_core_demo_survives_a_points_failure(reference_data, monkeypatch):
    from citygov.core.demo import seed_demo
    from citygov.points import demo

    def broken(admin):
        raise RuntimeError("boom")

    monkeypatch.setattr(demo, "seed_points_demo", broken)

    result = seed_demo()

    assert result.created  # the core demo accounts were still made
    assert not Purchase.objects.exists()
