"""The idempotency service (R5, I-7): claims, replays, conflicts, abandoned claims, pruning, and the
periodic jobs that prune keys and time out holds."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import OperationalError
from django.utils import timezone

from citygov.core.errors import Conflict, InvalidInput, NotFound
from citygov.points import jobs
from citygov.points.engine.signing import fingerprint
from citygov.points.models import Hold, HoldStatus, IdempotencyRecord, IdempotencyState, Redemption, Transfer
from citygov.points.services import idempotency, ledger
from citygov.points.services.idempotency import (
    IN_FLIGHT_TIMEOUT,
    IdempotentResult,
    prune_idempotency_records,
    run_idempotent,
)
from citygov.points.tests.support import make_campaign

pytestmark = pytest.mark.django_db

SCOPE = "terminal:T-001"
PAYLOAD = {"method": "POST", "path": "/api/points/terminal/redeem/", "body": {"amount": 5}}


class Counter:
    """An action that counts its runs and answers 201 with the run number."""

    def __init__(self):
        self.runs = 0

    def __call__(self):
        self.runs += 1
        return 201, {"run": self.runs}


def record(key="k", *, state=IdempotencyState.IN_FLIGHT, age=dt.timedelta(0), payload=None, **extra):
    return IdempotencyRecord.objects.create(scope=SCOPE, key=key, fingerprint=fingerprint(payload or PAYLOAD),
                                            state=state, created_at=timezone.now() - age, **extra)


def test_first_call_runs_and_stores_the_answer():
    action = Counter()
    result = run_idempotent(SCOPE, "k", PAYLOAD, action)
    assert result == IdempotentResult(201, {"run": 1, "replayed": False}, replayed=False)
    stored = IdempotencyRecord.objects.get()
    assert (stored.scope, stored.key, stored.state, stored.status_code, stored.response) == (
        SCOPE, "k", IdempotencyState.DONE, 201, {"run": 1})
    assert stored.fingerprint == fingerprint(PAYLOAD)
    assert stored.completed_at is not None


def test_same_key_and_payload_replays_without_running():
    action = Counter()
    run_idempotent(SCOPE, "k", PAYLOAD, action)
    again = run_idempotent(SCOPE, "k", {"body": {"amount": 5}, "path": PAYLOAD["path"], "method": "POST"}, action)
    assert again == IdempotentResult(201, {"run": 1, "replayed": True}, replayed=True)
    assert action.runs == 1
    assert IdempotencyRecord.objects.count() == 1


def test_same_key_other_payload_is_a_conflict_and_runs_nothing():
    action = Counter()
    run_idempotent(SCOPE, "k", PAYLOAD, action)
    with pytest.raises(Conflict) as caught:
        run_idempotent(SCOPE, "k", {**PAYLOAD, "body": {"amount": 6}}, action)
    assert (caught.value.code, caught.value.status) == ("idempotency_conflict", 409)
    assert action.runs == 1
    assert IdempotencyRecord.objects.get().response == {"run": 1}


def test_keys_are_scoped_by_credential():
    action = Counter()
    run_idempotent(SCOPE, "k", PAYLOAD, action)
    other = run_idempotent("terminal:T-002", "k", PAYLOAD, action)
    assert other == IdempotentResult(201, {"run": 2, "replayed": False}, replayed=False)
    assert IdempotencyRecord.objects.count() == 2


def test_a_fresh_in_flight_claim_is_retriable_conflict():
    record(age=IN_FLIGHT_TIMEOUT - dt.timedelta(seconds=1))
    action = Counter()
    with pytest.raises(Conflict) as caught:
        run_idempotent(SCOPE, "k", PAYLOAD, action)
    assert caught.value.code == "idempotency_in_flight"
    assert action.runs == 0
    assert IdempotencyRecord.objects.get().state == IdempotencyState.IN_FLIGHT


def test_in_flight_with_other_payload_is_a_conflict_first():
    record(payload={"other": 1})
    with pytest.raises(Conflict) as caught:
        run_idempotent(SCOPE, "k", PAYLOAD, Counter())
    assert caught.value.code == "idempotency_conflict"


def test_a_stale_in_flight_claim_is_taken_over():
    abandoned = record(age=IN_FLIGHT_TIMEOUT + dt.timedelta(seconds=1))
    action = Counter()
    result = run_idempotent(SCOPE, "k", PAYLOAD, action)
    assert result == IdempotentResult(201, {"run": 1, "replayed": False}, replayed=False)
    assert action.runs == 1
    stored = IdempotencyRecord.objects.get()
    assert stored.pk == abandoned.pk
    assert (stored.state, stored.response) == (IdempotencyState.DONE, {"run": 1})
    assert stored.created_at > abandoned.created_at
    assert run_idempotent(SCOPE, "k", PAYLOAD, action).replayed is True
    assert action.runs == 1


def test_business_errors_are_stored_answers():
    runs = []

    def refuse():
        runs.append(1)
        raise InvalidInput("Not enough spendable points.", code="insufficient_points")

    first = run_idempotent(SCOPE, "k", PAYLOAD, refuse)
    assert first == IdempotentResult(400, {"status": 400, "code": "insufficient_points",
                                           "detail": "Not enough spendable points.", "replayed": False},
                                     replayed=False)
    again = run_idempotent(SCOPE, "k", PAYLOAD, refuse)
    assert again == IdempotentResult(400, {**first.body, "replayed": True}, replayed=True)
    assert runs == [1]
    assert IdempotencyRecord.objects.get().state == IdempotencyState.DONE


def test_custom_error_renderer():
    def missing():
        raise NotFound("No such hold.", code="unknown_hold")

    result = run_idempotent(SCOPE, "k", PAYLOAD, missing, render_error=lambda exc: (exc.status, {"c": exc.code}))
    assert result == IdempotentResult(404, {"c": "unknown_hold", "replayed": False}, replayed=False)


def test_an_unexpected_error_releases_the_claim_for_a_retry():
    def crash():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        run_idempotent(SCOPE, "k", PAYLOAD, crash)
    assert IdempotencyRecord.objects.count() == 0
    result = run_idempotent(SCOPE, "k", PAYLOAD, Counter())
    assert result.replayed is False
    assert IdempotencyRecord.objects.get().state == IdempotencyState.DONE


def deadlock() -> OperationalError:
    """An OperationalError shaped like psycopg's "deadlock detected" (SQLSTATE 40P01)."""
    cause = Exception("deadlock detected")
    cause.sqlstate = "40P01"
    error = OperationalError("deadlock detected")
    error.__cause__ = cause
    return error


