"""Exactly-once execution of API writes per (credential, idempotency key) — rule R5, invariant I-7.

A request runs in three steps (after Brandur Leach, "Implementing Stripe-like Idempotency Keys in
Postgres"):

1. **Claim** the key: insert an ``in_flight`` record in its own short, committed transaction, so a
   concurrent duplicate finds it (the unique index on ``(scope, key)`` decides the race).
   On PostgreSQL this commit is asynchronous (``SET LOCAL synchronous_commit TO OFF``: no wait
   for the WAL flush). That is safe: the claim carries no effect and no answer. Losing it in a crash
   only frees the key, and a crash can only lose it together with everything committed after it,
   because the WAL is flushed in order — the step-2 commit is synchronous, so once an effect is
   durable (and only then is it answered) its claim is durable too.
2. **Execute** the action in one transaction that ends by marking the record ``done`` with the
   answer, with a conditional UPDATE that only matches our own claim (in flight, our claim time);
   if the claim was taken over meanwhile, the whole transaction rolls back. Either both commit or
   neither does, so an effect without a stored answer (or the reverse) cannot exist. Business
   refusals (:class:`~citygov.core.errors.ServiceError`) are answers too and are stored, so a retry
   gets the same answer.
3. An unexpected error deletes the claim so the client may retry; a claim older than
   :data:`IN_FLIGHT_TIMEOUT` belongs to a process that died and may be taken over.

Call :func:`run_idempotent` outside any transaction: inside one, the claim is only a savepoint and
a concurrent duplicate cannot see it.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import DatabaseError, IntegrityError, OperationalError, transaction
from django.utils import timezone

from citygov.core.errors import Conflict, InvalidInput, ServiceError
from citygov.points.engine.signing import fingerprint
from citygov.points.models import IdempotencyRecord, IdempotencyState
from citygov.points.services.posting import _is_retryable

logger = logging.getLogger(__name__)

IN_FLIGHT_TIMEOUT = dt.timedelta(seconds=60)
RETENTION_DAYS = 30
EXECUTE_ATTEMPTS = 5
CLAIM_ATTEMPTS = 5

Action = Callable[[], tuple[int, dict]]
ErrorRenderer = Callable[[ServiceError], tuple[int, dict]]


@dataclass(frozen=True)
class IdempotentResult:
    """The answer to a request: status, JSON body, and whether it is the stored answer of an earlier
    request with the same key (``replayed``; the body then carries ``"replayed": true``)."""

    status_code: int
    body: dict
    replayed: bool


def render_service_error(exc: ServiceError) -> tuple[int, dict]:
    """Default stored answer for a business refusal: its status and a minimal problem body."""
    body = {"status": exc.status, "code": exc.code, "detail": str(exc.message)}
    if exc.fields:
        body["errors"] = exc.fields
    return exc.status, body


def run_idempotent(scope: str, key: str, payload: dict, action: Action, *,
                   render_error: ErrorRenderer = render_service_error) -> IdempotentResult:
    """Run ``action`` at most once for ``(scope, key)`` and return its answer, or the stored answer.

    ``scope`` is the API credential (e.g. ``"terminal:T-001"``), ``payload`` what identifies the
    request (its fingerprint is compared on every reuse of the key). ``action`` returns
    ``(status_code, body)`` and runs inside a transaction that also stores that answer; a
    :class:`ServiceError` it raises is rendered by ``render_error`` and stored like any answer.

    Raises :class:`Conflict` ``idempotency_conflict`` when the key was used with another payload,
    ``idempotency_in_flight`` (retriable) while the first request is still running, and ``retry``
    (retriable) when the database kept reporting deadlocks; any other exception propagates after
    the claim is released.
    """
    if not 0 < len(scope) <= 80 or not 0 < len(key) <= 120:
        raise InvalidInput("The idempotency key must be 1 to 120 characters (冪等金鑰須為 1 至 120 個字元).",
                           code="idempotency_key_invalid")
    print_ = fingerprint(payload)
    outcome = _claim(scope, key, print_)
    if isinstance(outcome, IdempotentResult):
        return outcome
    record_id, claimed_at = outcome
    for attempt in range(EXECUTE_ATTEMPTS):
        try:
            result = _execute(record_id, claimed_at, action, render_error)
        except OperationalError as exc:
            if not _is_retryable(exc) or transaction.get_connection().in_atomic_block:
                _release(record_id, claimed_at)
                raise
            if attempt == EXECUTE_ATTEMPTS - 1:
                _release(record_id, claimed_at)
                raise Conflict("The ledger is busy; retry with the same key (帳務忙碌中，請以相同金鑰重試).",
                               code="retry") from exc
            time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))  # noqa: S311 - jitter only
            continue
        except BaseException:
            _release(record_id, claimed_at)
            raise
        if result is None:
            # Our claim was taken over as abandoned (we were slower than IN_FLIGHT_TIMEOUT): the
            # action was rolled back, and the answer is whatever the new owner stored or will store.
            return _answer_existing(scope, key, print_)
        return result
    raise AssertionError("unreachable")


def _claim(scope: str, key: str, print_: str) -> tuple[int, dt.datetime] | IdempotentResult:
    """Insert the in-flight record (committed at once), or answer from the existing one."""
    for _attempt in range(CLAIM_ATTEMPTS):
        now = timezone.now()
        try:
            with transaction.atomic():
                _asynchronous_commit()
                record = IdempotencyRecord.objects.create(scope=scope, key=key, fingerprint=print_,
                                                          state=IdempotencyState.IN_FLIGHT, created_at=now)
            return record.pk, now
        except IntegrityError:
            pass
        existing = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
        if existing is None:
            continue  # the other claim failed and was released between our insert and our read
        _check_fingerprint(existing, print_)
        if existing.state == IdempotencyState.DONE:
            return _replay(existing)
        if now - existing.created_at >= IN_FLIGHT_TIMEOUT:
            # Abandoned: take it over with a conditional UPDATE, so only one taker wins.
            taken = IdempotencyRecord.objects.filter(
                pk=existing.pk, state=IdempotencyState.IN_FLIGHT, created_at=existing.created_at,
            ).update(created_at=now)
            if taken:
                return existing.pk, now
            continue  # someone else took it over or finished it; look again
        raise _in_flight()
    raise _in_flight()  # the key keeps changing hands under us: let the client retry in a moment


def _execute(record_id: int, claimed_at: dt.datetime, action: Action, render_error: ErrorRenderer
             ) -> IdempotentResult | None:
    """Run the action and store its answer in one transaction; None when the claim was lost."""
    with transaction.atomic():
        try:
            status_code, body = action()
        except ServiceError as exc:
            # Not wrapped in a savepoint on purpose: a service that commits part of its work before
            # refusing (a capture that finds its hold timed out releases it, then says so) keeps it.
            status_code, body = render_error(exc)
        # Store the answer only if the claim is still ours. This UPDATE locks the record until we
        # commit, so a takeover that comes later waits and then finds the key done; one that came
        # while the action ran (the claim was stale) changed ``created_at``, nothing matches, and
        # our work is rolled back — the new owner's run is the only one that counts.
        stored = IdempotencyRecord.objects.filter(
            pk=record_id, state=IdempotencyState.IN_FLIGHT, created_at=claimed_at,
        ).update(state=IdempotencyState.DONE, status_code=status_code, response=body, completed_at=timezone.now())
        if not stored:
            transaction.set_rollback(True)
            return None
    return IdempotentResult(status_code, {**body, "replayed": False}, replayed=False)


def _asynchronous_commit() -> None:
    """Inside the claim's transaction on PostgreSQL: commit without waiting for the WAL flush (see
    the module docstring for why that is safe for a claim, and only for a claim)."""
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _release(record_id: int, claimed_at: dt.datetime) -> None:
    """Delete our in-flight claim (only if it is still ours) so the client can retry the key.

    If even that fails (the database is gone), the claim stays and is taken over once it is stale;
    the original error is what the caller must see, so this one is only logged.
    """
    try:
        IdempotencyRecord.objects.filter(pk=record_id, state=IdempotencyState.IN_FLIGHT,
                                         created_at=claimed_at).delete()
    except DatabaseError:
        logger.exception("could not release idempotency claim %s; it will be taken over when stale", record_id)


def _answer_existing(scope: str, key: str, print_: str) -> IdempotentResult:
    """The stored answer for a key whose claim we lost, or a retriable in-flight conflict."""
    existing = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
    if existing is not None:
        _check_fingerprint(existing, print_)
        if existing.state == IdempotencyState.DONE:
            return _replay(existing)
    raise _in_flight()


def _check_fingerprint(record: IdempotencyRecord, print_: str) -> None:
    """Refuse (409 ``idempotency_conflict``) a key reused for a request with another fingerprint."""
    if record.fingerprint != print_:
        raise Conflict("This idempotency key was already used with a different request "
                       "(此冪等金鑰已用於不同的請求).", code="idempotency_conflict")


def _replay(record: IdempotencyRecord) -> IdempotentResult:
    """The stored answer, marked as a replay."""
    return IdempotentResult(record.status_code, {**(record.response or {}), "replayed": True}, replayed=True)


def _in_flight() -> Conflict:
    """The retriable 409 for a key whose first request is still running (the API adds Retry-After)."""
    return Conflict("A request with this idempotency key is still being processed; retry shortly "
                    "(相同冪等金鑰的請求處理中，請稍後重試).", code="idempotency_in_flight")


def prune_idempotency_records(older_than_days: int = RETENTION_DAYS, *, now: dt.datetime | None = None) -> int:
    """Delete idempotency records first seen more than ``older_than_days`` ago; returns how many.

    Keys are kept at least 30 days (R5), so a shorter period is refused.
    """
    if isinstance(older_than_days, bool) or not isinstance(older_than_days, int) or older_than_days < RETENTION_DAYS:
        raise InvalidInput(f"Idempotency keys are kept at least {RETENTION_DAYS} days "
                           f"(冪等金鑰至少保留 {RETENTION_DAYS} 天).", code="retention_too_short")
    cutoff = (now or timezone.now()) - dt.timedelta(days=older_than_days)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
