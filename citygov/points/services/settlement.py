"""Settlement: daily batches, the usage instruction (運用指示書) and its signature.

A batch for business day D takes every capture and refund transfer that is committed when it is
built and not yet in a batch, recorded before D+1 00:00 Asia/Taipei. A transfer recorded before
the cut-off that commits only after the batch was built (a transaction still open at midnight) goes
into the next batch, flagged late: never dropped (it is still unbatched) and never in two batches
(``SettlementItem.transfer`` is unique). Building is one transaction, so a crash before it commits
leaves nothing and a re-run builds the same batch with the same content hash; re-running a built
batch returns it unchanged, so no second instruction is ever emitted.

Batches are built in day order: building D first builds any missing day before it, back to the
last built batch. The very first batch also takes everything recorded before its window (the
opening position), flagged late.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from citygov.core.changelog import record_change
from citygov.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citygov.core.models import ChangeAction
from citygov.core.permissions import require_capability
from citygov.core.roles import Capability
from citygov.points.engine import instruction as instruction_engine
from citygov.points.engine import settlement as engine
from citygov.points.engine import signing_keys
from citygov.points.models import (
    BatchStatus,
    FinalSettlementApproval,
    LineStatus,
    Merchant,
    MerchantStatus,
    PositionShare,
    SettlementBatch,
    SettlementItem,
    SettlementPosition,
    Transfer,
    TransferKind,
    TrustException,
    TrustExceptionKind,
    TrustExceptionStatus,
)

# Transfers that change what a merchant is owed: into the payable (captures) and out of it (refunds).
INTO_PAYABLE = (TransferKind.CAPTURE, TransferKind.REDEEM)
OUT_OF_PAYABLE = (TransferKind.REFUND, TransferKind.REFUND_EXPIRED, TransferKind.REFUND_TO_CAMPAIGN)
SETTLEABLE = INTO_PAYABLE + OUT_OF_PAYABLE
# How far before the previous batch's window a late commit is still looked for. A database
# transaction open for a week does not happen; `check_settlement` reports any older unbatched
# transfer, so the bound is verified rather than assumed.
LATE_LOOKBACK = dt.timedelta(days=7)
BUILD_AFTER = dt.timedelta(minutes=5)  # D+1 00:05


def programme_tz() -> dt.tzinfo:
    return ZoneInfo(settings.TIME_ZONE)


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or timezone.now()


def check_settle(actor) -> None:
    """Only the points operator (and city administrators) run settlement; ``None`` is the scheduler."""
    if actor is not None:
        require_capability(actor, Capability.SETTLE_POINTS)


def business_day_of(moment: dt.datetime) -> dt.date:
    """The programme's calendar day of an instant."""
    return timezone.localtime(moment, programme_tz()).date()


def last_closed_day(now: dt.datetime) -> dt.date:
    """The latest business day whose batch may be built at ``now`` (its D+1 00:05 has passed)."""
    return business_day_of(now - BUILD_AFTER) - dt.timedelta(days=1)


# --- building ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BuildResult:
    """The batches a build produced (in day order) and those that already existed."""

    built: tuple[SettlementBatch, ...]
    existing: tuple[SettlementBatch, ...]

    @property
    def batches(self) -> tuple[SettlementBatch, ...]:
        return tuple(sorted(self.built + self.existing, key=lambda b: b.business_day))


def do_build_batches_through(actor, business_day: dt.date, *, now: dt.datetime | None = None) -> BuildResult:
    """Build the batch of ``business_day`` and any missing day before it (back to the last built
    batch), each in its own transaction. Re-running returns the existing batches unchanged."""
    check_settle(actor)
    now = _now(now)
    if business_day > last_closed_day(now):
        raise InvalidInput(_("The batch of {day} can be built from {day} +1 day 00:05 Asia/Taipei.").format(
            day=business_day.isoformat()), code="day_not_closed")
    latest = SettlementBatch.objects.order_by("-business_day").first()
    if latest is None or latest.business_day >= business_day:
        days = [business_day]
    else:
        days = [latest.business_day + dt.timedelta(days=n)
                for n in range(1, (business_day - latest.business_day).days + 1)]
    built, existing = [], []
    for day in days:
        batch, created = _build_one(actor, day, now)
        (built if created else existing).append(batch)
    return BuildResult(tuple(built), tuple(existing))


