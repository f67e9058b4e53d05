"""The ledger under concurrent load, on PostgreSQL with real threads and connections.

Each thread runs a service call in its own connection, all released together by a barrier; the
ledger auditor runs afterwards (the ``programme`` fixture)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from citygov.core.errors import ServiceError
from citygov.points.models import Lot, Member, Redemption, Transfer, TransferKind
from citygov.points.services import ledger
from citygov.points.tests.support import T0, balance, make_campaign, now_plus

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(count: int, call):
    """Run ``call(i)`` in ``count`` threads released at the same instant; return results or error codes."""
    barrier = threading.Barrier(count)

    def worker(index):
        try:
            barrier.wait(timeout=30)
            return ("ok", call(index))
        except ServiceError as exc:
            return ("error", exc.code)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(worker, range(count)))


def test_50_concurrent_redemptions_never_overspend(programme):
    p = programme
    member = p.members[0]
    lot = ledger.do_grant(p.operator, p.campaign.pk, member.card_number, now=T0)
    results = run_together(50, lambda i: ledger.do_redeem(p.ctx, member.card_number, 10, now=now_plus(hours=1)).pk)
    outcomes = sorted(kind for kind, _ in results)
    assert outcomes.count("ok") == 10
    assert [code for kind, code in results if kind == "error"] == ["insufficient_points"] * 40
    assert balance(lot) == 0
    assert Redemption.objects.count() == 10
    assert sum(Transfer.objects.filter(kind=TransferKind.REDEEM).values_list("amount", flat=True)) == 100


def test_concurrent_holds_and_redemptions_on_one_member(programme):
    p = programme
    member = p.members[0]
    ledger.do_grant(p.operator, p.campaign.pk, member.card_number, now=T0)
    ledger.do_grant(p.operator, p.campaign.pk, member.card_number, now=T0)

    def call(i):
        if i % 2:
            return ledger.do_hold(p.ctx, member.card_number, 15, now=now_plus(hours=1)).pk
        return ledger.do_redeem(p.ctx, member.card_number, 15, now=now_plus(hours=1)).pk

    results = run_together(30, call)
    assert sum(1 for kind, _ in results if kind == "ok") == 13  # 200 points // 15
    assert {code for kind, code in results if kind == "error"} == {"insufficient_points"}


def test_budget_for_exactly_n_grants_issues_exactly_n(programme):
    p = programme
    campaign = make_campaign(p.agency_admin, p.agency, budget=1_000, grant_points=100, per_member_limit=100,
                             name="exactly ten")
    members = [Member.objects.create(card_number=f"RUSH{n:03d}") for n in range(30)]
    results = run_together(30, lambda i: ledger.do_grant(p.operator, campaign.pk, members[i].card_number,
                                                         now=T0).pk)
    assert sum(1 for kind, _ in results if kind == "ok") == 10
    assert Lot.objects.filter(campaign=campaign).count() == 10
    campaign.account.refresh_from_db()
    assert campaign.account.balance == 0


def test_per_member_limit_is_atomic(programme):
    p = programme
    member = p.members[1]
    results = run_together(20, lambda i: ledger.do_grant(p.operator, p.campaign.pk, member.card_number, now=T0).pk)
    assert sum(1 for kind, _ in results if kind == "ok") == 3  # limit 300, 100 per grant
    assert Lot.objects.filter(member=member, campaign=p.campaign).count() == 3


def test_expiry_job_running_twice_at_once_moves_each_lot_once(programme):
    p = programme
    lots = [ledger.do_grant(p.operator, p.campaign.pk, m.card_number, now=T0) for m in p.members]
    results = run_together(2, lambda i: ledger.do_expire_lots(now=lots[0].expires_at))
    assert sorted(moved for _, moved in results) in ([0, 5], [1, 4], [2, 3])
    assert Transfer.objects.filter(kind=TransferKind.EXPIRE).count() == 5
