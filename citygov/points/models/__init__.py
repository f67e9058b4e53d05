"""Models of the points app, re-exported here."""

from citygov.points.models.fees import FeeBill, FeeBillKind, FeeContract, OperatingIncome
from citygov.points.models.ledger import (
    ALLOWED_PAIRS,
    Account,
    AccountKind,
    Campaign,
    CampaignStatus,
    ExpiryNotice,
    Hold,
    HoldAllocation,
    HoldStatus,
    IdempotencyRecord,
    IdempotencyState,
    LedgerException,
    Lot,
    NoticeKind,
    Purchase,
    PurchaseStatus,
    Redemption,
    RedemptionAllocation,
    Refund,
    Transfer,
    TransferKind,
)
from citygov.points.models.members import Member, hash_national_id
from citygov.points.models.merchants import Merchant, MerchantStatus, Terminal
from citygov.points.models.settlement import (
    AgencyRefund,
    AgencyRefundStatus,
    BankStatement,
    BatchStatus,
    FinalSettlementApproval,
    LineStatus,
    PositionOutcome,
    PositionShare,
    RefundSource,
    SettlementBatch,
    SettlementItem,
    SettlementPosition,
    StatementLine,
    StatementLineState,
    TrustException,
    TrustExceptionKind,
    TrustExceptionStatus,
)

__all__ = [
    "ALLOWED_PAIRS", "Account", "AccountKind", "Campaign", "CampaignStatus", "ExpiryNotice", "Hold",
    "HoldAllocation", "HoldStatus", "IdempotencyRecord", "IdempotencyState", "LedgerException", "Lot", "Member",
    "Merchant", "MerchantStatus", "NoticeKind", "Purchase", "PurchaseStatus", "Redemption", "RedemptionAllocation",
    "Refund", "Terminal", "Transfer", "TransferKind", "hash_national_id",
    "BatchStatus", "FinalSettlementApproval", "LineStatus", "PositionOutcome", "PositionShare", "SettlementBatch",
    "SettlementItem", "SettlementPosition", "TrustException", "TrustExceptionKind", "TrustExceptionStatus",
    "FeeBill", "FeeBillKind", "FeeContract", "OperatingIncome", "BankStatement", "StatementLine",
    "StatementLineState", "AgencyRefund", "AgencyRefundStatus", "RefundSource",
]
