"""Which lots a spend, hold, refund or release touches. Pure Python.

Rules (the issue's R3, R4, R6):

- a lot is spendable iff ``now < expires_at``;
- spends and holds consume spendable lots earliest-expiry first, ties by earliest grant;
- refunds return points to the lots they came from in reverse order of consumption;
- a portion returning to a lot that has expired expires at once, and a portion returning to a
  reversed lot goes back to the campaign's unissued budget.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

DEST_LOT = "lot"
DEST_EXPIRED = "expired"
DEST_CAMPAIGN = "campaign"


class InsufficientPoints(ValueError):
    """The spendable balance is smaller than the amount asked for."""

    def __init__(self, wanted: int, available: int):
        super().__init__(f"wanted {wanted} points, {available} spendable")
        self.wanted = wanted
        self.available = available


@dataclass(frozen=True)
class LotState:
    """A lot as the planner sees it: its id, remaining balance, expiry, grant order and state."""

    lot_id: int
    balance: int
    expires_at: dt.datetime
    granted_seq: int
    reversed: bool = False

    def spendable(self, now: dt.datetime) -> bool:
        """Whether the lot may be spent at ``now`` (exclusive end)."""
        return not self.reversed and now < self.expires_at and self.balance > 0


@dataclass(frozen=True)
class Portion:
    """``amount`` points taken from (or returned to) lot ``lot_id``, in the order they were planned."""

    lot_id: int
    amount: int


@dataclass(frozen=True)
class Return:
    """A portion going back, and where it lands: the lot, ``expired`` or the ``campaign`` budget."""

    lot_id: int
    amount: int
    destination: str


def spendable_balance(lots: Iterable[LotState], now: dt.datetime) -> int:
    """Total points spendable at ``now``."""
    return sum(lot.balance for lot in lots if lot.spendable(now))


def plan_consumption(lots: Iterable[LotState], amount: int, now: dt.datetime) -> list[Portion]:
    """Take ``amount`` points from spendable lots, earliest expiry first, ties by earliest grant.

    >>> t = dt.datetime(2026, 1, 1)
    >>> lots = [LotState(1, 50, t + dt.timedelta(days=9), 1), LotState(2, 30, t + dt.timedelta(days=3), 2)]
    >>> plan_consumption(lots, 40, t)
    [Portion(lot_id=2, amount=30), Portion(lot_id=1, amount=10)]
    """
    if amount <= 0:
        raise ValueError("amount must be a positive whole number of points")
    candidates = sorted((lot for lot in lots if lot.spendable(now)),
                        key=lambda lot: (lot.expires_at, lot.granted_seq, lot.lot_id))
    available = sum(lot.balance for lot in candidates)
    if available < amount:
        raise InsufficientPoints(amount, available)
    plan: list[Portion] = []
    remaining = amount
    for lot in candidates:
        take = min(lot.balance, remaining)
        plan.append(Portion(lot.lot_id, take))
        remaining -= take
        if remaining == 0:
            break
    return plan


def plan_returns(consumed: Sequence[Portion], already_returned: dict[int, int], amount: int,
                 lots: dict[int, LotState], now: dt.datetime) -> list[Return]:
    """Return ``amount`` points to the lots they came from, in reverse order of consumption.

    ``consumed`` is the original consumption in order; ``already_returned`` maps lot id → points
    already returned from earlier refunds (taken from the end first). Raises ``ValueError`` when
    ``amount`` exceeds what is still returnable.

    >>> t = dt.datetime(2026, 1, 1)
    >>> lots = {1: LotState(1, 0, t + dt.timedelta(days=1), 1), 2: LotState(2, 0, t - dt.timedelta(days=1), 2)}
    >>> plan_returns([Portion(1, 10), Portion(2, 5)], {}, 12, lots, t)
    [Return(lot_id=2, amount=5, destination='expired'), Return(lot_id=1, amount=7, destination='lot')]
    """
    if amount <= 0:
        raise ValueError("amount must be a positive whole number of points")
    # Portions already returned are consumed from the end of the list, as returns always go in reverse.
    returned = dict(already_returned)
    open_portions: list[Portion] = []
    for portion in reversed(consumed):
        done = min(returned.get(portion.lot_id, 0), portion.amount)
        returned[portion.lot_id] = returned.get(portion.lot_id, 0) - done
        if portion.amount - done > 0:
            open_portions.append(Portion(portion.lot_id, portion.amount - done))
    returnable = sum(p.amount for p in open_portions)
    if amount > returnable:
        raise ValueError(f"cannot return {amount} points: only {returnable} remain returnable")
    plan: list[Return] = []
    remaining = amount
    for portion in open_portions:
        give = min(portion.amount, remaining)
        plan.append(Return(portion.lot_id, give, destination_of(lots[portion.lot_id], now)))
        remaining -= give
        if remaining == 0:
            break
    return plan


def destination_of(lot: LotState, now: dt.datetime) -> str:
    """Where points returning to ``lot`` land at ``now``: a reversed lot's go to the campaign, an
    expired lot's expire at once, otherwise the lot itself."""
    if lot.reversed:
        return DEST_CAMPAIGN
    if now >= lot.expires_at:
        return DEST_EXPIRED
    return DEST_LOT
