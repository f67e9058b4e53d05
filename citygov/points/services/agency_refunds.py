"""Refunds to agencies: money for points an agency will not use goes back from the trust account.

An agency asks in writing (a document number) for the money of points it bought but will not use:
funded points it has not reserved for a campaign, or points that expired in members' hands. The
operator (``points.settle``) instructs the refund: the points move from the agency's ``agency_funded``
or ``expired`` account into ``refund_pending`` (so no campaign can reserve them meanwhile), and a
signed one-line instruction ``RF-YYYYMMDD-NN`` tells the trust bank to pay the agency's account.

The refund completes only when a trust-statement debit names the reference and pays the agency's
account the exact amount (:func:`citygov.points.services.reconciliation.do_import_statement`): then the
points move to ``refunded`` and the trust identity's "confirmed refunds to agencies" term grows. Until
then the operator may cancel it, which moves the points back where they came from. Nothing here pays
a merchant.
"""

from __future__ import annotations

import base64
import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from citygov.agencies.models import Agency
from citygov.core.changelog import record_change, snapshot
from citygov.core.errors import Conflict, InvalidInput, NotFound
from citygov.core.models import ChangeAction
from citygov.points.engine import instruction as instruction_engine
from citygov.points.engine import signing_keys
from citygov.points.models import Account, AccountKind, AgencyRefund, AgencyRefundStatus, RefundSource, TransferKind
from citygov.points.services.posting import InsufficientBalance, Leg, post, retry_on_conflict, singleton_account
from citygov.points.services.settlement import check_settle, programme_tz, signing_key

SOURCE_ACCOUNTS = {RefundSource.FUNDED: AccountKind.AGENCY_FUNDED, RefundSource.EXPIRED: AccountKind.EXPIRED}
MAX_AMOUNT = 10**12
# What the change log keeps of a refund (the instruction JSON and signature are on the row itself).
SNAPSHOT_FIELDS = ("reference", "agency", "source", "amount", "bank_code", "bank_account", "request_reference",
                   "reason", "status", "content_hash", "key_fingerprint", "refunded_at", "cancelled_at",
                   "cancel_reason")


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or timezone.now()


def _clean(agency_id, amount, source: str, bank_code: str, bank_account: str, request_reference: str,
           reason: str) -> dict:
    """Every field checked at once; the errors name each field in Chinese and English."""
    errors: dict[str, list[str]] = {}
    agency = Agency.objects.filter(pk=agency_id).first() if str(agency_id).isdigit() else None
    if agency is None:
        errors["agency"] = [_("Choose an agency.")]
    try:
        amount = int(amount)
    except (TypeError, ValueError):
        amount = 0
    if not 0 < amount <= MAX_AMOUNT:
        errors["amount"] = [_("The amount must be a whole number of NT$ above zero.")]
    if source not in RefundSource.values:
        errors["source"] = [_("Refund from funded, unreserved points or from expired points.")]
    bank_code, bank_account = (bank_code or "").strip(), (bank_account or "").strip()
    if not instruction_engine.valid_bank_code(bank_code):
        errors["bank_code"] = [_("The bank code is 3 digits, or 7 with the branch.")]
    if not instruction_engine.valid_bank_account(bank_account):
        errors["bank_account"] = [_("The account is digits (dashes allowed), at most 20.")]
    request_reference = (request_reference or "").strip()
    if not 3 <= len(request_reference) <= 60:
        errors["request_reference"] = [_("Give the document number of the agency's written request.")]
    if errors:
        raise InvalidInput(_("The refund could not be instructed: check the fields below."), fields=errors)
    return {"agency": agency, "amount": amount, "source": source, "bank_code": bank_code,
            "bank_account": bank_account, "request_reference": request_reference, "reason": (reason or "").strip()[:300]}


def _next_reference(day: dt.date) -> str:
    prefix = f"RF-{day:%Y%m%d}-"
    taken = AgencyRefund.objects.filter(reference__startswith=prefix).count()
    return instruction_engine.refund_reference_for(day, taken + 1)


def refund_document(refund: AgencyRefund) -> instruction_engine.RefundInstruction:
    """The refund's instruction as recorded (deterministic from the row)."""
    return instruction_engine.RefundInstruction(
        reference=refund.reference, instructed_on=refund.created_at.astimezone(programme_tz()).date(),
        operator_name=settings.POINTS_OPERATOR_NAME, trust_bank_name=settings.POINTS_TRUST_BANK,
        trust_account=settings.POINTS_TRUST_ACCOUNT, agency_code=refund.agency.code,
        agency_name=refund.agency.name_zh, bank_code=refund.bank_code, bank_account=refund.bank_account,
        amount=refund.amount, source=refund.source, request_reference=refund.request_reference)


