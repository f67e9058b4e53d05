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
        TransferKind.REVERSAL: set(),
    }
    into_settled = {kind for kind, pairs in ALLOWED_PAIRS.items() if any(credit == K.SETTLED for _, credit in pairs)}
    assert into_settled == {TransferKind.SETTLE}


def test_only_the_reconciliation_posts_a_settle_transfer():
    users = sorted(str(path.relative_to(POINTS)) for path in POINTS.rglob("*.py")
                   if "tests" not in path.parts and "migrations" not in path.parts
                   and "TransferKind.SETTLE" in path.read_text(encoding="utf-8"))
    assert users == ["models/ledger.py", "services/reconciliation.py"]