def do_build_due_batches(*, now: dt.datetime | None = None) -> BuildResult:
    """The scheduled job: build every batch that is due (yesterday's, and any missed day before it)."""
    return do_build_due_batches_for(None, now=now)


def do_build_due_batches_for(actor, *, now: dt.datetime | None = None) -> BuildResult:
    """Build every batch that is due now, as ``actor`` (a person on the page or the command line)."""
    check_settle(actor)
    now = _now(now)
    return do_build_batches_through(actor, last_closed_day(now), now=now)


def _build_one(actor, day: dt.date, now: dt.datetime) -> tuple[SettlementBatch, bool]:
    existing = SettlementBatch.objects.filter(business_day=day).first()
    if existing is not None:
        return existing, False
    latest = SettlementBatch.objects.order_by("-business_day").first()
    if latest is not None and latest.business_day > day:
        raise Conflict(_("Batches are built in day order: {batch} is already built.").format(
            batch=latest.batch_id), code="batch_out_of_order")
    start, end = engine.batch_window(day, programme_tz())
    try:
        with transaction.atomic():
            batch = SettlementBatch.objects.create(batch_id=instruction_engine.batch_id_for(day), business_day=day, built_at=now,
                                                   window_start=start, window_end=end)
            _fill(batch, latest, now)
            record_change(actor=actor, action=ChangeAction.CREATE, obj=batch, note="points.build_batch", after={
                "batch": batch.batch_id, "lines": batch.line_count, "amount": batch.total_amount,
                "transfers": batch.transfer_count, "late": batch.late_count, "hash": batch.content_hash})
    except IntegrityError:
        # Another builder committed the same day first; theirs is the batch.
        existing = SettlementBatch.objects.filter(business_day=day).first()
        if existing is None:
            raise
        return existing, False
    return batch, True


