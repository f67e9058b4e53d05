"""Settlement netting: what each merchant is owed in one daily batch, and what is carried forward.

Pure Python. The service gathers, per merchant and per agency, the points captured and refunded in
the batch window and the amount carried in from the previous batch; :func:`settle` decides, for each
merchant, whether the trust bank is instructed to pay (a *line*), or why not, and what is carried to
the next batch.

Rules (issue "Points II", item 1):
- net = captures − refunds + carry; a line only when net > 0 and the merchant is payable;
- a suspended merchant is withheld: the whole net is carried forward;
- a closed or not-renewed merchant gets one final line, and only after the operator approved it;
  until then the net is carried forward;
- a negative net is carried forward; for a closed or not-renewed merchant it is a receivable (the
  merchant owes the programme) and the service opens an exception — it is never a line.

Money is attributed to agencies (whose purchased points were spent). A line pays the merchant's net;
it is split over the agencies with a positive share, in ascending agency order, so that each agency's
carry stays exactly "what is still in the merchant's payable for that agency".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

# Outcomes of one merchant in one batch.
PAY = "pay"                              # a line in the usage instruction
PAY_FINAL = "pay_final"                  # the approved final line of a closed / not-renewed merchant
WITHHELD_SUSPENDED = "withheld_suspended"
AWAITING_FINAL_APPROVAL = "awaiting_final_approval"
NO_BANK_ACCOUNT = "no_bank_account"      # payable but no bank account on file: withheld, exception
NOT_PAYABLE = "not_payable"              # applied (never active): withheld
CARRY_NEGATIVE = "carry_negative"        # net < 0: refunds exceed captures, carried forward
RECEIVABLE = "receivable"                # net < 0 at a closed / not-renewed merchant: exception
NOTHING_DUE = "nothing_due"              # net == 0

PAID_OUTCOMES = frozenset({PAY, PAY_FINAL})
# Outcomes that need a person: the service opens an exception for each.
EXCEPTION_OUTCOMES = frozenset({RECEIVABLE, NO_BANK_ACCOUNT})

ACTIVE = "active"
SUSPENDED = "suspended"
CLOSED = "closed"
NOT_RENEWED = "not_renewed"
ENDED = frozenset({CLOSED, NOT_RENEWED})


@dataclass(frozen=True)
class ShareActivity:
    """One agency's part of one merchant's batch: points captured and refunded in the window,
    the transactions behind them, and the (signed) amount carried in from the previous batch."""

    agency_id: int
    captured: int = 0
    refunded: int = 0
    carry_in: int = 0
    transactions: int = 0

    @property
    def net(self) -> int:
        return self.captured - self.refunded + self.carry_in


@dataclass(frozen=True)
class MerchantActivity:
    """A merchant's state at build time and its activity in the batch, by agency."""

    merchant_id: int
    status: str
    shares: tuple[ShareActivity, ...]
    has_bank_account: bool = True
    final_approved: bool = False
    final_paid: bool = False


@dataclass(frozen=True)
class ShareOutcome:
    """What happened to one agency's part: paid now, and carried to the next batch."""

    agency_id: int
    captured: int
    refunded: int
    carry_in: int
    paid: int
    carry_out: int


@dataclass(frozen=True)
class Position:
    """One merchant in one batch."""

    merchant_id: int
    outcome: str
    captured: int
    refunded: int
    carry_in: int
    net: int
    amount: int            # paid in this batch (> 0 only for a line)
    transactions: int
    shares: tuple[ShareOutcome, ...]

    @property
    def is_line(self) -> bool:
        return self.outcome in PAID_OUTCOMES

    @property
    def carry_out(self) -> int:
        return self.net - self.amount


def batch_window(business_day: dt.date, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """[D 00:00, D+1 00:00) in the programme's time zone, as aware datetimes."""
    start = dt.datetime.combine(business_day, dt.time(0), tzinfo=tz)
    end = dt.datetime.combine(business_day + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    return start, end


def _outcome(activity: MerchantActivity, net: int) -> str:
    if net < 0:
        return RECEIVABLE if activity.status in ENDED else CARRY_NEGATIVE
    if net == 0:
        return NOTHING_DUE
    if activity.status == SUSPENDED:
        return WITHHELD_SUSPENDED
    if activity.status in ENDED:
        if activity.final_paid or not activity.final_approved:
            return AWAITING_FINAL_APPROVAL
        return PAY_FINAL if activity.has_bank_account else NO_BANK_ACCOUNT
    if activity.status != ACTIVE:
        return NOT_PAYABLE
    return PAY if activity.has_bank_account else NO_BANK_ACCOUNT


def settle_merchant(activity: MerchantActivity) -> Position:
    """Net one merchant and decide its outcome."""
    shares = sorted(activity.shares, key=lambda s: s.agency_id)
    if len({s.agency_id for s in shares}) != len(shares):
        raise ValueError(f"merchant {activity.merchant_id}: one share per agency")
    for share in shares:
        if share.captured < 0 or share.refunded < 0 or share.transactions < 0:
            raise ValueError(f"merchant {activity.merchant_id}: captures, refunds and counts are never negative")
    net = sum(s.net for s in shares)
    outcome = _outcome(activity, net)
    amount = net if outcome in PAID_OUTCOMES else 0
    left = amount
    outcomes = []
    for share in shares:
        paid = min(max(share.net, 0), left)
        left -= paid
        outcomes.append(ShareOutcome(share.agency_id, share.captured, share.refunded, share.carry_in, paid,
                                     share.net - paid))
    assert left == 0  # the positive shares always cover a positive net
    return Position(
        merchant_id=activity.merchant_id,
        outcome=outcome,
        captured=sum(s.captured for s in shares),
        refunded=sum(s.refunded for s in shares),
        carry_in=sum(s.carry_in for s in shares),
        net=net,
        amount=amount,
        transactions=sum(s.transactions for s in shares),
        shares=tuple(outcomes),
    )


def settle(activities: Iterable[MerchantActivity]) -> tuple[Position, ...]:
    """Net every merchant; positions in ascending merchant order. Merchants with nothing in the
    window and nothing carried are left out."""
    positions = []
    for activity in sorted(activities, key=lambda a: a.merchant_id):
        if not any(s.captured or s.refunded or s.carry_in for s in activity.shares):
            continue
        positions.append(settle_merchant(activity))
    return tuple(positions)