@pytest.mark.django_db(transaction=True)
def test_a_deadlock_is_retried_inside_the_claim(monkeypatch):
    monkeypatch.setattr(idempotency.time, "sleep", lambda _seconds: None)
    runs = []

    def flaky():
        runs.append(1)
        if len(runs) < 3:
            raise deadlock()
        return 201, {"ok": True}

    assert run_idempotent(SCOPE, "k", PAYLOAD, flaky) == IdempotentResult(201, {"ok": True, "replayed": False},
                                                                         replayed=False)
    assert len(runs) == 3
    assert IdempotencyRecord.objects.get().state == IdempotencyState.DONE


@pytest.mark.django_db(transaction=True)
def test_endless_deadlocks_end_in_a_retriable_conflict_and_free_the_key(monkeypatch):
    monkeypatch.setattr(idempotency.time, "sleep", lambda _seconds: None)

    def always():
        raise deadlock()

    with pytest.raises(Conflict) as caught:
        run_idempotent(SCOPE, "k", PAYLOAD, always)
    assert caught.value.code == "retry"
    assert IdempotencyRecord.objects.count() == 0


def test_the_effect_and_the_answer_commit_together(programme):
    now = timezone.now()
    campaign = make_campaign(programme.agency_admin, programme.agency, start=now, name="冬季")
    ledger.do_grant(programme.operator, campaign.pk, "CARD0001", now=now)

    def redeem_then_crash():
        ledger.do_redeem(programme.ctx, "CARD0001", 40)
        raise RuntimeError("the process died before storing the answer")

    transfers = Transfer.objects.count()
    with pytest.raises(RuntimeError):
        run_idempotent(SCOPE, "k", PAYLOAD, redeem_then_crash)
    assert (Transfer.objects.count(), Redemption.objects.count(), IdempotencyRecord.objects.count()) == (
        transfers, 0, 0)

    def redeem():
        return 201, {"id": ledger.do_redeem(programme.ctx, "CARD0001", 40).pk}

    first = run_idempotent(SCOPE, "k", PAYLOAD, redeem)
    second = run_idempotent(SCOPE, "k", PAYLOAD, redeem)
    assert second.body == {**first.body, "replayed": True}
    assert Redemption.objects.count() == 1


def test_pruning_keeps_29_day_old_keys_and_deletes_31_day_old_ones():
    now = timezone.now()
    young = record("young", state=IdempotencyState.DONE, age=dt.timedelta(days=29))
    record("old", state=IdempotencyState.DONE, age=dt.timedelta(days=31))
    record("old-in-flight", age=dt.timedelta(days=31))
    assert prune_idempotency_records(now=now) == 2
    assert list(IdempotencyRecord.objects.values_list("pk", flat=True)) == [young.pk]


@pytest.mark.parametrize("days", [29, 0, -1])
def test_pruning_never_shortens_retention(days):
    young = record("young", state=IdempotencyState.DONE, age=dt.timedelta(days=29, hours=23))
    with pytest.raises(InvalidInput) as caught:
        prune_idempotency_records(days)
    assert caught.value.code == "retention_too_short"
    assert list(IdempotencyRecord.objects.values_list("pk", flat=True)) == [young.pk]


def test_prune_job_deletes_only_keys_older_than_30_days():
    record("young", state=IdempotencyState.DONE, age=dt.timedelta(days=29))
    record("old", state=IdempotencyState.DONE, age=dt.timedelta(days=31))
    assert jobs.prune_idempotency.call_local() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["young"]


def test_expire_holds_job_releases_timed_out_holds(programme):
    now = timezone.now()
    campaign = make_campaign(programme.agency_admin, programme.agency, start=now, name="冬季")
    ledger.do_grant(programme.operator, campaign.pk, "CARD0001", now=now)
    stale = ledger.do_hold(programme.ctx, "CARD0001", 30, now=now - dt.timedelta(seconds=121))
    fresh = ledger.do_hold(programme.ctx, "CARD0001", 20, now=now)
    assert jobs.expire_holds.call_local() == 1
    assert dict(Hold.objects.values_list("pk", "status")) == {stale.pk: HoldStatus.EXPIRED, fresh.pk: HoldStatus.OPEN}


def test_periodic_jobs_are_scheduled():
    from huey.contrib.djhuey import HUEY

    def due(at):
        names = {task.name for task in HUEY.read_periodic(at)}
        return ("points.expire_holds" in names, "points.prune_idempotency_records" in names)

    assert due(dt.datetime(2026, 1, 1, 3, 29)) == (True, True)  # daily at 03:29
    assert due(dt.datetime(2026, 1, 1, 3, 30)) == (True, False)  # hold time-outs every minute
    assert due(dt.datetime(2026, 1, 1, 14, 7)) == (True, False)
