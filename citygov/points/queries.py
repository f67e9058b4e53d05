"""Read-side helpers of the points app: balances, wallets and the ledger auditor."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db.models import Count, F, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from citygov.points.models import (
    Account,
    AccountKind,
    Campaign,
    Hold,
    HoldAllocation,
    HoldStatus,
    Lot,
    Member,
    Purchase,
    Redemption,
    Refund,
    Transfer,
    TransferKind,
)


@dataclass(frozen=True)
class AgencyFigures:
    """Where an agency's purchased points are now (the agency identity's terms)."""

    agency_id: int
    purchased: int
    unfunded: int
    funded_unreserved: int
    campaign_unissued: int
    member_available: int
    held: int
    merchant_unsettled: int
    settled: int
    expired: int
    refund_pending: int = 0
    refunded: int = 0

    @property
    def accounted(self) -> int:
        return (self.unfunded + self.funded_unreserved + self.campaign_unissued + self.member_available + self.held
                + self.merchant_unsettled + self.settled + self.expired + self.refund_pending + self.refunded)

    @property
    def balanced(self) -> bool:
        """purchased = unfunded + funded-unreserved + Σ unissued + Σ available + Σ held + Σ payable + settled
        + expired + refunds to the agency awaiting the bank + refunded."""
        return self.purchased == self.accounted


@dataclass
class LedgerHealth:
    """The auditor's findings; ``ok`` when there are none."""

    problems: list[str] = field(default_factory=list)
    agencies: list[AgencyFigures] = field(default_factory=list)
    accounts_checked: int = 0
    transfers_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _sums(rows) -> dict:
    return {key: total or 0 for key, total in rows}


def check_ledger() -> LedgerHealth:
    """Rebuild every balance from the transfers and check the ledger's invariants.

    Checks: stored balance = credits − debits for every account; Σ of all balances = 0; no balance
    below zero where not allowed; each agency's identity; open holds hold exactly their unresolved
    points and resolved holds hold none; each redemption's refunded total matches its refunds.
    """
    health = LedgerHealth()
    credits = _sums(Transfer.objects.values("credit_id").annotate(t=Sum("amount")).values_list("credit_id", "t"))
    debits = _sums(Transfer.objects.values("debit_id").annotate(t=Sum("amount")).values_list("debit_id", "t"))
    health.transfers_checked = Transfer.objects.count()
    total = 0
    for pk, kind, balance in Account.objects.values_list("pk", "kind", "balance").iterator():
        health.accounts_checked += 1
        rebuilt = credits.get(pk, 0) - debits.get(pk, 0)
        total += balance
        if rebuilt != balance:
            health.problems.append(f"account {pk} ({kind}): stored {balance}, rebuilt from transfers {rebuilt}")
        if balance < 0 and kind not in (AccountKind.MINT, AccountKind.MERCHANT_PAYABLE):
            health.problems.append(f"account {pk} ({kind}) is negative: {balance}")
    if total != 0:
        health.problems.append(f"the balances sum to {total}, not 0")
    health.agencies = agency_figures()
    for figures in health.agencies:
        if not figures.balanced:
            health.problems.append(f"agency {figures.agency_id}: purchased {figures.purchased} ≠ accounted "
                                   f"{figures.accounted} ({figures})")
    for hold in Hold.objects.select_related("account"):
        expected = hold.amount - hold.captured - hold.released if hold.status == HoldStatus.OPEN else 0
        if hold.account.balance != expected:
            health.problems.append(f"hold {hold.pk} ({hold.status}) holds {hold.account.balance}, expected {expected}")
    refunded = _sums(Refund.objects.values("redemption_id").annotate(t=Sum("amount"))
                     .values_list("redemption_id", "t"))
    for pk, value in Redemption.objects.values_list("pk", "refunded"):
        if refunded.get(pk, 0) != value:
            health.problems.append(f"redemption {pk}: refunded {value}, refunds sum to {refunded.get(pk, 0)}")
    return health


def _by_agency_kind(kind: str) -> dict[int, int]:
    """Per agency, points in accounts of ``kind`` that are shared across agencies (holds, payables),
    from the agency attribution of the transfers in and out."""
    inflow = _sums(Transfer.objects.filter(credit__kind=kind).values("agency_id").annotate(t=Sum("amount"))
                   .values_list("agency_id", "t"))
    outflow = _sums(Transfer.objects.filter(debit__kind=kind).values("agency_id").annotate(t=Sum("amount"))
                    .values_list("agency_id", "t"))
    return {agency: inflow.get(agency, 0) - outflow.get(agency, 0) for agency in set(inflow) | set(outflow)}