def _take_transfers(batch: SettlementBatch, previous: SettlementBatch | None) -> None:
    """Insert a settlement item for every committed, unbatched capture/refund before the cut-off.

    The transfers already in a batch are read first, into a materialised set (only batches that can
    hold a transfer from the look-back window), so the anti-join never scans the rows this same
    statement is inserting.
    """
    q = connection.ops.quote_name
    items, transfers, accounts, batches = (
        q(SettlementItem._meta.db_table), q(Transfer._meta.db_table),
        q(Transfer._meta.get_field("debit").related_model._meta.db_table), q(SettlementBatch._meta.db_table))
    into = ", ".join(["%s"] * len(INTO_PAYABLE))
    out = ", ".join(["%s"] * len(OUT_OF_PAYABLE))
    moment = connection.ops.adapt_datetimefield_value  # raw SQL: times as the backend stores them (UTC)
    lower = moment(previous.window_start - LATE_LOOKBACK) if previous is not None else None
    # Only placeholders and quoted table names are interpolated.
    sql = f"""
        WITH done AS MATERIALIZED (
            SELECT i.transfer_id FROM {items} i JOIN {batches} b ON b.id = i.batch_id
            WHERE b.window_end > %s
        )
        INSERT INTO {items} (transfer_id, batch_id, merchant_id, agency_id, amount, late)
        SELECT t.id, %s,
               CASE WHEN t.kind IN ({into}) THEN ca.merchant_id ELSE da.merchant_id END,
               t.agency_id,
               CASE WHEN t.kind IN ({into}) THEN t.amount ELSE -t.amount END,
               t.created_at < %s
        FROM {transfers} t
        JOIN {accounts} ca ON ca.id = t.credit_id
        JOIN {accounts} da ON da.id = t.debit_id
        WHERE (t.kind IN ({into}) OR t.kind IN ({out}))
          AND t.created_at < %s AND t.created_at >= %s
          AND NOT EXISTS (SELECT 1 FROM done WHERE done.transfer_id = t.id)
    """  # noqa: S608
    floor = lower if lower is not None else moment(dt.datetime(1970, 1, 1, tzinfo=dt.UTC))
    params: list = [floor, batch.pk, *INTO_PAYABLE, *INTO_PAYABLE, moment(batch.window_start), *INTO_PAYABLE,
                    *OUT_OF_PAYABLE, moment(batch.window_end), floor]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _fill(batch: SettlementBatch, previous: SettlementBatch | None, now: dt.datetime) -> None:
    _take_transfers(batch, previous)
    rows = (SettlementItem.objects.filter(batch=batch).values("merchant_id", "agency_id")
            .annotate(captured=Sum("amount", filter=Q(amount__gt=0)), refunded=Sum("amount", filter=Q(amount__lt=0)),
                      items=Count("id"), late=Count("id", filter=Q(late=True)),
                      # a payment or a refund is one transaction however many lots its transfers touched
                      payments=Count("transfer__redemption_id", distinct=True, filter=Q(amount__gt=0)),
                      refunds=Count("transfer__refund_id", distinct=True, filter=Q(amount__lt=0))))
    activity: dict[int, dict[int, dict]] = defaultdict(dict)
    late = total = 0
    for row in rows:
        activity[row["merchant_id"]][row["agency_id"]] = {
            "captured": row["captured"] or 0, "refunded": -(row["refunded"] or 0),
            "transactions": row["payments"] + row["refunds"],
            "carry_in": 0}
        late += row["late"]
        total += row["items"]
    if previous is not None:
        for merchant_id, agency_id, carry in (PositionShare.objects.filter(position__batch=previous)
                                              .exclude(carry_out=0)
                                              .values_list("position__merchant_id", "agency_id", "carry_out")):
            share = activity[merchant_id].setdefault(agency_id, {"captured": 0, "refunded": 0, "transactions": 0,
                                                                 "carry_in": 0})
            share["carry_in"] = carry
    merchants = Merchant.objects.in_bulk(list(activity))
    approvals = {a.merchant_id: a for a in FinalSettlementApproval.objects.filter(merchant_id__in=list(activity))}
    positions = engine.settle(
        engine.MerchantActivity(
            merchant_id=merchant_id,
            status=merchants[merchant_id].status,
            shares=tuple(engine.ShareActivity(agency_id, **values) for agency_id, values in shares.items()),
            has_bank_account=bool(merchants[merchant_id].bank_code and merchants[merchant_id].bank_account),
            final_approved=merchant_id in approvals,
            final_paid=merchant_id in approvals and approvals[merchant_id].paid_in_id is not None,
        )
        for merchant_id, shares in activity.items()
    )
    _record_positions(batch, positions, merchants, approvals, now)
    batch.transfer_count = total
    batch.late_count = late
    document = instruction_for(batch)
    batch.instruction = instruction_engine.canonical_json(document).decode("utf-8")
    batch.content_hash = instruction_engine.content_hash(document)
    batch.line_count = document.line_count
    batch.total_amount = document.total_amount
    batch.transaction_count = document.transaction_count
    key = signing_key()
    if key is not None:
        _sign(batch, key, now)
    batch.save()


def _record_positions(batch, positions, merchants, approvals, now) -> None:
    rows = []
    for position in positions:
        merchant = merchants[position.merchant_id]
        rows.append(SettlementPosition(
            batch=batch, merchant=merchant, outcome=position.outcome, captured=position.captured,
            refunded=position.refunded, carry_in=position.carry_in, net=position.net, amount=position.amount,
            transactions=position.transactions,
            bank_code=merchant.bank_code if position.is_line else "",
            bank_account=merchant.bank_account if position.is_line else "",
            line_status=LineStatus.INSTRUCTED if position.is_line else LineStatus.NONE))
    saved = SettlementPosition.objects.bulk_create(rows)
    if connection.vendor != "postgresql" or any(p.pk is None for p in saved):
        saved = list(SettlementPosition.objects.filter(batch=batch).order_by("merchant_id"))
    by_merchant = {p.merchant_id: p for p in saved}
    PositionShare.objects.bulk_create([
        PositionShare(position=by_merchant[position.merchant_id], agency_id=share.agency_id, captured=share.captured,
                      refunded=share.refunded, carry_in=share.carry_in, paid=share.paid, carry_out=share.carry_out)
        for position in positions for share in position.shares
    ])
    for position in positions:
        record = by_merchant[position.merchant_id]
        if position.outcome == engine.PAY_FINAL:
            FinalSettlementApproval.objects.filter(merchant_id=position.merchant_id).update(paid_in=batch)
        if position.outcome == engine.RECEIVABLE:
            _open_exception(TrustExceptionKind.MERCHANT_RECEIVABLE, amount=-position.net, batch=batch,
                            position=record, merchant_id=position.merchant_id, now=now,
                            source=f"{batch.batch_id}:receivable:{position.merchant_id}",
                            detail=_("Refunds after the merchant's contract ended exceed what it was owed; "
                                     "the merchant owes {points} points.").format(points=-position.net))
        elif position.outcome == engine.NO_BANK_ACCOUNT:
            _open_exception(TrustExceptionKind.NO_BANK_ACCOUNT, amount=position.net, batch=batch, position=record,
                            merchant_id=position.merchant_id, now=now,
                            source=f"{batch.batch_id}:no_bank_account:{position.merchant_id}",
                            detail=_("NT${amount} is withheld until a bank account is on file.").format(
                                amount=position.net))


