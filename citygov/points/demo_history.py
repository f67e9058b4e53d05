"""Two years of demo history for the points analytics: a busy year, then a collapse.

The audit found 2023's activity more than 90% below 2022's and nobody flagged it. This seeds the
24 calendar months before the current one: in the first twelve, twenty members get 1,000 points a
month and spend most of them; in the last twelve they get 100 and spend a little. So every month of
this year falls far below the same month last year and the year-over-year alert is raised.

Everything goes through the ledger services with the service clock set to each event's moment (a
separate purchase, campaign and members, so the rest of the demo is unchanged), expiring lots month
by month, so every ledger invariant holds. Idempotent: nothing happens when the history's purchase
exists. About 250 service calls, a second or two on SQLite.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction

from citygov.core.errors import InvalidInput
from citygov.points.demo_settlement import fund_by_statement
from citygov.points.models import Member, Purchase
from citygov.points.queries import wallet
from citygov.points.services import ledger
from citygov.points.services.members import MemberInput, do_register_member

PURCHASE_REFERENCE = "PO-DEMO-HISTORY"
CARD_PREFIX = "CARDH"
MEMBERS = 20
MONTHS = 24
BUSY_GRANT, QUIET_GRANT = 1_000, 100
BUSY_SPENDS, QUIET_SPENDS = 10, 3
BUSY_AMOUNTS = (1_200, 900, 1_500, 700, 1_100)
QUIET_AMOUNTS = (90, 60, 120)
LOT_VALIDITY_DAYS = 60
_GIVEN = ("雅惠", "宗翰", "佩君", "冠宇", "淑惠")
_SURNAMES = "周徐孫馬朱"


@dataclass(frozen=True)
class HistoryResult:
    """What the history seeded (all zero when it already existed)."""

    months: int = 0
    grants: int = 0
    redemptions: int = 0


def month_starts(now: dt.datetime, months: int = MONTHS) -> list[dt.datetime]:
    """Midnight on the 1st of each of the ``months`` months before ``now``'s month, oldest first."""
    current = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    index = current.year * 12 + current.month - 1
    return [current.replace(year=(index - back) // 12, month=(index - back) % 12 + 1)
            for back in range(months, 0, -1)]


def _members(admin) -> list[Member]:
    members = []
    for index in range(1, MEMBERS + 1):
        card = f"{CARD_PREFIX}{index:04d}"
        member = Member.objects.filter(card_number=card).first()
        if member is None:
            name = _SURNAMES[index % len(_SURNAMES)] + _GIVEN[(index * 2) % len(_GIVEN)]
            member = do_register_member(admin, MemberInput(card_number=card, name=name, consent=True))
        members.append(member)
    return members


def seed_points_history(admin, agency, merchants, *, now: dt.datetime) -> HistoryResult:
    """Seed 24 months of activity for ``agency`` at the demo ``merchants`` (``(merchant, terminal, fate)``
    tuples as the points demo builds them); idempotent."""
    if Purchase.objects.filter(reference=PURCHASE_REFERENCE).exists():
        return HistoryResult()
    tills = [terminal for merchant, terminal, fate in merchants if fate != "applied" and merchant.points_enabled]
    starts = month_starts(now)
    first, end = starts[0], starts[-1] + dt.timedelta(days=31)
    budget = MEMBERS * (BUSY_GRANT + QUIET_GRANT) * (MONTHS // 2)
    grants = redemptions = 0
    with transaction.atomic():
        members = _members(admin)
        cards = [member.card_number for member in members]
        purchase = ledger.do_create_purchase(admin, agency_id=agency.pk, reference=PURCHASE_REFERENCE,
                                             points=budget, now=first - dt.timedelta(days=10))
        fund_by_statement(admin, purchase, booked_at=first - dt.timedelta(days=9))
        campaigns = {}
        for label, grant, opens, closes in (
                ("市民卡月月領點（前期）", BUSY_GRANT, first - dt.timedelta(days=1), starts[MONTHS // 2]),
                ("市民卡月月領點（後期）", QUIET_GRANT, starts[MONTHS // 2] - dt.timedelta(days=1), end)):
            campaign = ledger.do_create_campaign(admin, ledger.CampaignInput(
                agency_id=agency.pk, name=label, budget=MEMBERS * grant * (MONTHS // 2), grant_points=grant,
                per_member_limit=grant * MONTHS, claim_start=opens, claim_end=closes,
                lot_validity_days=LOT_VALIDITY_DAYS))
            ledger.do_approve_campaign(admin, campaign.pk, now=opens)
            campaigns[grant] = campaign.pk
        step = 0
        for number, start in enumerate(starts):
            busy = number < MONTHS // 2
            ledger.do_expire_lots(now=start)
            report = ledger.do_bulk_grant(admin, campaigns[BUSY_GRANT if busy else QUIET_GRANT], cards,
                                          now=start + dt.timedelta(days=1, hours=9))
            grants += report.granted
            spends, amounts = (BUSY_SPENDS, BUSY_AMOUNTS) if busy else (QUIET_SPENDS, QUIET_AMOUNTS)
            for spend in range(spends):
                at = start + dt.timedelta(days=3 + 2 * spend, hours=11, minutes=7 * spend)
                member = members[(step * 3) % len(members)]
                amount = min(amounts[step % len(amounts)], wallet(member, now=at).spendable)
                terminal = tills[step % len(tills)]
                step += 1
                if amount <= 0:
                    continue
                ctx = ledger.terminal_context(terminal, reference=f"HIST-{step:04d}", terminal_time=at)
                try:
                    ledger.do_redeem(ctx, member.card_number, amount, now=at)
                    redemptions += 1
                except InvalidInput:
                    continue
        ledger.do_expire_lots(now=min(now, end))
    return HistoryResult(months=len(starts), grants=grants, redemptions=redemptions)
