"""Everything that moves points: purchases, funding, campaigns, grants, holds, captures, redemptions,
refunds, expiry and reversals. Rules R1–R9 and R13 of the points specification are enforced here.

Time (R1): every validity decision uses the server clock (``now``, default ``timezone.now()``, taken
inside the transaction); terminal timestamps are stored, never used for decisions.
Locks follow the order in :mod:`citygov.points.services.posting`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from citygov.core.changelog import record_change, snapshot
from citygov.core.errors import Conflict, InvalidInput, NotFound
from citygov.core.models import ChangeAction
from citygov.core.permissions import require_agency, require_capability, require_writer
from citygov.core.roles import Capability
from citygov.points.engine import lots as lot_engine
from citygov.points.models import (
    Account,
    AccountKind,
    Campaign,
    CampaignStatus,
    Hold,
    HoldAllocation,
    HoldStatus,
    LedgerException,
    Lot,
    Member,
    Merchant,
    Purchase,
    PurchaseStatus,
    Redemption,
    RedemptionAllocation,
    Refund,
    Terminal,
    TransferKind,
)
from citygov.points.services.posting import Leg, post, retry_on_conflict, singleton_account

HOLD_TIMEOUT = dt.timedelta(seconds=120)


def _now(now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else timezone.now()


def _positive(amount: int, field_name: str = "points") -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidInput(_("Points must be a positive whole number."), fields={field_name: ["positive_integer"]},
                           code="invalid_amount")
    return amount


# --- purchases and funding (R8) ----------------------------------------------------------------

def do_create_purchase(actor, *, agency_id: int, reference: str, points: int, now=None) -> Purchase:
    """Record an agency's purchase of points; they stay unfunded until the trust deposit is confirmed."""
    require_writer(actor)
    require_capability(actor, Capability.MANAGE_CAMPAIGNS)
    require_agency(actor, agency_id)
    _positive(points)
    if not reference.strip():
        raise InvalidInput(_("A purchase needs a reference."), fields={"reference": ["required"]})
    now = _now(now)
    with transaction.atomic():
        if Purchase.objects.filter(agency_id=agency_id, reference=reference.strip()).exists():
            raise Conflict(_("This purchase reference already exists."), code="duplicate_reference")
        purchase = Purchase.objects.create(agency_id=agency_id, reference=reference.strip(), points=points,
                                           created_at=now)
        post([Leg(TransferKind.PURCHASE, singleton_account(AccountKind.MINT),
                  singleton_account(AccountKind.AGENCY_UNFUNDED, agency_id=agency_id), points, agency_id,
                  {"purchase_id": purchase.pk})], now=now)
        record_change(actor=actor, action=ChangeAction.CREATE, obj=purchase, after=snapshot(purchase))
    return purchase


def do_confirm_deposit(actor, purchase_id: int, *, bank_reference: str, now=None) -> Purchase:
    """Confirm the trust deposit for a purchase (operator action until statements are imported)."""
    require_writer(actor)
    require_capability(actor, Capability.CONFIRM_DEPOSITS)
    if not bank_reference.strip():
        raise InvalidInput(_("A bank reference is required."), fields={"bank_reference": ["required"]})
    now = _now(now)
    with transaction.atomic():
        purchase = Purchase.objects.select_for_update().filter(pk=purchase_id).first()
        if purchase is None:
            raise NotFound(_("No such purchase."))
        if purchase.status == PurchaseStatus.FUNDED:
            raise Conflict(_("This purchase is already funded."), code="already_funded")
        before = snapshot(purchase)
        post([Leg(TransferKind.FUND, singleton_account(AccountKind.AGENCY_UNFUNDED, agency_id=purchase.agency_id),
                  singleton_account(AccountKind.AGENCY_FUNDED, agency_id=purchase.agency_id), purchase.points,
                  purchase.agency_id, {"purchase_id": purchase.pk})], now=now)
        purchase.status = PurchaseStatus.FUNDED
        purchase.bank_reference = bank_reference.strip()
        purchase.funded_at = now
        purchase.save(update_fields=["status", "bank_reference", "funded_at"])
        record_change(actor=actor, action=ChangeAction.UPDATE, obj=purchase, before=before, after=snapshot(purchase))
    return purchase


# --- campaigns (R7) ----------------------------------------------------------------------------

@dataclass(frozen=True)
class CampaignInput:
    """A new campaign: budget, points per grant, per-member limit (points), claim window, validity."""

    agency_id: int
    name: str
    budget: int
    grant_points: int
    per_member_limit: int
    claim_start: dt.datetime
    claim_end: dt.datetime
    lot_validity_days: int = 365