def _open_exception(kind: str, *, amount: int, source: str, now: dt.datetime, detail: str = "",
                    affects_statement: bool = False, **refs) -> TrustException:
    exc = TrustException.objects.create(kind=kind, amount=amount, source=source, detail=detail, created_at=now,
                                        affects_statement=affects_statement, **refs)
    record_change(actor=None, action=ChangeAction.CREATE, obj=exc, note="points.open_trust_exception", after={"kind": kind, "amount": amount, "source": source})
    return exc


def instruction_for(batch: SettlementBatch) -> instruction_engine.Instruction:
    """The usage instruction of ``batch``, from its recorded lines (deterministic)."""
    positions = (SettlementPosition.objects.filter(batch=batch, outcome__in=engine.PAID_OUTCOMES)
                 .select_related("merchant").order_by("merchant__tax_id"))
    return instruction_engine.Instruction(
        batch_id=batch.batch_id,
        business_day=batch.business_day,
        operator_name=settings.POINTS_OPERATOR_NAME,
        trust_bank_name=settings.POINTS_TRUST_BANK,
        trust_account=settings.POINTS_TRUST_ACCOUNT,
        lines=tuple(
            instruction_engine.InstructionLine(
                merchant_code=p.merchant.tax_id, merchant_name=p.merchant.name, bank_code=p.bank_code,
                bank_account=p.bank_account, amount=p.amount, transaction_count=p.transactions,
                final=p.outcome == engine.PAY_FINAL)
            for p in positions),
        late_transfer_count=batch.late_count,
    )


# --- signing -------------------------------------------------------------------------------------

def signing_key():
    """The operator's Ed25519 signing key, from ``CITYGOV_POINTS_SIGNING_KEY`` (the key itself) or
    ``CITYGOV_POINTS_SIGNING_KEY_FILE`` (default ``var/points_signing_key.pem`` when that file exists);
    None when neither is set. A key that cannot be read stops the build with the reason."""
    text = settings.POINTS_SIGNING_KEY
    data = text.encode("utf-8") if text else None
    if data is None:
        path = Path(settings.POINTS_SIGNING_KEY_FILE)
        if not path.is_file():
            return None
        data = path.read_bytes()
    password = settings.POINTS_SIGNING_KEY_PASSWORD.encode("utf-8") if settings.POINTS_SIGNING_KEY_PASSWORD else None
    try:
        return signing_keys.load_private_key(data, password)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="bad_signing_key") from exc


def _sign(batch: SettlementBatch, key, now: dt.datetime) -> None:
    payload = batch.instruction.encode("utf-8")
    batch.signature = base64.b64encode(signing_keys.sign(key, payload)).decode("ascii")
    batch.key_fingerprint = signing_keys.key_fingerprint(key.public_key())
    batch.signed_at = now
    if batch.status == BatchStatus.BUILT:
        batch.status = BatchStatus.SIGNED


def do_sign_batch(actor, batch_id: str, *, now: dt.datetime | None = None) -> SettlementBatch:
    """Sign a batch built while no signing key was configured. A signed batch is left as it is."""
    check_settle(actor)
    key = signing_key()
    if key is None:
        raise InvalidInput(_("No signing key is configured (CITYGOV_POINTS_SIGNING_KEY or "
                             "CITYGOV_POINTS_SIGNING_KEY_FILE)."), code="no_signing_key")
    with transaction.atomic():
        batch = SettlementBatch.objects.select_for_update().filter(batch_id=batch_id).first()
        if batch is None:
            raise NotFound(_("No such batch."), code="unknown_batch")
        if batch.signature:
            return batch
        _sign(batch, key, _now(now))
        batch.save(update_fields=["signature", "key_fingerprint", "signed_at", "status"])
        record_change(actor=actor, action=ChangeAction.UPDATE, obj=batch, note="points.sign_batch", after={"fingerprint": batch.key_fingerprint})
    return batch