def agency_figures() -> list[AgencyFigures]:
    """The identity's terms for every agency that has bought points."""
    purchased = _sums(Purchase.objects.values("agency_id").annotate(t=Sum("points")).values_list("agency_id", "t"))
    stored: dict[tuple[str, int], int] = defaultdict(int)
    for kind, agency_id, total in Account.objects.exclude(agency_id=None).values("kind", "agency_id") \
            .annotate(t=Sum("balance")).values_list("kind", "agency_id", "t"):
        stored[(kind, agency_id)] = total or 0
    held = _by_agency_kind(AccountKind.HOLD)
    payable = _by_agency_kind(AccountKind.MERCHANT_PAYABLE)
    agencies = set(purchased) | {agency for _, agency in stored}
    return [
        AgencyFigures(
            agency_id=agency,
            purchased=purchased.get(agency, 0),
            unfunded=stored[(AccountKind.AGENCY_UNFUNDED, agency)],
            funded_unreserved=stored[(AccountKind.AGENCY_FUNDED, agency)],
            campaign_unissued=stored[(AccountKind.CAMPAIGN, agency)],
            member_available=stored[(AccountKind.LOT, agency)],
            held=held.get(agency, 0),
            merchant_unsettled=payable.get(agency, 0),
            settled=stored[(AccountKind.SETTLED, agency)],
            expired=stored[(AccountKind.EXPIRED, agency)],
            refund_pending=stored[(AccountKind.REFUND_PENDING, agency)],
            refunded=stored[(AccountKind.REFUNDED, agency)],
        )
        for agency in sorted(agencies)
    ]


@dataclass(frozen=True)
class WalletLot:
    lot_id: int
    campaign: str
    points: int
    remaining: int
    expires_at: dt.datetime
    spendable: bool


@dataclass(frozen=True)
class Wallet:
    """A member's spendable balance and lots (earliest expiry first)."""

    card_number: str
    spendable: int
    held: int
    lots: tuple[WalletLot, ...]


def wallet(member: Member, *, now: dt.datetime | None = None) -> Wallet:
    """The member's wallet as of ``now``."""
    now = now or timezone.now()
    lots = []
    for lot in Lot.objects.filter(member=member).select_related("account", "campaign").order_by("expires_at", "pk"):
        spendable = lot.reversed_at is None and now < lot.expires_at and lot.account.balance > 0
        lots.append(WalletLot(lot.pk, lot.campaign.name, lot.points, lot.account.balance, lot.expires_at, spendable))
    held = Hold.objects.filter(member=member, status=HoldStatus.OPEN).aggregate(
        t=Sum("amount"))["t"] or 0
    return Wallet(member.card_number, sum(x.remaining for x in lots if x.spendable), held, tuple(lots))


# --- figures for pages, the API and the dashboard tiles ---------------------------------------------

CHART_MONTHS = 12
TK = TransferKind
SPENT_KINDS = (TK.REDEEM, TK.CAPTURE)
REFUND_KINDS = (TK.REFUND, TK.REFUND_EXPIRED, TK.REFUND_TO_CAMPAIGN)
EXPIRED_KINDS = (TK.EXPIRE, TK.RELEASE_EXPIRED, TK.REFUND_EXPIRED)


LEDGER_HEALTH_CACHE_KEY = "points:ledger-health"
# Pages and tiles reuse one ledger check this long (it rebuilds every balance); the API runs it live.
LEDGER_HEALTH_CACHE_SECONDS = 60


def recent_ledger_health() -> tuple[LedgerHealth, dt.datetime]:
    """The ledger check's result and when it ran, at most ``LEDGER_HEALTH_CACHE_SECONDS`` old."""
    cached = cache.get(LEDGER_HEALTH_CACHE_KEY)
    if cached is None:
        cached = (check_ledger(), timezone.now())
        cache.set(LEDGER_HEALTH_CACHE_KEY, cached, LEDGER_HEALTH_CACHE_SECONDS)
    return cached


def scoped_figures(user) -> list[AgencyFigures]:
    """The agency identity's terms for each agency ``user`` may reach, by agency id."""
    ids = user.visible_agency_ids()
    return [f for f in agency_figures() if ids is None or f.agency_id in ids]


@dataclass(frozen=True)
class Totals:
    """Programme totals over the agencies a user may reach (points).

    ``spent`` is net of refunds (merchant payables, unsettled and settled); ``issued`` is every
    grant ever made, reversed ones included.
    """

    purchased: int = 0
    unfunded: int = 0
    funded_unreserved: int = 0
    campaign_unissued: int = 0
    issued: int = 0
    available: int = 0
    held: int = 0
    spent: int = 0
    expired: int = 0

    @property
    def outstanding(self) -> int:
        """Points members still have: available in their lots plus held by terminals."""
        return self.available + self.held