def do_create_campaign(actor, data: CampaignInput) -> Campaign:
    """Create a draft campaign."""
    require_writer(actor)
    require_capability(actor, Capability.MANAGE_CAMPAIGNS)
    require_agency(actor, data.agency_id)
    for name in ("budget", "grant_points", "per_member_limit"):
        _positive(getattr(data, name), name)
    if data.claim_end <= data.claim_start:
        raise InvalidInput(_("Claims must close after they open."), fields={"claim_end": ["before_start"]})
    if data.grant_points > data.per_member_limit:
        raise InvalidInput(_("One grant exceeds the per-member limit."), fields={"grant_points": ["over_limit"]})
    if not 1 <= data.lot_validity_days <= 3660:
        raise InvalidInput(_("Validity must be 1 to 3,660 days."), fields={"lot_validity_days": ["range"]})
    with transaction.atomic():
        campaign = Campaign.objects.create(agency_id=data.agency_id, name=data.name.strip(), budget=data.budget,
                                           grant_points=data.grant_points, per_member_limit=data.per_member_limit,
                                           claim_start=data.claim_start, claim_end=data.claim_end,
                                           lot_validity_days=data.lot_validity_days)
        record_change(actor=actor, action=ChangeAction.CREATE, obj=campaign, after=snapshot(campaign))
    return campaign


def _campaign_for(actor, campaign_id: int, *, lock: bool = False) -> Campaign:
    queryset = Campaign.objects.select_for_update() if lock else Campaign.objects
    campaign = queryset.filter(pk=campaign_id).first()
    if campaign is None or not _reaches(actor, campaign.agency_id):
        raise NotFound(_("No such campaign."))
    return campaign


def _reaches(actor, agency_id: int) -> bool:
    ids = actor.visible_agency_ids()
    return ids is None or agency_id in ids


@retry_on_conflict
def do_approve_campaign(actor, campaign_id: int, *, now=None) -> Campaign:
    """Approve a draft campaign: reserve its budget from the agency's funded, unreserved points."""
    require_writer(actor)
    require_capability(actor, Capability.MANAGE_CAMPAIGNS)
    now = _now(now)
    with transaction.atomic():
        campaign = _campaign_for(actor, campaign_id, lock=True)
        if campaign.status != CampaignStatus.DRAFT:
            raise Conflict(_("Only a draft campaign can be approved."), code="not_draft")
        before = snapshot(campaign)
        account = Account.objects.create(kind=AccountKind.CAMPAIGN, agency_id=campaign.agency_id)
        funded = singleton_account(AccountKind.AGENCY_FUNDED, agency_id=campaign.agency_id)
        try:
            post([Leg(TransferKind.RESERVE, funded, account, campaign.budget, campaign.agency_id,
                      {"campaign_id": campaign.pk})], now=now)
        except InvalidInput:
            raise InvalidInput(_("The agency does not have enough funded, unreserved points for this budget."),
                               code="insufficient_funded") from None
        campaign.account = account
        campaign.status = CampaignStatus.APPROVED
        campaign.approved_at = now
        campaign.save(update_fields=["account", "status", "approved_at"])
        record_change(actor=actor, action=ChangeAction.UPDATE, obj=campaign, before=before, after=snapshot(campaign))
    return campaign


@retry_on_conflict
def do_close_campaign(actor, campaign_id: int, *, now=None) -> Campaign:
    """Close a campaign and return its unissued budget to the agency's funded pool."""
    require_writer(actor)
    require_capability(actor, Capability.MANAGE_CAMPAIGNS)
    now = _now(now)
    with transaction.atomic():
        campaign = _campaign_for(actor, campaign_id, lock=True)
        if campaign.status == CampaignStatus.CLOSED:
            raise Conflict(_("The campaign is already closed."), code="already_closed")
        before = snapshot(campaign)
        if campaign.account_id is not None:
            remaining = Account.objects.select_for_update().get(pk=campaign.account_id).balance
            if remaining > 0:
                post([Leg(TransferKind.CLOSE_CAMPAIGN, campaign.account,
                          singleton_account(AccountKind.AGENCY_FUNDED, agency_id=campaign.agency_id), remaining,
                          campaign.agency_id, {"campaign_id": campaign.pk})], now=now)
        campaign.status = CampaignStatus.CLOSED
        campaign.closed_at = now
        campaign.save(update_fields=["status", "closed_at"])
        record_change(actor=actor, action=ChangeAction.UPDATE, obj=campaign, before=before, after=snapshot(campaign))
    return campaign


