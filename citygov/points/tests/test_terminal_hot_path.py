"""The terminal API's hot path (holds and one-step redemptions): the statements one redemption costs,
the post-balance computed inside the transaction, the fresh terminal and merchant checks (no cache can
let a deactivated terminal or a suspended merchant through), and an idempotency claim lost while the
action ran."""

from __future__ import annotations

import json
import re
import secrets
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from citygov.core.errors import Conflict
from citygov.points.api.terminal import spendable_points
from citygov.points.api.terminal_auth import find_terminal
from citygov.points.engine.signing import sign
from citygov.points.models import (
    Account,
    AccountKind,
    IdempotencyRecord,
    Redemption,
    Terminal,
    Transfer,
    TransferKind,
)
from citygov.points.services import ledger, merchants
from citygov.points.services.idempotency import run_idempotent
from citygov.points.services.posting import Leg, post
from citygov.points.tests.support import make_campaign, make_merchant

pytestmark = pytest.mark.django_db

SECRET = "s" * 32
REDEEM = "/api/points/terminal/redeem/"


def redeem(card: str, amount: int, key: str, terminal: str = "T-001", secret: str = SECRET):
    raw = json.dumps({"card_number": card, "amount": amount}).encode()
    stamp, nonce = str(int(time.time())), secrets.token_hex(8)
    headers = {"X-Terminal-Id": terminal, "X-Timestamp": stamp, "X-Nonce": nonce, "Idempotency-Key": key,
               "X-Signature": sign(secret, "POST", REDEEM, stamp, nonce, raw)}
    return APIClient().generic("POST", REDEEM, raw, content_type="application/json", headers=headers)


@pytest.fixture
def funded(programme):
    """CARD0001 holds two lots of 100 points from a campaign open now."""
    now = timezone.now()
    campaign = make_campaign(programme.agency_admin, programme.agency, start=now, name="冬季加碼")
    ledger.do_grant(programme.operator, campaign.pk, "CARD0001", now=now)
    ledger.do_grant(programme.operator, campaign.pk, "CARD0001", now=now)
    return programme


def _statement(sql: str) -> tuple[str, str] | None:
    """(verb, table) of a data statement; None for transaction control (BEGIN, SAVEPOINT, SET …)."""
    verb = sql.split(None, 1)[0].upper()
    if verb not in {"SELECT", "INSERT", "UPDATE", "DELETE"}:
        return None
    while (flat := re.sub(r"\(SELECT [^()]*\)", "", sql)) != sql:  # drop scalar subqueries
        sql = flat
    return verb, re.search(r'(?:FROM|INTO|UPDATE)\s+"(\w+)"', sql).group(1)


def test_one_redemption_costs_eleven_data_statements(funded):
    redeem("CARD0001", 1, "warm-up")
    with CaptureQueriesContext(connection) as captured:
        response = redeem("CARD0001", 5, "counted")
    assert response.status_code == 201
    statements = [s for s in (_statement(q["sql"]) for q in captured.captured_queries) if s is not None]
    assert statements == [
        ("SELECT", "points_terminal"),            # credentials, fresh on every request
        ("INSERT", "points_idempotencyrecord"),   # the claim
        ("SELECT", "points_member"),              # member lock
        ("SELECT", "points_merchant"),            # merchant lock + status check + payable account id
        ("SELECT", "points_lot"),                 # spendable lots with balances
        ("INSERT", "points_redemption"),
        ("INSERT", "points_redemptionallocation"),
        ("SELECT", "points_account"),             # account locks, ascending primary key
        ("UPDATE", "points_account"),             # all balance changes in one statement
        ("INSERT", "points_transfer"),
        ("UPDATE", "points_idempotencyrecord"),   # the answer, only if the claim is still ours
    ]


