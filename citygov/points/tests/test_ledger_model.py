"""Property test: random operation sequences against a simple in-memory model of lots, holds and
redemptions; after every step the database must agree with the model and the auditor must pass."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from citygov.agencies.models import Agency, AgencyKind
from citygov.core.errors import ServiceError
from citygov.core.models import User
from citygov.core.roles import Role
from citygov.points.models import Account, Lot, Member, Merchant, MerchantStatus
from citygov.points.queries import check_ledger
from citygov.points.services import ledger

T0 = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
_counter = itertools.count()


class LedgerMachine(RuleBasedStateMachine):
    """The model keeps, per lot, its balance and expiry; per hold and redemption, what came from where."""

    def __init__(self):
        super().__init__()
        n = next(_counter)
        self.now = T0
        self.agency = Agency.objects.create(code=f"model-{n}", name_zh=f"模型{n}", kind=AgencyKind.DEPARTMENT)
        self.operator = User.objects.filter(username="model-operator").first() or User.objects.create_user(
            "model-operator", password="x" * 16, role=Role.POINTS_OPERATOR)
        self.admin = User.objects.create_user(f"model-admin-{n}", password="x" * 16, role=Role.CITY_ADMIN)
        po = ledger.do_create_purchase(self.admin, agency_id=self.agency.pk, reference=f"PO-{n}", points=50_000,
                                       now=T0)
        ledger.do_confirm_deposit(self.admin, po.pk, bank_reference=f"B-{n}", now=T0)
        self.campaigns = []
        for days in (3, 10):
            campaign = ledger.do_create_campaign(self.admin, ledger.CampaignInput(
                agency_id=self.agency.pk, name=f"c{days}", budget=20_000, grant_points=50, per_member_limit=5_000,
                claim_start=T0 - dt.timedelta(days=1), claim_end=T0 + dt.timedelta(days=365),
                lot_validity_days=days))
            self.campaigns.append(ledger.do_approve_campaign(self.admin, campaign.pk, now=T0))
        self.members = [Member.objects.create(card_number=f"M{n}-{i}") for i in range(2)]
        merchant = Merchant.objects.create(tax_id=f"{n:08d}", name="shop", status=MerchantStatus.ACTIVE,
                                           points_enabled=True)
        self.ctx = ledger.TerminalContext(merchant_id=merchant.pk)
        self.lots: dict[int, dict] = {}          # lot id → {"member", "balance", "expires", "reversed"}
        self.holds: dict[int, dict] = {}         # hold id → {"allocs": [(lot, amt)], "expires", "open"}
        self.redemptions: dict[int, dict] = {}   # id → {"allocs": [(lot, amt)], "refunded"}

    # --- the model's own rules -------------------------------------------------------------------
    def spendable(self, member) -> list[int]:
        ids = [i for i, lot in self.lots.items() if lot["member"] == member.pk and not lot["reversed"]
               and self.now < lot["expires"] and lot["balance"] > 0]
        return sorted(ids, key=lambda i: (self.lots[i]["expires"], i))

    def take(self, member, amount) -> list[tuple[int, int]] | None:
        ids = self.spendable(member)
        if sum(self.lots[i]["balance"] for i in ids) < amount:
            return None
        allocs, left = [], amount
        for i in ids:
            got = min(left, self.lots[i]["balance"])
            self.lots[i]["balance"] -= got
            allocs.append((i, got))
            left -= got
            if not left:
                break
        return allocs

    def give_back(self, lot_id, amount) -> None:
        lot = self.lots[lot_id]
        if not lot["reversed"] and self.now < lot["expires"]:
            lot["balance"] += amount

    # --- rules ---------------------------------------------------------------------------------
    @rule(member=st.integers(0, 1), which=st.integers(0, 1))
    def grant(self, member, which):
        lot = ledger.do_grant(self.operator, self.campaigns[which].pk, self.members[member].card_number,
                              now=self.now)
        self.lots[lot.pk] = {"member": self.members[member].pk, "balance": 50, "expires": lot.expires_at,
                             "reversed": False}

    @rule(member=st.integers(0, 1), amount=st.integers(1, 120))
    def redeem(self, member, amount):
        expected = self.take(self.members[member], amount)
        try:
            redemption = ledger.do_redeem(self.ctx, self.members[member].card_number, amount, now=self.now)
        except ServiceError as exc:
            assert expected is None, exc
            assert exc.code == "insufficient_points"
            return
        assert expected is not None
        self.redemptions[redemption.pk] = {"allocs": expected, "refunded": 0}

    @rule(member=st.integers(0, 1), amount=st.integers(1, 120))
    def hold(self, member, amount):
        expected = self.take(self.members[member], amount)
        try:
            hold = ledger.do_hold(self.ctx, self.members[member].card_number, amount, now=self.now)
        except ServiceError as exc:
            assert expected is None, exc
            return
        assert expected is not None
        self.holds[hold.pk] = {"allocs": expected, "expires": hold.expires_at, "open": True}

    @precondition(lambda self: any(h["open"] for h in self.holds.values()))
    @rule(data=st.data(), fraction=st.floats(0, 1))
    def capture(self, data, fraction):
        hold_id = data.draw(st.sampled_from(sorted(i for i, h in self.holds.items() if h["open"])))
        hold = self.holds[hold_id]
        total = sum(a for _, a in hold["allocs"])
        amount = max(1, int(total * fraction))
        try:
            redemption = ledger.do_capture(self.ctx, hold_id, amount, now=self.now)
        except ServiceError as exc:
            assert exc.code == "hold_expired" and self.now >= hold["expires"]
            self._release(hold, hold["allocs"])
            return
        assert self.now < hold["expires"]
        taken, left, rest = [], amount, []
        for lot_id, got in hold["allocs"]:
            use = min(left, got)
            left -= use
            if use:
                taken.append((lot_id, use))
            rest.append((lot_id, got - use))
        self._release(hold, rest)
        self.redemptions[redemption.pk] = {"allocs": taken, "refunded": 0}

    def _release(self, hold, allocs):
        hold["open"] = False
        for lot_id, amount in allocs:
            if amount:
                self.give_back(lot_id, amount)

    @precondition(lambda self: any(h["open"] for h in self.holds.values()))
    @rule(data=st.data())
    def void(self, data):
        hold_id = data.draw(st.sampled_from(sorted(i for i, h in self.holds.items() if h["open"])))
        ledger.do_void(self.ctx, hold_id, now=self.now)
        self._release(self.holds[hold_id], self.holds[hold_id]["allocs"])

    @precondition(lambda self: self.redemptions)
    @rule(data=st.data(), amount=st.integers(1, 60))
    def refund(self, data, amount):
        red_id = data.draw(st.sampled_from(sorted(self.redemptions)))
        red = self.redemptions[red_id]
        captured = sum(a for _, a in red["allocs"])
        try:
            ledger.do_refund(self.ctx, red_id, amount, now=self.now)
        except ServiceError as exc:
            assert exc.code == "refund_exceeds_capture"
            assert red["refunded"] + amount > captured
            return
        assert red["refunded"] + amount <= captured
        # Walk the allocations backwards, skipping what earlier refunds already returned.
        skip, left = red["refunded"], amount
        for lot_id, got in reversed(red["allocs"]):
            done = min(skip, got)
            skip -= done
            give = min(left, got - done)
            if give:
                self.give_back(lot_id, give)
                left -= give
        red["refunded"] += amount

    @rule(seconds=st.sampled_from([30, 130, 3600, 86_400 * 2, 86_400 * 5]))
    def advance(self, seconds):
        self.now += dt.timedelta(seconds=seconds)

    @rule()
    def expire(self):
        ledger.do_expire_holds(now=self.now)
        for hold in self.holds.values():
            if hold["open"] and self.now >= hold["expires"]:
                self._release(hold, hold["allocs"])
        ledger.do_expire_lots(now=self.now)
        for lot in self.lots.values():
            if self.now >= lot["expires"]:
                lot["balance"] = 0

    @precondition(lambda self: any(not lot["reversed"] for lot in self.lots.values()))
    @rule(data=st.data())
    def reverse(self, data):
        lot_id = data.draw(st.sampled_from(sorted(i for i, lot in self.lots.items() if not lot["reversed"])))
        ledger.do_reverse_grant(self.operator, lot_id, reason="model", now=self.now)
        self.lots[lot_id]["reversed"] = True
        self.lots[lot_id]["balance"] = 0

    # --- invariants ----------------------------------------------------------------------------
    @invariant()
    def database_matches_model(self):
        stored = dict(Lot.objects.filter(pk__in=self.lots).values_list("pk", "account__balance"))
        for lot_id, lot in self.lots.items():
            assert stored[lot_id] == lot["balance"], (lot_id, stored[lot_id], lot)

    @invariant()
    def auditor_passes(self):
        health = check_ledger()
        assert health.problems == []
        assert sum(Account.objects.values_list("balance", flat=True)) == 0


@pytest.mark.django_db
def test_ledger_against_model():
    runner = LedgerMachine.TestCase
    runner.settings = settings(max_examples=12, stateful_step_count=25, deadline=None,
                               suppress_health_check=list(HealthCheck))
    runner().runTest()