# --- grants ------------------------------------------------------------------------------------

@dataclass
class GrantReport:
    """Outcome of a bulk grant: lots created, and each refused card with its line and reason."""

    granted: int = 0
    points: int = 0
    refused: list[tuple[int, str, str]] = field(default_factory=list)


def _check_claimable(campaign: Campaign, now: dt.datetime) -> None:
    if campaign.status != CampaignStatus.APPROVED:
        raise InvalidInput(_("The campaign is not open for grants."), code="campaign_not_approved")
    if not campaign.claim_start <= now < campaign.claim_end:
        raise InvalidInput(_("The campaign's claim window is not open."), code="outside_claim_window")


def _new_lot(campaign: Campaign, member_id: int, now: dt.datetime) -> tuple[Lot, Account]:
    account = Account(kind=AccountKind.LOT, agency_id=campaign.agency_id)
    lot = Lot(member_id=member_id, campaign=campaign, agency_id=campaign.agency_id, points=campaign.grant_points,
              expires_at=now + dt.timedelta(days=campaign.lot_validity_days), created_at=now)
    return lot, account


@retry_on_conflict
def do_grant(actor, campaign_id: int, card_number: str, *, now=None) -> Lot:
    """Grant one campaign's points to one member: one lot, expiring after the campaign's validity."""
    report = do_bulk_grant(actor, campaign_id, [card_number], now=now, _single=True)
    if report.refused:
        _line, _card, reason = report.refused[0]
        raise InvalidInput(reason, code="grant_refused")
    return Lot.objects.filter(campaign_id=campaign_id, member__card_number=card_number.strip()).latest("id")


GRANT_CHUNK = 500


def do_bulk_grant(actor, campaign_id: int, card_numbers: Iterable[str], *, now=None, _single: bool = False
                  ) -> GrantReport:
    """Grant to many members (e.g. from a CSV of card numbers), in chunks of 500 per transaction.

    Refuses, per line, unknown cards, members at the per-member limit and grants beyond the budget;
    a card repeated in the input is granted again only while the member stays within the limit.
    """
    require_writer(actor)
    require_capability(actor, Capability.ISSUE_POINTS)
    report = GrantReport()
    cards = [(index + 1, (card or "").strip()) for index, card in enumerate(card_numbers)]
    for start in range(0, len(cards), GRANT_CHUNK):
        _grant_chunk(actor, campaign_id, cards[start:start + GRANT_CHUNK], report, _now(now))
    if not _single:
        record_change(actor=actor, action=ChangeAction.ACTION, obj=Campaign.objects.get(pk=campaign_id),
                      note=f"bulk grant: {report.granted} granted, {len(report.refused)} refused")
    return report


def _grant_chunk(actor, campaign_id: int, cards: list[tuple[int, str]], report: GrantReport, now) -> None:
    with transaction.atomic():
        campaign = _campaign_for(actor, campaign_id)
        require_agency(actor, campaign.agency_id)
        _check_claimable(campaign, now)
        members = {m.card_number: m for m in Member.objects.select_for_update().order_by("pk")
                   .filter(card_number__in={c for _, c in cards})}
        received = defaultdict(int, Lot.objects.filter(campaign=campaign, member__in=members.values())
                               .values("member_id").annotate(total=Sum("points")).values_list("member_id", "total"))
        budget = Account.objects.select_for_update().get(pk=campaign.account_id).balance
        planned: list[tuple[Lot, Account]] = []
        for line, card in cards:
            member = members.get(card)
            if member is None:
                report.refused.append((line, card, _("Unknown card number.")))
            elif received[member.pk] + campaign.grant_points > campaign.per_member_limit:
                report.refused.append((line, card, _("The member has reached this campaign's limit.")))
            elif budget < campaign.grant_points:
                report.refused.append((line, card, _("The campaign's budget is used up.")))
            else:
                received[member.pk] += campaign.grant_points
                budget -= campaign.grant_points
                planned.append(_new_lot(campaign, member.pk, now))
        if not planned:
            return
        accounts = Account.objects.bulk_create([account for _, account in planned])
        lots = []
        for (lot, _account), account in zip(planned, accounts, strict=True):
            lot.account = account
            lots.append(lot)
        lots = Lot.objects.bulk_create(lots)
        post([Leg(TransferKind.GRANT, campaign.account, lot.account, lot.points, campaign.agency_id,
                  {"campaign_id": campaign.pk, "lot_id": lot.pk}) for lot in lots], now=now)
        report.granted += len(lots)
        report.points += sum(lot.points for lot in lots)


# --- redemption (R3, R4, R9) -------------------------------------------------------------------

