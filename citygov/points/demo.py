"""Demo data for the points programme: one agency's funded purchase, two campaigns, members,
merchants in several districts with terminals, and a few months of grants, redemptions, holds, a
refund, expiry and suspensions.

Everything goes through the services, in time order, with the service clock set to the moment each
event happens (the services take ``now`` for exactly this: replaying history), so the ledger is
whole (``check_ledger().ok``) and the charts have a history. All names, card numbers, phone numbers,
addresses and 統一編號 are synthetic (the business IDs pass the checksum but are chosen from a
block, 9999xxxx, that is not meant to name real companies).

Idempotent: nothing happens when the demo purchase already exists.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from citygov.agencies.models import Agency, AgencyKind
from citygov.agencies.queries import district_by_code, locate
from citygov.agencies.services import AgencyInput, do_create_agency
from citygov.core.errors import InvalidInput
from citygov.points.demo_history import seed_points_history
from citygov.points.demo_settlement import fund_by_statement, seed_settlement_demo
from citygov.points.engine.taxid import is_valid_tax_id
from citygov.points.models import Member, Merchant, Purchase, Terminal
from citygov.points.queries import wallet
from citygov.points.services import ledger
from citygov.points.services.members import MemberInput, do_register_member
from citygov.points.services.merchants import (
    MerchantInput,
    do_approve_merchant,
    do_create_merchant,
    do_create_terminal,
    do_suspend_merchant,
)

logger = logging.getLogger(__name__)

AGENCY_CODE = "social-welfare"
PURCHASE_REFERENCE = "PO-DEMO-2026-001"
PURCHASE_POINTS = 500_000
MEMBER_COUNT = 40
CARD_PREFIX = "CARD2026"

_SURNAMES = "陳林黃張李王吳劉蔡楊"
_GIVEN = ("志明", "淑芬", "家豪", "雅婷", "俊傑", "怡君", "建宏", "美玲")

# (name, category, address, points enabled, fate): fate is "active", "suspended" (after some sales) or
# "applied" (never approved). Three active merchants never switched points payment on, like the
# audit's finding in 中壢區 and 八德區.
MERCHANTS = (
    ("桃園示範早餐店", "餐飲", "桃園市桃園區中正路100號", True, "active"),
    ("虎頭山示範書局", "文教", "桃園市桃園區成功路二段50號", True, "active"),
    ("中壢示範青果行", "生鮮", "桃園市中壢區中央西路二段30號", True, "active"),
    ("中壢示範文具", "文具", "桃園市中壢區元化路120號", False, "active"),
    ("八德示範麵包坊", "餐飲", "桃園市八德區介壽路一段500號", True, "active"),
    ("八德示範五金行", "五金", "桃園市八德區建國路88號", False, "active"),
    ("平鎮示範藥局", "藥妝", "桃園市平鎮區環南路66號", True, "active"),
    ("龜山示範咖啡", "餐飲", "桃園市龜山區文化一路12號", True, "active"),
    ("南崁示範超市", "零售", "桃園市蘆竹區南崁路一段88號", True, "active"),
    ("大園示範海產", "餐飲", "桃園市大園區中正東路10號", True, "suspended"),
    ("楊梅示範茶行", "零售", "桃園市楊梅區大成路20號", True, "suspended"),
    ("龍潭示範花生糖", "伴手禮", "桃園市龍潭區中正路三坑段5號", False, "active"),
    ("觀音示範蓮花園", "休閒", "桃園市觀音區中山路一段1號", False, "applied"),
)
# Redemption amounts, cycled; each is capped at what the member can spend at that moment.
AMOUNTS = (120, 80, 200, 150, 60, 300, 90, 45, 250, 110)


@dataclass(frozen=True)
class PointsDemoResult:
    """What the demo created (all zero when it already existed)."""

    members: int = 0
    merchants: int = 0
    lots: int = 0
    redemptions: int = 0


def demo_tax_ids(count: int) -> list[str]:
    """The first ``count`` valid 統一編號 from 99990000 upwards (synthetic, deterministic)."""
    numbers = (f"{n:08d}" for n in itertools.count(99_990_000))
    return list(itertools.islice((n for n in numbers if is_valid_tax_id(n)), count))


def _agency(admin) -> Agency:
    agency = Agency.objects.filter(code=AGENCY_CODE).first()
    if agency is not None:
        return agency
    parent = Agency.objects.filter(code="tycg").first()
    return do_create_agency(admin, AgencyInput(code=AGENCY_CODE, name_zh="社會局", name_en="Department of Social Welfare",
                                               kind=AgencyKind.DEPARTMENT, parent_id=parent.pk if parent else None))


def _members(admin) -> list[Member]:
    members = []
    for index in range(1, MEMBER_COUNT + 1):
        card = f"{CARD_PREFIX}{index:04d}"
        member = Member.objects.filter(card_number=card).first()
        if member is None:
            name = _SURNAMES[index % len(_SURNAMES)] + _GIVEN[(index * 3) % len(_GIVEN)]
            member = do_register_member(admin, MemberInput(card_number=card, name=name, phone=f"0912{index:06d}",
                                                           consent=index % 3 != 0))
        members.append(member)
    return members


def _coordinates(address: str, index: int) -> tuple[float | None, float | None]:
    district = district_by_code(locate(address).district_code)
    if district is None:
        return None, None
    # A few hundred metres from the district's centroid, different for each merchant.
    lon = district.centroid_lon + 0.004 * (index % 3 - 1)
    lat = district.centroid_lat + 0.003 * (index % 4 - 1.5)
    return round(lon, 6), round(lat, 6)


def _merchants(admin) -> list[tuple[Merchant, Terminal, str]]:
    """Create (or find) the demo merchants, each with one terminal; approve all but the applicant."""
    result = []
    for index, (tax_id, (name, category, address, enabled, fate)) in enumerate(
            zip(demo_tax_ids(len(MERCHANTS)), MERCHANTS, strict=True)):
        merchant = Merchant.objects.filter(tax_id=tax_id).first()
        if merchant is None:
            lon, lat = _coordinates(address, index)
            merchant = do_create_merchant(admin, MerchantInput(
                tax_id=tax_id, name=name, category=category, address=address, bank_code="004",
                bank_account=f"0000{tax_id}", contract_start=dt.date(2025, 1, 1), contract_end=dt.date(2027, 12, 31),
                points_enabled=enabled, lon=lon, lat=lat))
        terminal = Terminal.objects.filter(merchant=merchant).first()
        if terminal is None:
            terminal, _secret = do_create_terminal(admin, merchant.pk, f"DEMO-T{tax_id}")
        if fate != "applied" and merchant.status == "applied":
            merchant = do_approve_merchant(admin, merchant.pk)
        result.append((merchant, terminal, fate))
    return result


def _campaign(admin, agency: Agency, name: str, *, budget: int, grant_points: int, limit: int, opens: dt.datetime,
              closes: dt.datetime, validity: int) -> int:
    campaign = ledger.do_create_campaign(admin, ledger.CampaignInput(
        agency_id=agency.pk, name=name, budget=budget, grant_points=grant_points, per_member_limit=limit,
        claim_start=opens, claim_end=closes, lot_validity_days=validity))
    ledger.do_approve_campaign(admin, campaign.pk, now=opens)
    return campaign.pk


class _Shop:
    """Redemptions at the merchants that take points, round-robin, capped by the member's balance."""

    def __init__(self, members: list[Member], merchants: list[tuple[Merchant, Terminal, str]]):
        self.members = members
        self.tills = [(m, t) for m, t, fate in merchants if fate != "applied" and m.points_enabled]
        self.count = 0
        self.redemptions = []

    def redeem(self, at: dt.datetime) -> None:
        step = self.count
        self.count += 1
        member = self.members[(step * 7) % len(self.members)]
        merchant, terminal = self.tills[step % len(self.tills)]
        amount = min(AMOUNTS[step % len(AMOUNTS)], wallet(member, now=at).spendable)
        if amount <= 0:
            return
        ctx = ledger.terminal_context(terminal, reference=f"DEMO-{step + 1:03d}", terminal_time=at)
        try:
            self.redemptions.append(ledger.do_redeem(ctx, member.card_number, amount, now=at))
        except InvalidInput:
            # A merchant suspended by now cannot take points; the demo simply moves on.
            logger.debug("demo redemption %s refused", step)


