"""No path moves value to a merchant except capture → batch → instruction → bank confirmation."""

from __future__ import annotations

from pathlib import Path

from citygov.points.models import ALLOWED_PAIRS, AccountKind, TransferKind

K = AccountKind
POINTS = Path(__file__).resolve().parents[1]


def test_every_transfer_kind_and_the_account_pairs_it_may_connect():
    assert {kind: set(pairs) for kind, pairs in ALLOWED_PAIRS.items()} == {
        TransferKind.PURCHASE: {(K.MINT, K.AGENCY_UNFUNDED)},
        TransferKind.FUND: {(K.AGENCY_UNFUNDED, K.AGENCY_FUNDED)},
        TransferKind.RESERVE: {(K.AGENCY_FUNDED, K.CAMPAIGN)},
        TransferKind.GRANT: {(K.CAMPAIGN, K.LOT)},
        TransferKind.HOLD: {(K.LOT, K.HOLD)},
        TransferKind.CAPTURE: {(K.HOLD, K.MERCHANT_PAYABLE)},
        TransferKind.RELEASE: {(K.HOLD, K.LOT)},
        TransferKind.RELEASE_EXPIRED: {(K.HOLD, K.EXPIRED)},
        TransferKind.RELEASE_TO_CAMPAIGN: {(K.HOLD, K.CAMPAIGN), (K.HOLD, K.AGENCY_FUNDED)},
        TransferKind.REDEEM: {(K.LOT, K.MERCHANT_PAYABLE)},
        TransferKind.REFUND: {(K.MERCHANT_PAYABLE, K.LOT)},
        TransferKind.REFUND_EXPIRED: {(K.MERCHANT_PAYABLE, K.EXPIRED)},
        TransferKind.REFUND_TO_CAMPAIGN: {(K.MERCHANT_PAYABLE, K.CAMPAIGN), (K.MERCHANT_PAYABLE, K.AGENCY_FUNDED)},
        TransferKind.EXPIRE: {(K.LOT, K.EXPIRED)},
        TransferKind.CLOSE_CAMPAIGN: {(K.CAMPAIGN, K.AGENCY_FUNDED)},
        TransferKind.REVERSE_GRANT: {(K.LOT, K.CAMPAIGN), (K.LOT, K.AGENCY_FUNDED)},
        TransferKind.SETTLE: {(K.MERCHANT_PAYABLE, K.SETTLED)},
        TransferKind.AGENCY_REFUND: {(K.AGENCY_FUNDED, K.REFUND_PENDING), (K.EXPIRED, K.REFUND_PENDING)},
        TransferKind.AGENCY_REFUND_CANCEL: {(K.REFUND_PENDING, K.AGENCY_FUNDED), (K.REFUND_PENDING, K.EXPIRED)},
        TransferKind.AGENCY_REFUNDED: {(K.REFUND_PENDING, K.REFUNDED)},
        TransferKind.REVERSAL: set(),
    }
    into_settled = {kind for kind, pairs in ALLOWED_PAIRS.items() if any(credit == K.SETTLED for _, credit in pairs)}
    assert into_settled == {TransferKind.SETTLE}
    # Value leaves the programme towards an agency only through a bank-confirmed refund, and nothing
    # moves a merchant's payable anywhere but to the merchant's lots, the campaign, expiry or settlement.
    into_refunded = {kind for kind, pairs in ALLOWED_PAIRS.items() if any(credit == K.REFUNDED for _, credit in pairs)}
    assert into_refunded == {TransferKind.AGENCY_REFUNDED}
    assert not any(K.MERCHANT_PAYABLE in pair and (K.REFUND_PENDING in pair or K.REFUNDED in pair)
                   for pairs in ALLOWED_PAIRS.values() for pair in pairs)


def test_only_the_reconciliation_posts_a_settle_transfer():
    assert _sources_with("TransferKind.SETTLE") == ["models/ledger.py", "services/reconciliation.py"]


def _sources_with(text: str) -> list[str]:
    return sorted(str(path.relative_to(POINTS)) for path in POINTS.rglob("*.py")
                  if "tests" not in path.parts and "migrations" not in path.parts
                  and text in path.read_text(encoding="utf-8"))


def test_only_a_bank_confirmation_completes_a_refund_to_an_agency():
    assert _sources_with("TransferKind.AGENCY_REFUNDED") == ["models/ledger.py", "services/agency_refunds.py"]
    assert _sources_with("confirm_agency_refund(") == ["services/agency_refunds.py", "services/reconciliation.py"]