# The hot path of the terminal API (holds and one-step redemptions) reads with plain SQL: the same
# rows and locks as the ORM queries they replace, at a fraction of the CPU per request. Writes still
# go through the ORM (model defaults) and posting.post().

def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _lock_suffix(clause: str) -> str:
    """``clause`` (a row lock) where the database has row locks; SQLite locks the whole database."""
    return f" {clause}" if connection.features.has_select_for_update else ""


def _lock_member(card_number: str) -> Member:
    """Lock the member's row (first in the lock order); only its id is loaded."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {_table(Member)} WHERE card_number = %s"  # noqa: S608 - quoted names only
                       + _lock_suffix("FOR UPDATE"), [card_number])
        row = cursor.fetchone()
    if row is None:
        raise NotFound(_("Unknown card number."), code="unknown_member")
    return Member(pk=row[0], card_number=card_number)


def _lock_merchant_for_redeem(merchant_id: int) -> Merchant:
    """Lock the merchant's row and check that it may take points (R9); also read the id of its
    payable account (``payable_id``; None before its first redemption), which post() later locks in
    primary-key order with the lot accounts.

    NO KEY UPDATE conflicts with the FOR UPDATE that suspension takes, so a hold can never be
    created for a merchant that is being suspended (R9) — it waits and then sees the new status.
    The status is read here, under that lock, on every request (never from a cache).
    """
    sql = (f"SELECT m.id, m.status, m.points_enabled, (SELECT a.id FROM {_table(Account)} a "  # noqa: S608
           f"WHERE a.kind = %s AND a.merchant_id = m.id ORDER BY a.id LIMIT 1) "
           f"FROM {_table(Merchant)} m WHERE m.id = %s" + _lock_suffix("FOR NO KEY UPDATE OF m"))
    with connection.cursor() as cursor:
        cursor.execute(sql, [AccountKind.MERCHANT_PAYABLE, merchant_id])
        row = cursor.fetchone()
    if row is None:
        raise NotFound(_("No such merchant."))
    merchant = Merchant(pk=row[0], status=row[1], points_enabled=bool(row[2]))
    merchant.payable_id = row[3]
    if not merchant.can_redeem:
        raise InvalidInput(_("This merchant cannot accept points now."), code="merchant_not_active")
    return merchant


def _from_db_datetime(value) -> dt.datetime:
    """A datetime read by plain SQL: aware already (PostgreSQL) or UTC text (SQLite)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if timezone.is_aware(value) else value.replace(tzinfo=dt.UTC)


def _lot_states(member: Member, now: dt.datetime) -> tuple[list[lot_engine.LotState], dict[int, Lot]]:
    """The member's spendable lots (unreversed, unexpired, with points) and their accounts' balances."""
    sql = (f"SELECT l.id, l.account_id, l.agency_id, l.expires_at, a.balance FROM {_table(Lot)} l "  # noqa: S608
           f"INNER JOIN {_table(Account)} a ON a.id = l.account_id WHERE l.member_id = %s "
           f"AND l.reversed_at IS NULL AND l.expires_at > %s AND a.balance > 0")
    with connection.cursor() as cursor:
        cursor.execute(sql, [member.pk, connection.ops.adapt_datetimefield_value(now)])
        rows = cursor.fetchall()
    lots = {}
    for lot_id, account_id, agency_id, expires_at, balance in rows:
        lot = Lot(pk=lot_id, member_id=member.pk, agency_id=agency_id, expires_at=_from_db_datetime(expires_at),
                  account=Account(pk=account_id, kind=AccountKind.LOT, agency_id=agency_id, balance=balance))
        lots[lot_id] = lot
    states = [lot_engine.LotState(lot.pk, lot.account.balance, lot.expires_at, lot.pk) for lot in lots.values()]
    return states, lots


def _plan(member: Member, amount: int, now: dt.datetime) -> tuple[list[lot_engine.Portion], dict[int, Lot]]:
    states, lots = _lot_states(member, now)
    try:
        return lot_engine.plan_consumption(states, amount, now), lots
    except lot_engine.InsufficientPoints as exc:
        raise InvalidInput(_("Not enough spendable points: {available} available.").format(
            available=exc.available), code="insufficient_points") from None


@dataclass(frozen=True)
class TerminalContext:
    """Who is asking, from the terminal API: the merchant, the terminal, its reference and clock."""

    merchant_id: int
    terminal_id: int | None = None
    reference: str = ""
    terminal_time: dt.datetime | None = None