def do_generate_signing_key(path: Path, *, password: bytes | None = None, overwrite: bool = False) -> bytes:
    """Write a new private key (PKCS#8 PEM, mode 0600) to ``path``; return the public key PEM to give
    the trust bank. Refuses to replace an existing key unless told to."""
    if path.exists() and not overwrite:
        raise Conflict(_("{path} already exists; keep it or remove it first.").format(path=path), code="key_exists")
    private_pem, public_pem = signing_keys.generate_key_pair(password)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    path.chmod(0o600)
    path.write_bytes(private_pem)
    record_change(actor=None, action=ChangeAction.ACTION, note="points.generate_signing_key",
                  after={"path": str(path), "fingerprint": signing_keys.key_fingerprint(public_pem)})
    return public_pem


@dataclass(frozen=True)
class InstructionFiles:
    """The files of one usage instruction for the trust bank."""

    json: bytes
    csv: bytes
    pdf: bytes
    signature: bytes | None


def instruction_files(batch: SettlementBatch, *, with_pdf: bool = True) -> InstructionFiles:
    """The JSON exactly as signed, the CSV and PDF rendered from it, and the detached signature file."""
    document = instruction_for(batch)
    payload = batch.instruction.encode("utf-8")
    if instruction_engine.canonical_json(document) != payload:
        raise Conflict(_("The recorded lines of {batch} no longer match its signed instruction.").format(
            batch=batch.batch_id), code="instruction_mismatch")
    signature = None
    if batch.signature:
        signature = signing_keys.format_signature_file(batch.key_fingerprint, batch.content_hash, batch.signature)
    pdf = instruction_engine.to_pdf(document, generated_at=batch.built_at) if with_pdf else b""
    return InstructionFiles(json=payload, csv=instruction_engine.to_csv(document), pdf=pdf, signature=signature)


# --- final settlement approval -------------------------------------------------------------------

def do_approve_final_settlement(actor, merchant_id: int, *, note: str = "",
                                now: dt.datetime | None = None) -> FinalSettlementApproval:
    """Approve the one final line of a closed or not-renewed merchant (paid in the next batch)."""
    check_settle(actor)
    if actor is None:
        raise Forbidden(_("A person approves a final settlement."))
    with transaction.atomic():
        merchant = Merchant.objects.select_for_update().filter(pk=merchant_id).first()
        if merchant is None:
            raise NotFound(_("No such merchant."), code="unknown_merchant")
        if merchant.status not in (MerchantStatus.CLOSED, MerchantStatus.NOT_RENEWED):
            raise Conflict(_("Only a closed or not-renewed merchant gets a final settlement."),
                           code="merchant_not_ended")
        if FinalSettlementApproval.objects.filter(merchant=merchant).exists():
            raise Conflict(_("The final settlement of this merchant is already approved."), code="already_approved")
        approval = FinalSettlementApproval.objects.create(merchant=merchant, approved_by=actor,
                                                          approved_at=_now(now), note=note[:300])
        record_change(actor=actor, action=ChangeAction.CREATE, obj=approval, note="points.approve_final_settlement",
                      after={"merchant": merchant.tax_id, "note": note[:300]})
    return approval


# --- checks --------------------------------------------------------------------------------------