def totals_for(user, figures: list[AgencyFigures] | None = None) -> Totals:
    """The programme totals ``user`` may see."""
    figures = scoped_figures(user) if figures is None else figures
    issued = Transfer.objects.for_agency(user).filter(kind=TK.GRANT).aggregate(t=Sum("amount"))["t"] or 0
    return Totals(
        purchased=sum(f.purchased for f in figures),
        unfunded=sum(f.unfunded for f in figures),
        funded_unreserved=sum(f.funded_unreserved for f in figures),
        campaign_unissued=sum(f.campaign_unissued for f in figures),
        issued=issued,
        available=sum(f.member_available for f in figures),
        held=sum(f.held for f in figures),
        spent=sum(f.merchant_unsettled + f.settled for f in figures),
        expired=sum(f.expired for f in figures),
    )


def month_start(moment: dt.datetime, back: int = 0) -> dt.datetime:
    """Midnight of the first day of the month ``back`` months before ``moment``'s (site time zone)."""
    local = timezone.localtime(moment)
    index = local.year * 12 + local.month - 1 - back
    return local.replace(year=index // 12, month=index % 12 + 1, day=1, hour=0, minute=0, second=0, microsecond=0)


def monthly_series(user, *, months: int = CHART_MONTHS, now: dt.datetime | None = None) -> dict:
    """Points issued, spent (net of refunds) and expired per calendar month, oldest first."""
    now = now or timezone.now()
    start = month_start(now, months - 1)
    labels = [month_start(now, back).strftime("%Y-%m") for back in range(months - 1, -1, -1)]
    series = {name: dict.fromkeys(labels, 0) for name in ("issued", "spent", "expired")}
    rows = (Transfer.objects.for_agency(user).filter(created_at__gte=start)
            .filter(kind__in=(TK.GRANT, *SPENT_KINDS, *REFUND_KINDS, *EXPIRED_KINDS))
            .annotate(month=TruncMonth("created_at")).order_by().values("month", "kind").annotate(t=Sum("amount")))
    for row in rows:
        label = timezone.localtime(row["month"]).strftime("%Y-%m") if timezone.is_aware(row["month"]) \
            else row["month"].strftime("%Y-%m")
        if label not in series["issued"]:
            continue
        kind, amount = row["kind"], row["t"] or 0
        if kind == TK.GRANT:
            series["issued"][label] += amount
        if kind in SPENT_KINDS:
            series["spent"][label] += amount
        if kind in REFUND_KINDS:
            series["spent"][label] -= amount
        if kind in EXPIRED_KINDS:
            series["expired"][label] += amount
    return {"months": labels, **{name: list(values.values()) for name, values in series.items()}}


def issued_between(user, start: dt.datetime, end: dt.datetime) -> int:
    """Points granted in [start, end) within ``user``'s agencies."""
    return Transfer.objects.for_agency(user).filter(kind=TK.GRANT, created_at__gte=start, created_at__lt=end) \
        .aggregate(t=Sum("amount"))["t"] or 0


def campaigns_with_stats(queryset: QuerySet[Campaign]) -> QuerySet[Campaign]:
    """Campaigns annotated with ``issued`` (points granted), ``lot_count`` and ``unissued`` (budget left)."""
    return queryset.select_related("agency", "account").annotate(
        issued=Coalesce(Sum("lots__points"), 0), lot_count=Count("lots"),
        unissued=Coalesce(F("account__balance"), 0))


def lots_for(user) -> QuerySet[Lot]:
    """Lots ``user`` may reach, with what they still hold (``remaining``)."""
    return Lot.objects.for_agency(user).select_related("member", "campaign", "agency", "account") \
        .annotate(remaining=F("account__balance"))


def transfers_for(user) -> QuerySet[Transfer]:
    """Transfers ``user`` may reach, newest first, with their accounts and references loaded."""
    return Transfer.objects.for_agency(user).select_related(
        "debit", "credit", "agency", "campaign", "lot__member", "merchant").order_by("-created_at", "-id")


def scoped_wallet(user, member: Member, *, now: dt.datetime | None = None) -> Wallet:
    """The member's wallet as ``user`` may see it: agency users see only their agencies' lots and the
    points held from them; city-wide users see everything."""
    full = wallet(member, now=now)
    if user.visible_agency_ids() is None:
        return full
    visible = set(Lot.objects.for_agency(user).filter(member=member).values_list("pk", flat=True))
    lots = tuple(lot for lot in full.lots if lot.lot_id in visible)
    held = HoldAllocation.objects.filter(hold__member=member, hold__status=HoldStatus.OPEN, lot_id__in=visible) \
        .aggregate(t=Sum("amount"))["t"] or 0
    return Wallet(full.card_number, sum(lot.remaining for lot in lots if lot.spendable), held, lots)


def member_history(user, member: Member) -> QuerySet[Transfer]:
    """Transfers touching the member's lots (that ``user`` may reach), newest first."""
    return transfers_for(user).filter(lot__member=member)


# --- bulk-grant files ---------------------------------------------------------------------------