@retry_on_conflict
def do_hold(ctx: TerminalContext, card_number: str, amount: int, *, now=None) -> Hold:
    """Authorise: reserve ``amount`` points from the member's lots (earliest expiry first) for 120 s."""
    _positive(amount)
    with transaction.atomic():
        now = _now(now)
        member = _lock_member(card_number)
        merchant = _lock_merchant_for_redeem(ctx.merchant_id)
        plan, lots = _plan(member, amount, now)
        account = Account.objects.create(kind=AccountKind.HOLD)
        hold = Hold.objects.create(merchant=merchant, terminal_id=ctx.terminal_id, member=member, amount=amount,
                                   account=account, created_at=now, expires_at=now + HOLD_TIMEOUT,
                                   terminal_time=ctx.terminal_time, reference=ctx.reference[:60])
        HoldAllocation.objects.bulk_create([HoldAllocation(hold=hold, lot_id=p.lot_id, amount=p.amount, seq=i)
                                           for i, p in enumerate(plan)])
        after: dict[int, int] = {}
        post([Leg(TransferKind.HOLD, lots[p.lot_id].account, account, p.amount, lots[p.lot_id].agency_id,
                  {"hold_id": hold.pk, "lot_id": p.lot_id, "merchant_id": merchant.pk}) for p in plan],
             now=now, terminal_time=ctx.terminal_time, balances_after=after)
        hold.post_balance = _spendable_after(lots, after)
    return hold


def _lock_hold(ctx: TerminalContext | None, hold_id: int) -> Hold:
    hold = Hold.objects.select_for_update().filter(pk=hold_id).first()
    if hold is None or (ctx is not None and hold.merchant_id != ctx.merchant_id):
        raise NotFound(_("No such hold."), code="unknown_hold")
    return hold


def _release_legs(hold: Hold, amount_by_alloc: list[tuple[HoldAllocation, int]], now: dt.datetime) -> list[Leg]:
    """Legs returning held points to their lots (R4): into an expired lot they expire at once; into a
    reversed lot they go back to the campaign (or the agency pool once the campaign is closed)."""
    legs = []
    for allocation, amount in amount_by_alloc:
        if amount <= 0:
            continue
        lot = allocation.lot
        destination = lot_engine.destination_of(
            lot_engine.LotState(lot.pk, 0, lot.expires_at, lot.pk, reversed=lot.reversed_at is not None), now)
        refs = {"hold_id": hold.pk, "lot_id": lot.pk, "merchant_id": hold.merchant_id}
        if destination == lot_engine.DEST_LOT:
            legs.append(Leg(TransferKind.RELEASE, hold.account, lot.account, amount, lot.agency_id, refs))
        elif destination == lot_engine.DEST_EXPIRED:
            legs.append(Leg(TransferKind.RELEASE_EXPIRED, hold.account,
                            singleton_account(AccountKind.EXPIRED, agency_id=lot.agency_id), amount, lot.agency_id,
                            refs))
        else:
            legs.append(Leg(TransferKind.RELEASE_TO_CAMPAIGN, hold.account, _campaign_return_account(lot), amount,
                            lot.agency_id, refs))
    return legs


def _campaign_return_account(lot: Lot) -> Account:
    campaign = lot.campaign
    if campaign.status == CampaignStatus.CLOSED or campaign.account_id is None:
        return singleton_account(AccountKind.AGENCY_FUNDED, agency_id=lot.agency_id)
    return campaign.account


def _allocations(hold: Hold) -> list[HoldAllocation]:
    return list(hold.allocations.select_related("lot__account", "lot__campaign__account").order_by("seq"))