def test_post_balance_of_a_redemption_is_the_spendable_balance_after_it(funded):
    first = ledger.do_redeem(funded.ctx, "CARD0001", 130)
    member_id = funded.members[0].pk
    assert (first.post_balance, spendable_points(member_id)) == (70, 70)
    hold = ledger.do_hold(funded.ctx, "CARD0001", 20)
    assert (hold.post_balance, spendable_points(member_id)) == (50, 50)
    response = redeem("CARD0001", 50, "all-the-rest")
    assert (response.status_code, response.json()["post_balance"]) == (201, 0)
    assert spendable_points(member_id) == 0


def test_post_reports_the_balances_it_left(funded):
    lot = funded.members[0].lots.order_by("pk").first()
    payable = ledger.singleton_account(AccountKind.MERCHANT_PAYABLE, merchant_id=funded.merchant.pk)
    after: dict[int, int] = {}
    redemption = Redemption.objects.create(merchant=funded.merchant, member=funded.members[0], amount=30,
                                           created_at=timezone.now())
    post([Leg(TransferKind.REDEEM, lot.account, payable, 30, lot.agency_id,
              {"redemption_id": redemption.pk, "lot_id": lot.pk, "merchant_id": funded.merchant.pk})],
         now=timezone.now(), balances_after=after)
    assert after == {lot.account_id: 70, payable.pk: 30}


def test_the_first_redemption_of_a_merchant_creates_its_payable_account_once(funded):
    merchant = make_merchant("22099131", "新開的店")
    Terminal.objects.create(merchant=merchant, terminal_id="T-NEW", secret=SECRET)
    assert not Account.objects.filter(kind=AccountKind.MERCHANT_PAYABLE, merchant=merchant).exists()
    assert redeem("CARD0001", 10, "new-1", terminal="T-NEW").status_code == 201
    assert redeem("CARD0001", 15, "new-2", terminal="T-NEW").status_code == 201
    payable = Account.objects.get(kind=AccountKind.MERCHANT_PAYABLE, merchant=merchant)
    assert payable.balance == 25
    assert sorted(Transfer.objects.filter(credit=payable).values_list("amount", flat=True)) == [10, 15]


def test_a_merchant_suspended_between_two_requests_cannot_redeem_the_second(funded):
    assert redeem("CARD0001", 10, "before").status_code == 201
    merchants.do_suspend_merchant(funded.operator, funded.merchant.pk)
    response = redeem("CARD0001", 10, "after")
    assert (response.status_code, response.json()["code"]) == (400, "merchant_not_active")
    assert Redemption.objects.count() == 1


def test_a_terminal_deactivated_between_two_requests_is_refused_at_once(funded):
    assert redeem("CARD0001", 10, "before").status_code == 201
    merchants.do_deactivate_terminal(funded.operator, "T-001")
    response = redeem("CARD0001", 10, "after")
    assert (response.status_code, response.json()["code"]) == (401, "unknown_terminal")
    assert Redemption.objects.count() == 1


def test_find_terminal_reads_the_row(funded):
    terminal = find_terminal("T-001")
    assert (terminal.pk, terminal.merchant_id, terminal.secret, terminal.is_active) == (
        funded.terminal.pk, funded.merchant.pk, SECRET, True)
    assert find_terminal("T-404") is None


def test_a_claim_taken_over_while_the_action_ran_rolls_the_action_back(funded):
    transfers = Transfer.objects.count()

    def redeem_while_someone_takes_the_key_over():
        redemption = ledger.do_redeem(funded.ctx, "CARD0001", 40)
        # What a takeover of an abandoned claim does: a new claim time on the same record.
        IdempotencyRecord.objects.filter(scope="terminal:T-001", key="slow").update(
            created_at=timezone.now() + ledger.HOLD_TIMEOUT)
        return 201, {"id": redemption.pk}

    with pytest.raises(Conflict) as caught:
        run_idempotent("terminal:T-001", "slow", {"body": {"amount": 40}}, redeem_while_someone_takes_the_key_over)
    assert caught.value.code == "idempotency_in_flight"
    assert (Redemption.objects.count(), Transfer.objects.count()) == (0, transfers)
    assert spendable_points(funded.members[0].pk) == 200