@retry_on_conflict
def do_instruct_agency_refund(actor, *, agency_id, amount, source: str, bank_code: str, bank_account: str,
                              request_reference: str, reason: str = "", now: dt.datetime | None = None
                              ) -> AgencyRefund:
    """Instruct the trust bank to refund ``amount`` to an agency, from its funded unreserved points or
    its expired points; the points wait in ``refund_pending`` until the bank's statement confirms it.
    Signed with the operator's key when one is configured."""
    check_settle(actor)
    data = _clean(agency_id, amount, source, bank_code, bank_account, request_reference, reason)
    now = _now(now)
    agency = data["agency"]
    key = signing_key()
    for _attempt in range(3):  # two refunds instructed at once may race for the same reference
        try:
            with transaction.atomic():
                source_account = singleton_account(SOURCE_ACCOUNTS[data["source"]], agency_id=agency.pk)
                pending = singleton_account(AccountKind.REFUND_PENDING, agency_id=agency.pk)
                refund = AgencyRefund(
                    reference=_next_reference(now.astimezone(programme_tz()).date()), agency=agency,
                    source=data["source"], amount=data["amount"], bank_code=data["bank_code"],
                    bank_account=data["bank_account"], request_reference=data["request_reference"],
                    reason=data["reason"], created_by=actor, created_at=now)
                payload = instruction_engine.refund_canonical_json(refund_document(refund))
                refund.instruction = payload.decode("utf-8")
                refund.content_hash = signing_keys.content_hash_of(payload)
                if key is not None:
                    refund.signature = base64.b64encode(signing_keys.sign(key, payload)).decode("ascii")
                    refund.key_fingerprint = signing_keys.key_fingerprint(key.public_key())
                refund.save()
                try:
                    post([Leg(TransferKind.AGENCY_REFUND, source_account, pending, refund.amount, agency.pk,
                              {"agency_refund_id": refund.pk})], now=now)
                except InsufficientBalance:
                    what = (_("funded, unreserved points") if data["source"] == RefundSource.FUNDED
                            else _("expired points"))
                    raise InvalidInput(_("The agency has only {balance} {what}; the refund cannot be larger.").format(
                        balance=f"{Account.objects.get(pk=source_account.pk).balance:,}", what=what),
                        fields={"amount": [_("More than the agency has.")]}, code="insufficient_points") from None
                record_change(actor=actor, action=ChangeAction.CREATE, obj=refund, note="points.agency_refund",
                              after=snapshot(refund, SNAPSHOT_FIELDS))
            return refund
        except IntegrityError:
            if AgencyRefund.objects.filter(reference=refund.reference).exists():
                continue
            raise
    raise Conflict(_("Too many refunds are being instructed at once; try again."), code="busy")


def _refund_for_update(refund_id: int) -> AgencyRefund:
    refund = AgencyRefund.objects.select_for_update().select_related("agency").filter(pk=refund_id).first()
    if refund is None:
        raise NotFound(_("No such refund."), code="unknown_refund")
    return refund


@retry_on_conflict
def do_cancel_agency_refund(actor, refund_id: int, *, reason: str, now: dt.datetime | None = None) -> AgencyRefund:
    """Cancel a refund the bank has not paid: its points go back to the account they came from. The
    operator must say why (the bank must also be told not to pay the instruction)."""
    check_settle(actor)
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise InvalidInput(_("Say why the refund is cancelled (at least 5 characters)."),
                           fields={"reason": [_("Too short.")]})
    now = _now(now)
    with transaction.atomic():
        refund = _refund_for_update(refund_id)
        if refund.status != AgencyRefundStatus.INSTRUCTED:
            raise Conflict(_("Only a refund the bank has not paid can be cancelled."), code="invalid_transition")
        before = snapshot(refund, SNAPSHOT_FIELDS)
        pending = singleton_account(AccountKind.REFUND_PENDING, agency_id=refund.agency_id)
        back = singleton_account(SOURCE_ACCOUNTS[refund.source], agency_id=refund.agency_id)
        post([Leg(TransferKind.AGENCY_REFUND_CANCEL, pending, back, refund.amount, refund.agency_id,
                  {"agency_refund_id": refund.pk})], now=now)
        refund.status = AgencyRefundStatus.CANCELLED
        refund.cancelled_at = now
        refund.cancel_reason = reason[:300]
        refund.save(update_fields=["status", "cancelled_at", "cancel_reason"])
        record_change(actor=actor, action=ChangeAction.UPDATE, obj=refund, note="points.cancel_agency_refund",
                      before=before, after=snapshot(refund, SNAPSHOT_FIELDS))
    return refund


def confirm_agency_refund(refund: AgencyRefund, now: dt.datetime) -> None:
    """The bank paid the refund in full (called by reconciliation, under the refund's row lock):
    the points move from ``refund_pending`` to ``refunded``."""
    pending = singleton_account(AccountKind.REFUND_PENDING, agency_id=refund.agency_id)
    refunded = singleton_account(AccountKind.REFUNDED, agency_id=refund.agency_id)
    post([Leg(TransferKind.AGENCY_REFUNDED, pending, refunded, refund.amount, refund.agency_id,
              {"agency_refund_id": refund.pk})], now=now)
    refund.status = AgencyRefundStatus.REFUNDED
    refund.refunded_at = now
    refund.save(update_fields=["status", "refunded_at"])


def refund_signature_file(refund: AgencyRefund) -> bytes | None:
    """The detached signature file of a signed refund instruction (the same layout as a batch's)."""
    if not refund.signature:
        return None
    return signing_keys.format_signature_file(refund.key_fingerprint, refund.content_hash, refund.signature)