@retry_on_conflict
def do_capture(ctx: TerminalContext, hold_id: int, amount: int | None = None, *, now=None) -> Redemption:
    """Capture all or part of an open hold, once; the remainder is released (R4).

    The authorisation time governs: held points may be captured after their lot expired, as long as
    the hold itself has not timed out (its end is exclusive).
    """
    timed_out = False
    with transaction.atomic():
        now = _now(now)
        merchant = Merchant.objects.select_for_update(no_key=True).filter(pk=ctx.merchant_id).first()
        hold = _lock_hold(ctx, hold_id)
        if hold.status != HoldStatus.OPEN:
            raise Conflict(_("The hold is no longer open."), code="hold_not_open")
        if now >= hold.expires_at:
            # Commit the release first, then refuse: raising inside the block would undo it.
            _resolve(hold, HoldStatus.EXPIRED, now)
            timed_out = True
    if timed_out:
        raise Conflict(_("The hold timed out and was released."), code="hold_expired")
    with transaction.atomic():
        merchant = Merchant.objects.select_for_update(no_key=True).filter(pk=ctx.merchant_id).first()
        hold = _lock_hold(ctx, hold_id)
        if hold.status != HoldStatus.OPEN:
            raise Conflict(_("The hold is no longer open."), code="hold_not_open")
        if merchant is None or not merchant.can_redeem:
            raise InvalidInput(_("This merchant cannot accept points now."), code="merchant_not_active")
        amount = hold.amount if amount is None else _positive(amount)
        if amount > hold.amount:
            raise InvalidInput(_("Cannot capture more than was held."), code="capture_exceeds_hold")
        allocations = _allocations(hold)
        payable = singleton_account(AccountKind.MERCHANT_PAYABLE, merchant_id=merchant.pk)
        redemption = Redemption.objects.create(merchant=merchant, terminal_id=ctx.terminal_id or hold.terminal_id,
                                               member_id=hold.member_id, hold=hold, amount=amount, created_at=now,
                                               terminal_time=ctx.terminal_time or hold.terminal_time,
                                               reference=(ctx.reference or hold.reference)[:60])
        legs, releases, remaining, seq = [], [], amount, 0
        alloc_rows = []
        for allocation in allocations:
            take = min(allocation.amount, remaining)
            remaining -= take
            if take:
                legs.append(Leg(TransferKind.CAPTURE, hold.account, payable, take, allocation.lot.agency_id,
                                {"hold_id": hold.pk, "redemption_id": redemption.pk, "lot_id": allocation.lot_id,
                                 "merchant_id": merchant.pk}))
                alloc_rows.append(RedemptionAllocation(redemption=redemption, lot_id=allocation.lot_id, amount=take,
                                                       seq=seq))
                seq += 1
            releases.append((allocation, allocation.amount - take))
        legs += _release_legs(hold, releases, now)
        RedemptionAllocation.objects.bulk_create(alloc_rows)
        post(legs, now=now, terminal_time=ctx.terminal_time)
        hold.captured = amount
        hold.released = hold.amount - amount
        hold.status = HoldStatus.CAPTURED
        hold.resolved_at = now
        hold.save(update_fields=["captured", "released", "status", "resolved_at"])
    return redemption


def _resolve(hold: Hold, status: str, now: dt.datetime) -> None:
    """Release every held point and close the hold as voided or timed out."""
    legs = _release_legs(hold, [(a, a.amount) for a in _allocations(hold)], now)
    post(legs, now=now)
    hold.released = hold.amount
    hold.status = status
    hold.resolved_at = now
    hold.save(update_fields=["released", "status", "resolved_at"])


@retry_on_conflict
def do_void(ctx: TerminalContext, hold_id: int, *, now=None) -> Hold:
    """Void an open hold: every point goes back (R4)."""
    with transaction.atomic():
        now = _now(now)
        Merchant.objects.select_for_update(no_key=True).filter(pk=ctx.merchant_id).first()
        hold = _lock_hold(ctx, hold_id)
        if hold.status != HoldStatus.OPEN:
            raise Conflict(_("The hold is no longer open."), code="hold_not_open")
        _resolve(hold, HoldStatus.EXPIRED if now >= hold.expires_at else HoldStatus.VOIDED, now)
    return hold


def void_open_holds(merchant_id: int, *, now=None) -> int:
    """Void every open hold of a merchant (R9: on suspension). Call with the merchant row locked."""
    now = _now(now)
    count = 0
    for hold_id in Hold.objects.filter(merchant_id=merchant_id, status=HoldStatus.OPEN).order_by("pk") \
            .values_list("pk", flat=True):
        hold = _lock_hold(None, hold_id)
        if hold.status == HoldStatus.OPEN:
            _resolve(hold, HoldStatus.VOIDED, now)
            count += 1
    return count


def do_expire_holds(*, now=None, limit: int = 1000) -> int:
    """Release holds whose 120 s ran out (a periodic job; captures also check the time themselves)."""
    now = _now(now)
    done = 0
    ids = list(Hold.objects.filter(status=HoldStatus.OPEN, expires_at__lte=now).order_by("pk")
               .values_list("pk", "merchant_id")[:limit])
    for hold_id, merchant_id in ids:
        with transaction.atomic():
            Merchant.objects.select_for_update(no_key=True).filter(pk=merchant_id).first()
            hold = _lock_hold(None, hold_id)
            if hold.status == HoldStatus.OPEN and now >= hold.expires_at:
                _resolve(hold, HoldStatus.EXPIRED, now)
                done += 1
    return done