def seed_points_demo(admin) -> PointsDemoResult:
    """Seed the points demo programme through the services (see the module docstring); idempotent."""
    if Purchase.objects.filter(reference=PURCHASE_REFERENCE).exists():
        return PointsDemoResult()
    now = timezone.now().replace(microsecond=0)

    def days_ago(days: float, hours: float = 0) -> dt.datetime:
        return now - dt.timedelta(days=days) + dt.timedelta(hours=hours)

    with transaction.atomic():
        agency = _agency(admin)
        members = _members(admin)
        merchants = _merchants(admin)
        seed_points_history(admin, agency, merchants, now=now)  # idempotent: skips when its purchase exists
        purchase = ledger.do_create_purchase(admin, agency_id=agency.pk, reference=PURCHASE_REFERENCE,
                                             points=PURCHASE_POINTS, now=days_ago(100))
        fund_by_statement(admin, purchase, booked_at=days_ago(98))
        seniors = _campaign(admin, agency, "敬老重陽加碼", budget=200_000, grant_points=500, limit=1_000,
                            opens=days_ago(90), closes=days_ago(-60), validity=365)
        new_year = _campaign(admin, agency, "市民卡新春好禮", budget=100_000, grant_points=200, limit=400,
                             opens=days_ago(85), closes=days_ago(-30), validity=60)
        shop = _Shop(members, merchants)
        cards = [m.card_number for m in members]

        # Month one: every senior card and the New Year cards get their first grant.
        ledger.do_bulk_grant(admin, seniors, cards[:24], now=days_ago(80))
        ledger.do_bulk_grant(admin, new_year, cards[9:], now=days_ago(75))
        for step in range(15):
            shop.redeem(days_ago(70 - 2 * step, hours=3))
        # A second New Year grant (expiring within 30 days of today), then more shopping.
        ledger.do_bulk_grant(admin, new_year, cards[24:], now=days_ago(40))
        for step in range(9):
            shop.redeem(days_ago(38 - 2 * step, hours=5))
        # The seniors' second grant; the first New Year lots expire 60 days after their grant.
        ledger.do_bulk_grant(admin, seniors, cards[:8], now=days_ago(20))
        ledger.do_expire_lots(now=days_ago(14))
        for step in range(6):
            shop.redeem(days_ago(13 - 2 * step, hours=2))

        # Two-phase payments: a partial capture, a void, and a hold the suspension voids (R9).
        till, terminal = shop.tills[0]
        ctx = ledger.terminal_context(terminal, reference="DEMO-HOLD-1")
        hold = ledger.do_hold(ctx, cards[0], 150, now=days_ago(10))
        shop.redemptions.append(ledger.do_capture(ctx, hold.pk, 100, now=days_ago(10) + dt.timedelta(seconds=40)))
        hold = ledger.do_hold(ctx, cards[1], 80, now=days_ago(9))
        ledger.do_void(ctx, hold.pk, now=days_ago(9) + dt.timedelta(seconds=20))
        refunded = shop.redemptions[2]
        ledger.do_refund(ledger.terminal_context(refunded.terminal, reference="DEMO-REFUND-1"), refunded.pk,
                         min(50, refunded.amount), reason="退貨", now=days_ago(8))
        for merchant, terminal, fate in merchants:
            if fate == "suspended":
                ledger.do_hold(ledger.terminal_context(terminal, reference="DEMO-HOLD-OPEN"), cards[2], 30,
                               now=days_ago(3))
                do_suspend_merchant(admin, merchant.pk, now=days_ago(3) + dt.timedelta(seconds=30))
        ledger.do_expire_lots(now=now)
        seed_settlement_demo(admin, now=now)
    lots = sum(len(wallet(m).lots) for m in members)
    return PointsDemoResult(members=len(members), merchants=len(merchants), lots=lots,
                            redemptions=len(shop.redemptions))
