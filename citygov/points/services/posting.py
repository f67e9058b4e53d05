"""Posting transfers: the one place that changes account balances.

Lock order, everywhere in the points app (deadlock freedom): member → merchant → hold or redemption
→ accounts, accounts always in ascending primary key. Balances change only here, inside the
caller's transaction, after the accounts are locked; the database CHECK on non-negative balances is
the last line of defence behind the check made here.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from citygov.core.errors import Conflict, InvalidInput
from citygov.points.models import ALLOWED_PAIRS, Account, AccountKind, Transfer, TransferKind
from citygov.points.models.ledger import AGENCY_ACCOUNTS, MAY_GO_NEGATIVE


class InsufficientBalance(InvalidInput):
    """An account would go below zero."""

    code = "insufficient_points"


@dataclass(frozen=True)
class Leg:
    """One transfer to post: ``amount`` points from ``debit`` to ``credit``, attributed to ``agency_id``."""

    kind: str
    debit: Account
    credit: Account
    amount: int
    agency_id: int
    refs: dict = field(default_factory=dict)


def post(legs: list[Leg], *, now: dt.datetime, terminal_time: dt.datetime | None = None,
         balances_after: dict[int, int] | None = None) -> list[Transfer]:
    """Lock every account the legs touch (ascending pk), check bounds, apply the balance changes and
    insert the transfers. Must run inside ``transaction.atomic()``.

    ``balances_after``, when given, is filled with each touched account's balance after the
    transfers, as read under the lock (callers use it for a post-operation balance without another
    query)."""
    if not legs:
        return []
    deltas: dict[int, int] = defaultdict(int)
    kinds: dict[int, str] = {}
    for leg in legs:
        if leg.amount <= 0:
            raise InvalidInput(_("A transfer must move a positive number of points."), code="non_positive_amount")
        pair = (leg.debit.kind, leg.credit.kind)
        if leg.kind != TransferKind.REVERSAL and pair not in ALLOWED_PAIRS[leg.kind]:
            raise InvalidInput("transfer kind {} may not move points {} → {}".format(leg.kind, *pair),
                               code="transfer_not_allowed")
        deltas[leg.debit.pk] -= leg.amount
        deltas[leg.credit.pk] += leg.amount
        kinds[leg.debit.pk] = leg.debit.kind
        kinds[leg.credit.pk] = leg.credit.kind
    ids = sorted(deltas)
    balances = _lock_accounts(ids)
    for pk in ids:
        if balances[pk] + deltas[pk] < 0 and kinds[pk] not in MAY_GO_NEGATIVE:
            raise InsufficientBalance(_("Not enough points."))
    _apply_deltas({pk: delta for pk, delta in deltas.items() if delta})
    if balances_after is not None:
        balances_after.update({pk: balances[pk] + deltas[pk] for pk in ids})
    transfers = [
        Transfer(kind=leg.kind, amount=leg.amount, debit_id=leg.debit.pk, credit_id=leg.credit.pk,
                 agency_id=leg.agency_id, created_at=now, terminal_time=terminal_time, **leg.refs)
        for leg in legs
    ]
    return Transfer.objects.bulk_create(transfers)


UPDATE_BATCH = 500


def _lock_accounts(ids: list[int]) -> dict[int, int]:
    """Lock the accounts ``ids`` (sorted) in ascending primary key and return their balances.

    Plain SQL: this runs for every movement of points, and the statement is fixed.
    """
    table = connection.ops.quote_name(Account._meta.db_table)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    balances: dict[int, int] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(ids), UPDATE_BATCH):
            batch = ids[start:start + UPDATE_BATCH]
            placeholders = ", ".join(["%s"] * len(batch))
            # Only placeholders and the quoted table name are interpolated into the statement.
            cursor.execute(f"SELECT id, balance FROM {table} WHERE id IN ({placeholders}) ORDER BY id{lock}",  # noqa: S608
                           batch)
            balances.update(cursor.fetchall())
    return balances


def _apply_deltas(deltas: dict[int, int]) -> None:
    """Add each delta to its account's balance, many accounts per statement.

    One ``UPDATE … SET balance = balance + CASE id WHEN … END`` per batch instead of one statement per
    account: bulk issuance and expiry touch thousands of accounts per transaction. The CHECK
    constraint still applies row by row.
    """
    if len(deltas) == 1:
        (pk, delta), = deltas.items()
        Account.objects.filter(pk=pk).update(balance=F("balance") + delta)
        return
    table = connection.ops.quote_name(Account._meta.db_table)
    items = sorted(deltas.items())
    with connection.cursor() as cursor:
        for start in range(0, len(items), UPDATE_BATCH):
            batch = items[start:start + UPDATE_BATCH]
            cases = " ".join(["WHEN %s THEN %s"] * len(batch))
            placeholders = ", ".join(["%s"] * len(batch))
            params = [value for pair in batch for value in pair] + [pk for pk, _ in batch]
            # Only placeholders and the quoted table name are interpolated into the statement.
            sql = f"UPDATE {table} SET balance = balance + CASE id {cases} END WHERE id IN ({placeholders})"  # noqa: S608
            cursor.execute(sql, params)


def singleton_account(kind: str, *, agency_id: int | None = None, merchant_id: int | None = None) -> Account:
    """The mint, an agency's account of ``kind``, or a merchant's payable; created on first use.

    Two first uses at once race on the unique constraint; the loser reads the winner's row.
    """
    lookup: dict = {"kind": kind}
    if kind in AGENCY_ACCOUNTS:
        lookup["agency_id"] = agency_id
    elif kind == AccountKind.MERCHANT_PAYABLE:
        lookup["merchant_id"] = merchant_id
    account = Account.objects.filter(**lookup).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return Account.objects.create(**lookup)
    except IntegrityError:
        return Account.objects.get(**lookup)


RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected


def _is_retryable(exc: Exception) -> bool:
    cause = exc.__cause__
    state = getattr(cause, "sqlstate", None) or getattr(getattr(cause, "diag", None), "sqlstate", None)
    if state in RETRYABLE_SQLSTATES:
        return True
    # SQLite answers a busy database with OperationalError("database is locked").
    return "database is locked" in str(exc)


def retry_on_conflict(func=None, *, attempts: int = 5):
    """Re-run a whole service call when the database reports a deadlock or serialization failure.

    The caller never sees these transient errors as a business answer (a retry is the correct
    response, not "insufficient points"). After ``attempts`` the error becomes a retriable 409.
    """

    def decorate(inner):
        @functools.wraps(inner)
        def wrapper(*args, **kwargs):
            for attempt in range(attempts):
                try:
                    return inner(*args, **kwargs)
                except OperationalError as exc:
                    if not _is_retryable(exc) or transaction.get_connection().in_atomic_block:
                        raise
                    if attempt == attempts - 1:
                        raise Conflict(_("The ledger is busy; try again."), code="retry") from exc
                    time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))  # noqa: S311 - jitter only
            raise AssertionError("unreachable")

        return wrapper

    return decorate(func) if func is not None else decorate
