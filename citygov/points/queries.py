"""Read-side helpers of the points app: balances, wallets and the ledger auditor."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Sum
from django.utils import timezone

from citygov.points.models import (
    Account,
    AccountKind,
    Hold,
    HoldStatus,
    Lot,
    Member,
    Purchase,
    Redemption,
    Refund,
    Transfer,
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

    @property
    def accounted(self) -> int:
        return (self.unfunded + self.funded_unreserved + self.campaign_unissued + self.member_available + self.held
                + self.merchant_unsettled + self.settled + self.expired)

    @property
    def balanced(self) -> bool:
        """purchased = unfunded + funded-unreserved + Σ unissued + Σ available + Σ held + Σ payable + settled + expired."""
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
