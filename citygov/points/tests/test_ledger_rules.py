"""The points rules R1–R4, R6–R9 and R13, each pinned by a test; the auditor runs after every test."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from citygov.core.errors import Conflict, Forbidden, InvalidInput
from citygov.points.models import (
    Account,
    AccountKind,
    CampaignStatus,
    Hold,
    HoldStatus,
    LedgerException,
    Lot,
    MerchantStatus,
    Transfer,
    TransferKind,
)
from citygov.points.queries import check_ledger, wallet
from citygov.points.services import ledger
from citygov.points.tests.support import T0, balance, make_campaign, make_merchant, now_plus

pytestmark = pytest.mark.django_db


def grant(p, member, *, now=T0, campaign=None):
    return ledger.do_grant(p.operator, (campaign or p.campaign).pk, member.card_number, now=now)


def account_balance(kind, agency) -> int:
    account = Account.objects.filter(kind=kind, agency=agency).first()
    return account.balance if account else 0


# --- R1 ------------------------------------------------------------------------------------------

def test_r1_terminal_time_is_stored_not_trusted(programme):
    p = programme
    lot = grant(p, p.members[0])
    ctx = ledger.TerminalContext(merchant_id=p.merchant.pk, terminal_id=p.terminal.pk,
                                 terminal_time=lot.expires_at - dt.timedelta(days=1))
    # The terminal claims a time before expiry, but the server clock says the lot has expired.
    with pytest.raises(InvalidInput) as caught:
        ledger.do_redeem(ctx, p.members[0].card_number, 10, now=lot.expires_at)
    assert caught.value.code == "insufficient_points"
    redemption = ledger.do_redeem(ctx, p.members[0].card_number, 10, now=now_plus(days=1))
    assert redemption.terminal_time == lot.expires_at - dt.timedelta(days=1)
    assert redemption.created_at == now_plus(days=1)


# --- R2 ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("amount", [0, -5])
def test_r2_non_positive_amounts_are_refused(programme, amount):
    p = programme
    grant(p, p.members[0])
    count = Transfer.objects.count()
    with pytest.raises(InvalidInput):
        ledger.do_redeem(p.ctx, p.members[0].card_number, amount, now=now_plus(hours=1))
    assert Transfer.objects.count() == count


def test_r2_every_transfer_balances_and_is_append_only(programme):
    p = programme
    grant(p, p.members[0])
    transfer = Transfer.objects.last()
    transfer.amount = 1
    with pytest.raises(PermissionError):
        transfer.save()
    with pytest.raises(PermissionError):
        transfer.delete()
    assert sum(Account.objects.values_list("balance", flat=True)) == 0


@pytest.mark.postgres
def test_r2_database_refuses_update_and_delete_of_transfers(programme):
    from django.db import DatabaseError, transaction

    transfer_id = Transfer.objects.last().pk
    for sql in ("UPDATE points_transfer SET amount = 1 WHERE id = %s", "DELETE FROM points_transfer WHERE id = %s"):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [transfer_id])
    assert Transfer.objects.filter(pk=transfer_id).exists()


def test_r2_database_refuses_negative_balance(programme):
    from django.db import IntegrityError, transaction

    p = programme
    lot = grant(p, p.members[0])
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=lot.account_id).update(balance=-1)
    assert balance(lot) == 100


# --- R3 ------------------------------------------------------------------------------------------

def test_r3_earliest_expiry_first_then_earliest_grant(programme):
    p = programme
    member = p.members[0]
    long_campaign = make_campaign(p.agency_admin, p.agency, days=90, name="long")
    late = grant(p, member, campaign=long_campaign)          # expires T0+90d
    first = grant(p, member)                                  # expires T0+30d, granted first of the two 30d
    second = grant(p, member)                                 # expires T0+30d, granted later
    ledger.do_redeem(p.ctx, member.card_number, 150, now=now_plus(days=1))
    assert (balance(first), balance(second), balance(late)) == (0, 50, 100)


def test_r3_lot_not_spendable_at_its_expiry_instant(programme):
    p = programme
    lot = grant(p, p.members[0])
    assert wallet(p.members[0], now=lot.expires_at - dt.timedelta(microseconds=1)).spendable == 100
    assert wallet(p.members[0], now=lot.expires_at).spendable == 0
    with pytest.raises(InvalidInput):
        ledger.do_redeem(p.ctx, p.members[0].card_number, 1, now=lot.expires_at)
    assert balance(lot) == 100


# --- R4 ------------------------------------------------------------------------------------------

def test_r4_partial_capture_releases_the_rest(programme):
    p = programme
    lot = grant(p, p.members[0])
    hold = ledger.do_hold(p.ctx, p.members[0].card_number, 80, now=now_plus(hours=1))
    assert balance(lot) == 20
    redemption = ledger.do_capture(p.ctx, hold.pk, 50, now=now_plus(hours=1, seconds=30))
    hold.refresh_from_db()
    assert (hold.status, hold.captured, hold.released, redemption.amount) == (HoldStatus.CAPTURED, 50, 30, 50)
    assert balance(lot) == 50


def test_r4_capture_at_most_once_and_not_above_hold(programme):
    p = programme
    grant(p, p.members[0])
    hold = ledger.do_hold(p.ctx, p.members[0].card_number, 40, now=now_plus(hours=1))
    with pytest.raises(InvalidInput):
        ledger.do_capture(p.ctx, hold.pk, 41, now=now_plus(hours=1))
    ledger.do_capture(p.ctx, hold.pk, 40, now=now_plus(hours=1))
    with pytest.raises(Conflict) as caught:
        ledger.do_capture(p.ctx, hold.pk, 40, now=now_plus(hours=1))
    assert caught.value.code == "hold_not_open"
    assert Transfer.objects.filter(kind=TransferKind.CAPTURE).count() == 1


def test_r4_timeout_is_exclusive_and_releases(programme):
    p = programme
    lot = grant(p, p.members[0])
    start = now_plus(hours=1)
    hold = ledger.do_hold(p.ctx, p.members[0].card_number, 60, now=start)
    assert hold.expires_at == start + dt.timedelta(seconds=120)
    with pytest.raises(Conflict) as caught:
        ledger.do_capture(p.ctx, hold.pk, 60, now=hold.expires_at)
    assert caught.value.code == "hold_expired"
    hold.refresh_from_db()
    assert (hold.status, hold.released) == (HoldStatus.EXPIRED, 60)
    assert balance(lot) == 100


def test_r4_capture_just_before_timeout_succeeds(programme):
    p = programme
    grant(p, p.members[0])
    hold = ledger.do_hold(p.ctx, p.members[0].card_number, 60, now=now_plus(hours=1))
    redemption = ledger.do_capture(p.ctx, hold.pk, now=hold.expires_at - dt.timedelta(microseconds=1))
    assert redemption.amount == 60


def test_r4_held_points_can_be_captured_after_their_lot_expired(programme):
    p = programme
    lot = grant(p, p.members[0])
    hold = ledger.do_hold(p.ctx, p.members[0].card_number, 70, now=lot.expires_at - dt.timedelta(seconds=10))
    assert ledger.do_expire_lots(now=lot.expires_at) == 1   # the 30 unheld points expire, held ones stay
    redemption = ledger.do_capture(p.ctx, hold.pk, 50, now=lot.expires_at + dt.timedelta(seconds=5))
    assert redemption.amount == 50
    # The 20 released points land in an expired lot, so they expire at once.
    assert balance(lot) == 0
    assert account_balance(AccountKind.EXPIRED, p.agency) == 50


def test_r4_expiry_job_releases_timed_out_holds(programme):
    p = programme
    lot = grant(p, p.members[0])
    hold = ledger.do_hold(p.ctx, p.members[0].card_number, 30, now=now_plus(hours=1))
    assert ledger.do_expire_holds(now=hold.expires_at - dt.timedelta(seconds=1)) == 0
    assert ledger.do_expire_holds(now=hold.expires_at) == 1
    hold.refresh_from_db()
    assert hold.status == HoldStatus.EXPIRED
    assert balance(lot) == 100


def test_r4_void_returns_everything(programme):
    p = programme
    lot = grant(p, p.members[0])
    hold = ledger.do_hold(p.ctx, p.members[0].card_number, 30, now=now_plus(hours=1))
    ledger.do_void(p.ctx, hold.pk, now=now_plus(hours=1, seconds=5))
    hold.refresh_from_db()
    assert hold.status == HoldStatus.VOIDED
    assert balance(lot) == 100


def test_other_merchant_cannot_touch_a_hold(programme):
    p = programme
    grant(p, p.members[0])
    hold = ledger.do_hold(p.ctx, p.members[0].card_number, 30, now=now_plus(hours=1))
    other = make_merchant("22099131", "別家店")
    from citygov.core.errors import NotFound

    with pytest.raises(NotFound):
        ledger.do_capture(ledger.TerminalContext(merchant_id=other.pk), hold.pk, now=now_plus(hours=1))
    hold.refresh_from_db()
    assert hold.status == HoldStatus.OPEN


# --- R6 ------------------------------------------------------------------------------------------

def test_r6_refund_goes_back_in_reverse_order_of_consumption(programme):
    p = programme
    member = p.members[0]
    first, second = grant(p, member), grant(p, member)
    redemption = ledger.do_redeem(p.ctx, member.card_number, 150, now=now_plus(days=1))
    assert (balance(first), balance(second)) == (0, 50)
    ledger.do_refund(p.ctx, redemption.pk, 60, now=now_plus(days=2))
    assert (balance(first), balance(second)) == (10, 100)
    ledger.do_refund(p.ctx, redemption.pk, 90, now=now_plus(days=2))
    assert (balance(first), balance(second)) == (100, 100)


def test_r6_refunds_never_exceed_capture(programme):
    p = programme
    grant(p, p.members[0])
    redemption = ledger.do_redeem(p.ctx, p.members[0].card_number, 50, now=now_plus(days=1))
    ledger.do_refund(p.ctx, redemption.pk, 30, now=now_plus(days=1))
    with pytest.raises(InvalidInput) as caught:
        ledger.do_refund(p.ctx, redemption.pk, 21, now=now_plus(days=1))
    assert caught.value.code == "refund_exceeds_capture"
    redemption.refresh_from_db()
    assert redemption.refunded == 30


def test_r6_refund_into_expired_lot_expires_at_once(programme):
    p = programme
    lot = grant(p, p.members[0])
    redemption = ledger.do_redeem(p.ctx, p.members[0].card_number, 40, now=now_plus(days=1))
    ledger.do_expire_lots(now=lot.expires_at)
    ledger.do_refund(p.ctx, redemption.pk, 40, now=lot.expires_at + dt.timedelta(days=1))
    assert balance(lot) == 0
    assert account_balance(AccountKind.EXPIRED, p.agency) == 100


def test_r6_refund_into_reversed_lot_returns_to_campaign(programme):
    p = programme
    lot = grant(p, p.members[0])
    redemption = ledger.do_redeem(p.ctx, p.members[0].card_number, 40, now=now_plus(days=1))
    ledger.do_reverse_grant(p.operator, lot.pk, reason="duplicate grant", now=now_plus(days=2))
    unissued = Account.objects.get(pk=p.campaign.account_id).balance
    ledger.do_refund(p.ctx, redemption.pk, 40, now=now_plus(days=3))
    assert balance(lot) == 0
    assert Account.objects.get(pk=p.campaign.account_id).balance == unissued + 40


def test_r6_payable_reduced_by_refund(programme):
    p = programme
    grant(p, p.members[0])
    redemption = ledger.do_redeem(p.ctx, p.members[0].card_number, 40, now=now_plus(days=1))
    ledger.do_refund(p.ctx, redemption.pk, 15, now=now_plus(days=1))
    payable = Account.objects.get(kind=AccountKind.MERCHANT_PAYABLE, merchant=p.merchant)
    assert payable.balance == 25


# --- R7 / R8 -------------------------------------------------------------------------------------

def test_r7_approval_needs_funded_unreserved_points(programme):
    p = programme
    funded_before = account_balance(AccountKind.AGENCY_FUNDED, p.agency)
    assert funded_before == 90_000
    with pytest.raises(InvalidInput) as caught:
        make_campaign(p.agency_admin, p.agency, budget=90_001)
    assert caught.value.code == "insufficient_funded"
    assert account_balance(AccountKind.AGENCY_FUNDED, p.agency) == funded_before


def test_r8_unfunded_points_cannot_be_reserved(db, make_agency, make_user):
    from citygov.core.roles import Role

    agency = make_agency("culture", "文化局")
    admin = make_user("culture-admin", Role.AGENCY_ADMIN, [agency])
    ledger.do_create_purchase(admin, agency_id=agency.pk, reference="PO-X", points=5_000, now=T0)
    with pytest.raises(InvalidInput) as caught:
        make_campaign(admin, agency, budget=1_000)
    assert caught.value.code == "insufficient_funded"
    assert account_balance(AccountKind.AGENCY_UNFUNDED, agency) == 5_000
    assert check_ledger().problems == []


def test_r8_confirm_deposit_once_and_operator_only(programme):
    p = programme
    purchase = ledger.do_create_purchase(p.agency_admin, agency_id=p.agency.pk, reference="PO-2", points=10, now=T0)
    with pytest.raises(Forbidden):
        ledger.do_confirm_deposit(p.agency_admin, purchase.pk, bank_reference="X", now=T0)
    ledger.do_confirm_deposit(p.operator, purchase.pk, bank_reference="TRUST-2", now=T0)
    with pytest.raises(Conflict):
        ledger.do_confirm_deposit(p.operator, purchase.pk, bank_reference="TRUST-2", now=T0)
    assert Transfer.objects.filter(kind=TransferKind.FUND, purchase=purchase).count() == 1


def test_r7_budget_bounds_issuance(programme):
    p = programme
    small = make_campaign(p.agency_admin, p.agency, budget=250, grant_points=100, per_member_limit=100, name="小")
    report = ledger.do_bulk_grant(p.operator, small.pk, [m.card_number for m in p.members], now=T0)
    assert (report.granted, [r[0] for r in report.refused]) == (2, [3, 4, 5])
    assert Account.objects.get(pk=small.account_id).balance == 50


def test_r7_per_member_limit(programme):
    p = programme
    member = p.members[0]
    for _ in range(3):
        grant(p, member)
    with pytest.raises(InvalidInput):
        grant(p, member)
    assert Lot.objects.filter(member=member, campaign=p.campaign).count() == 3


def test_r7_claim_window_end_is_exclusive(programme):
    p = programme
    with pytest.raises(InvalidInput):
        grant(p, p.members[0], now=p.campaign.claim_end)
    grant(p, p.members[0], now=p.campaign.claim_end - dt.timedelta(microseconds=1))
    with pytest.raises(InvalidInput):
        grant(p, p.members[1], now=p.campaign.claim_start - dt.timedelta(microseconds=1))


def test_r7_closing_returns_unissued_budget(programme):
    p = programme
    grant(p, p.members[0])
    funded = account_balance(AccountKind.AGENCY_FUNDED, p.agency)
    campaign = ledger.do_close_campaign(p.agency_admin, p.campaign.pk, now=now_plus(days=61))
    assert campaign.status == CampaignStatus.CLOSED
    assert account_balance(AccountKind.AGENCY_FUNDED, p.agency) == funded + 9_900
    assert Account.objects.get(pk=campaign.account_id).balance == 0
    with pytest.raises(InvalidInput):
        grant(p, p.members[1], now=now_plus(days=10))


def test_bulk_grant_reports_unknown_cards_by_line(programme):
    p = programme
    report = ledger.do_bulk_grant(p.operator, p.campaign.pk, ["CARD0001", "NOPE", "", "CARD0002"], now=T0)
    assert report.granted == 2
    assert [(line, card) for line, card, _ in report.refused] == [(2, "NOPE"), (3, "")]


def test_agency_admin_cannot_grant_from_other_agency_campaign(programme, make_agency, make_user):
    from citygov.core.errors import NotFound
    from citygov.core.roles import Role

    other = make_agency("other", "他局")
    outsider = make_user("outsider", Role.AGENCY_ADMIN, [other])
    with pytest.raises(NotFound):
        ledger.do_grant(outsider, programme.campaign.pk, "CARD0001", now=T0)
    assert Lot.objects.count() == 0


# --- R9 ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "enabled"), [(MerchantStatus.SUSPENDED, True), (MerchantStatus.ACTIVE, False),
                                                 (MerchantStatus.APPLIED, True), (MerchantStatus.CLOSED, True)])
def test_r9_only_active_enabled_merchants_redeem(programme, status, enabled):
    p = programme
    lot = grant(p, p.members[0])
    shop = make_merchant("10458575", "暫停店", status=status, enabled=enabled)
    ctx = ledger.TerminalContext(merchant_id=shop.pk)
    with pytest.raises(InvalidInput) as caught:
        ledger.do_hold(ctx, p.members[0].card_number, 10, now=now_plus(hours=1))
    assert caught.value.code == "merchant_not_active"
    with pytest.raises(InvalidInput):
        ledger.do_redeem(ctx, p.members[0].card_number, 10, now=now_plus(hours=1))
    assert balance(lot) == 100


def test_r9_voiding_open_holds_of_a_merchant(programme):
    p = programme
    lot = grant(p, p.members[0])
    ledger.do_hold(p.ctx, p.members[0].card_number, 30, now=now_plus(hours=1))
    ledger.do_hold(p.ctx, p.members[0].card_number, 20, now=now_plus(hours=1))
    assert ledger.void_open_holds(p.merchant.pk, now=now_plus(hours=1, seconds=1)) == 2
    assert set(Hold.objects.values_list("status", flat=True)) == {HoldStatus.VOIDED}
    assert balance(lot) == 100


# --- R13 -----------------------------------------------------------------------------------------

def test_r13_reversal_claws_back_only_what_is_left(programme):
    p = programme
    member = p.members[0]
    lot, other_lot = grant(p, member), grant(p, member)
    ledger.do_redeem(p.ctx, member.card_number, 130, now=now_plus(days=1))  # 100 from lot, 30 from other
    assert (balance(lot), balance(other_lot)) == (0, 70)
    exception = ledger.do_reverse_grant(p.operator, other_lot.pk, reason="wrong member", now=now_plus(days=2))
    assert (balance(lot), balance(other_lot)) == (0, 0)
    assert (exception.kind, exception.amount) == ("reversal_shortfall", 30)
    assert LedgerException.objects.count() == 1
    with pytest.raises(Conflict):
        ledger.do_reverse_grant(p.operator, other_lot.pk, reason="again", now=now_plus(days=2))


def test_r13_reversal_does_not_touch_held_points(programme):
    p = programme
    lot = grant(p, p.members[0])
    hold = ledger.do_hold(p.ctx, p.members[0].card_number, 60, now=now_plus(days=1))
    exception = ledger.do_reverse_grant(p.operator, lot.pk, reason="fraud", now=now_plus(days=1))
    assert exception.amount == 60
    ledger.do_void(p.ctx, hold.pk, now=now_plus(days=1))
    # Released points land in a reversed lot, so they return to the campaign, not the member.
    assert balance(lot) == 0
    assert wallet(p.members[0], now=now_plus(days=1)).spendable == 0


# --- expiry ------------------------------------------------------------------------------------

def test_expiry_is_idempotent(programme):
    p = programme
    lots = [grant(p, m) for m in p.members]
    ledger.do_redeem(p.ctx, p.members[0].card_number, 25, now=now_plus(days=1))
    assert ledger.do_expire_lots(now=lots[0].expires_at) == 5
    assert ledger.do_expire_lots(now=lots[0].expires_at) == 0
    assert account_balance(AccountKind.EXPIRED, p.agency) == 475
    assert Transfer.objects.filter(kind=TransferKind.EXPIRE).count() == 5


# --- the auditor command -------------------------------------------------------------------------

def test_verify_command_passes_on_a_sound_ledger(programme):
    import io
    import json

    from django.core.management import call_command

    p = programme
    grant(p, p.members[0])
    out = io.StringIO()
    call_command("points", "verify", "--format", "jsonl", stdout=out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[-1]["ok"] is True
    figures = next(line for line in lines if line.get("agency_id") == p.agency.pk)
    assert (figures["purchased"], figures["funded_unreserved"], figures["campaign_unissued"],
            figures["member_available"], figures["balanced"]) == (100_000, 90_000, 9_900, 100, True)


def test_verify_command_fails_on_a_tampered_balance(programme):
    import io

    from django.core.management import CommandError, call_command

    p = programme
    lot = grant(p, p.members[0])
    Account.objects.filter(pk=lot.account_id).update(balance=99)  # tampering behind the ledger's back
    err = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("points", "verify", stdout=io.StringIO(), stderr=err)
    assert caught.value.returncode == 1
    assert f"account {lot.account_id} (lot): stored 99, rebuilt from transfers 100" in err.getvalue()
    Account.objects.filter(pk=lot.account_id).update(balance=100)  # restore for the fixture's auditor