@retry_on_conflict
def do_redeem(ctx: TerminalContext, card_number: str, amount: int, *, now=None) -> Redemption:
    """One-step redemption: take ``amount`` points (earliest expiry first) into the merchant's payable."""
    _positive(amount)
    with transaction.atomic():
        now = _now(now)
        member = _lock_member(card_number)
        merchant = _lock_merchant_for_redeem(ctx.merchant_id)
        plan, lots = _plan(member, amount, now)
        payable = _merchant_payable(merchant)
        redemption = Redemption.objects.create(merchant=merchant, terminal_id=ctx.terminal_id, member=member,
                                               amount=amount, created_at=now, terminal_time=ctx.terminal_time,
                                               reference=ctx.reference[:60])
        RedemptionAllocation.objects.bulk_create([
            RedemptionAllocation(redemption=redemption, lot_id=p.lot_id, amount=p.amount, seq=i)
            for i, p in enumerate(plan)])
        after: dict[int, int] = {}
        post([Leg(TransferKind.REDEEM, lots[p.lot_id].account, payable, p.amount, lots[p.lot_id].agency_id,
                  {"redemption_id": redemption.pk, "lot_id": p.lot_id, "merchant_id": merchant.pk}) for p in plan],
             now=now, terminal_time=ctx.terminal_time, balances_after=after)
        redemption.post_balance = _spendable_after(lots, after)
    return redemption


def _merchant_payable(merchant: Merchant) -> Account:
    """The merchant's payable account: by the id read with the merchant lock, created on first use."""
    payable_id = getattr(merchant, "payable_id", None)
    if payable_id is None:
        return singleton_account(AccountKind.MERCHANT_PAYABLE, merchant_id=merchant.pk)
    return Account(pk=payable_id, kind=AccountKind.MERCHANT_PAYABLE, merchant_id=merchant.pk)


def _spendable_after(lots: dict[int, Lot], after: dict[int, int]) -> int:
    """The member's spendable points once a hold or redemption is posted: the spendable lots read in
    this transaction (under the member lock), with the balances post() left on the lots it touched."""
    return sum(after.get(lot.account_id, lot.account.balance) for lot in lots.values())


@retry_on_conflict
def do_refund(ctx: TerminalContext, redemption_id: int, amount: int, *, reason: str = "", now=None) -> Refund:
    """Refund part or all of a redemption (R6): points go back to their lots in reverse order of
    consumption; into an expired lot they expire at once; into a reversed lot they return to the
    campaign. The merchant's payable drops and may go negative (carried forward)."""
    _positive(amount)
    with transaction.atomic():
        now = _now(now)
        Merchant.objects.select_for_update(no_key=True).filter(pk=ctx.merchant_id).first()
        redemption = Redemption.objects.select_for_update().filter(pk=redemption_id,
                                                                   merchant_id=ctx.merchant_id).first()
        if redemption is None:
            raise NotFound(_("No such redemption."), code="unknown_redemption")
        if redemption.refunded + amount > redemption.amount:
            raise InvalidInput(_("Refunds cannot exceed the points captured ({left} left).").format(
                left=redemption.amount - redemption.refunded), code="refund_exceeds_capture")
        allocations = list(redemption.allocations.select_related("lot__account", "lot__campaign__account")
                           .order_by("seq"))
        lots = {a.lot_id: a.lot for a in allocations}
        returned = defaultdict(int)
        for refund_lot, points in _refunded_by_lot(redemption):
            returned[refund_lot] += points
        plan = lot_engine.plan_returns(
            [lot_engine.Portion(a.lot_id, a.amount) for a in allocations], dict(returned), amount,
            {lot.pk: lot_engine.LotState(lot.pk, 0, lot.expires_at, lot.pk, reversed=lot.reversed_at is not None)
             for lot in lots.values()}, now)
        refund = Refund.objects.create(redemption=redemption, amount=amount, reason=reason[:200], created_at=now)
        payable = singleton_account(AccountKind.MERCHANT_PAYABLE, merchant_id=redemption.merchant_id)
        legs = []
        for item in plan:
            lot = lots[item.lot_id]
            refs = {"redemption_id": redemption.pk, "refund_id": refund.pk, "lot_id": lot.pk,
                    "merchant_id": redemption.merchant_id}
            if item.destination == lot_engine.DEST_LOT:
                legs.append(Leg(TransferKind.REFUND, payable, lot.account, item.amount, lot.agency_id, refs))
            elif item.destination == lot_engine.DEST_EXPIRED:
                legs.append(Leg(TransferKind.REFUND_EXPIRED, payable,
                                singleton_account(AccountKind.EXPIRED, agency_id=lot.agency_id), item.amount,
                                lot.agency_id, refs))
            else:
                legs.append(Leg(TransferKind.REFUND_TO_CAMPAIGN, payable, _campaign_return_account(lot), item.amount,
                                lot.agency_id, refs))
        post(legs, now=now, terminal_time=ctx.terminal_time)
        redemption.refunded += amount
        redemption.save(update_fields=["refunded"])
    return refund