@dataclass
class SettlementHealth:
    """The result of :func:`check_settlement`."""

    batches_checked: int = 0
    problems: list[str] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def check_settlement(*, now: dt.datetime | None = None) -> SettlementHealth:
    """Settlement invariants: each batch's items, positions and instruction agree; carry chains from
    batch to batch; lines never exceed what was captured; no settleable transfer older than the late
    look-back is outside a batch once later batches exist."""
    health = SettlementHealth(problems=[])
    previous_carry: dict[tuple[int, int], int] = {}
    for batch in SettlementBatch.objects.order_by("business_day"):
        health.batches_checked += 1
        items = {(m, a): t for m, a, t in SettlementItem.objects.filter(batch=batch)
                     .values("merchant_id", "agency_id").annotate(t=Sum("amount"))
                     .values_list("merchant_id", "agency_id", "t")}
        carry: dict[tuple[int, int], int] = {}
        seen: set[tuple[int, int]] = set()
        paid = 0
        for share in PositionShare.objects.filter(position__batch=batch).select_related("position"):
            key = (share.position.merchant_id, share.agency_id)
            seen.add(key)
            expected_in = previous_carry.get(key, 0)
            if share.carry_in != expected_in:
                health.problems.append(f"{batch.batch_id} {key}: carry in {share.carry_in}, expected {expected_in}")
            if share.captured - share.refunded != items.get(key, 0):
                health.problems.append(f"{batch.batch_id} {key}: share {share.captured - share.refunded} ≠ items "
                                       f"{items.get(key, 0)}")
            if share.carry_in + share.captured - share.refunded - share.paid != share.carry_out:
                health.problems.append(f"{batch.batch_id} {key}: carry out does not add up")
            if share.carry_out:
                carry[key] = share.carry_out
            paid += share.paid
        for key, value in previous_carry.items():
            if key not in seen:
                health.problems.append(f"{batch.batch_id} {key}: carry {value} dropped")
        if paid != batch.total_amount:
            health.problems.append(f"{batch.batch_id}: shares pay {paid}, instruction says {batch.total_amount}")
        if batch.instruction and instruction_engine.content_hash(instruction_for(batch)) != batch.content_hash:
            health.problems.append(f"{batch.batch_id}: instruction content hash does not match its lines")
        previous_carry = carry
    latest = SettlementBatch.objects.order_by("-business_day").first()
    if latest is not None:
        stale = (Transfer.objects.filter(kind__in=SETTLEABLE, created_at__lt=latest.window_start - LATE_LOOKBACK)
                 .filter(settlement_item__isnull=True).count())
        if stale:
            health.problems.append(f"{stale} capture/refund transfers older than the late look-back are in no batch")
    return health


# --- the exception queue -------------------------------------------------------------------------

def _exception_for_update(exception_id: int) -> TrustException:
    exc = TrustException.objects.select_for_update().filter(pk=exception_id).first()
    if exc is None:
        raise NotFound(_("No such exception."), code="unknown_exception")
    return exc


def do_assign_exception(actor, exception_id: int, owner) -> TrustException:
    """Give an open exception an owner (a user who may run settlement)."""
    check_settle(actor)
    if owner is None or not owner.is_active or not owner.has_capability(Capability.SETTLE_POINTS):
        raise InvalidInput(_("The owner must be an active user who may run settlement."), code="bad_owner")
    with transaction.atomic():
        exc = _exception_for_update(exception_id)
        before = {"owner": exc.owner.get_username() if exc.owner else None}
        exc.owner = owner
        exc.save(update_fields=["owner"])
        record_change(actor=actor, action=ChangeAction.UPDATE, obj=exc, note="points.assign_trust_exception",
                      before=before, after={"owner": owner.get_username()})
    return exc


def do_resolve_exception(actor, exception_id: int, resolution: str, *, now: dt.datetime | None = None
                         ) -> TrustException:
    """Close an exception with the notes saying how it was resolved. Nothing in the books changes:
    a correction, if one is needed, is its own recorded action."""
    check_settle(actor)
    if actor is None:
        raise Forbidden(_("A person resolves an exception."))
    resolution = (resolution or "").strip()
    if len(resolution) < 5:
        raise InvalidInput(_("Write down how the exception was resolved (at least 5 characters)."),
                           code="resolution_required")
    with transaction.atomic():
        exc = _exception_for_update(exception_id)
        if exc.status == TrustExceptionStatus.RESOLVED:
            raise Conflict(_("This exception is already resolved."), code="already_resolved")
        exc.status = TrustExceptionStatus.RESOLVED
        exc.resolution = resolution[:4000]
        exc.resolved_at = _now(now)
        exc.resolved_by = actor
        if exc.owner is None:
            exc.owner = actor
        exc.save(update_fields=["status", "resolution", "resolved_at", "resolved_by", "owner"])
        record_change(actor=actor, action=ChangeAction.UPDATE, obj=exc, note="points.resolve_trust_exception",
                      before={"status": TrustExceptionStatus.OPEN},
                      after={"status": TrustExceptionStatus.RESOLVED, "resolution": exc.resolution})
    return exc