def _refunded_by_lot(redemption: Redemption) -> list[tuple[int, int]]:
    from citygov.points.models import Transfer

    return list(Transfer.objects.filter(redemption=redemption, refund__isnull=False).values("lot_id")
                .annotate(total=Sum("amount")).values_list("lot_id", "total"))


# --- expiry (R3) and reversals (R13) -------------------------------------------------------------

EXPIRY_CHUNK = 2000


def do_expire_lots(*, now=None, chunk: int = EXPIRY_CHUNK) -> int:
    """Move the remainder of every lot whose time has come to its agency's ``expired`` account.

    Idempotent and safe to run concurrently: lots are locked in primary-key order and only a
    positive remaining balance moves. Held points stay held (they are in the hold's account).
    """
    now = _now(now)
    moved = 0
    last_id = 0
    while True:
        with transaction.atomic():
            lots = list(Lot.objects.select_related("account").filter(
                expires_at__lte=now, account__balance__gt=0, pk__gt=last_id).order_by("pk")[:chunk])
            if not lots:
                return moved
            last_id = lots[-1].pk
            balances = dict(Account.objects.select_for_update().filter(pk__in=[lot.account_id for lot in lots])
                            .order_by("pk").values_list("pk", "balance"))
            legs = []
            expired_accounts: dict[int, Account] = {}
            for lot in lots:
                remaining = balances.get(lot.account_id, 0)
                if remaining > 0:
                    if lot.agency_id not in expired_accounts:
                        expired_accounts[lot.agency_id] = singleton_account(AccountKind.EXPIRED,
                                                                            agency_id=lot.agency_id)
                    legs.append(Leg(TransferKind.EXPIRE, lot.account, expired_accounts[lot.agency_id], remaining,
                                    lot.agency_id, {"lot_id": lot.pk}))
            post(legs, now=now)
            moved += len(legs)


@retry_on_conflict
def do_reverse_grant(actor, lot_id: int, *, reason: str, now=None) -> LedgerException | None:
    """Reverse a grant (R13): claw back only what the lot still holds, back to the campaign; record any
    shortfall (points already spent or held) as an exception. Never touches other lots."""
    require_writer(actor)
    require_capability(actor, Capability.ISSUE_POINTS)
    if not reason.strip():
        raise InvalidInput(_("A reversal needs a reason."), fields={"reason": ["required"]})
    with transaction.atomic():
        now = _now(now)
        lot = Lot.objects.select_related("campaign__account", "account").filter(pk=lot_id).first()
        if lot is None or not _reaches(actor, lot.agency_id):
            raise NotFound(_("No such lot."))
        Member.objects.select_for_update().filter(pk=lot.member_id).first()
        lot = Lot.objects.select_for_update(of=("self",)).select_related("campaign__account").get(pk=lot.pk)
        if lot.reversed_at is not None:
            raise Conflict(_("This grant was already reversed."), code="already_reversed")
        available = Account.objects.select_for_update().get(pk=lot.account_id).balance
        if available > 0:
            post([Leg(TransferKind.REVERSE_GRANT, lot.account, _campaign_return_account(lot), available,
                      lot.agency_id, {"lot_id": lot.pk, "campaign_id": lot.campaign_id})], now=now)
        lot.reversed_at = now
        lot.save(update_fields=["reversed_at"])
        shortfall = lot.points - available
        exception = None
        if shortfall > 0:
            exception = LedgerException.objects.create(
                agency_id=lot.agency_id, kind="reversal_shortfall", amount=shortfall, lot=lot, created_at=now,
                detail=f"grant reversed: {available} of {lot.points} points clawed back; reason: {reason.strip()}")
        record_change(actor=actor, action=ChangeAction.ACTION, obj=lot, agency_id=lot.agency_id,
                      note=f"grant reversed ({available} clawed back, shortfall {shortfall}): {reason.strip()}"[:300])
    return exception


def terminal_context(terminal: Terminal, *, reference: str = "", terminal_time=None) -> TerminalContext:
    """The context a terminal's request runs in."""
    return TerminalContext(merchant_id=terminal.merchant_id, terminal_id=terminal.pk, reference=reference,
                           terminal_time=terminal_time)
