"""Exactly-once under load (R5, I-7), on PostgreSQL with real threads and connections: identical
requests with one idempotency key, released together by a barrier, produce exactly one effect.
The ledger auditor runs afterwards (the ``programme`` fixture)."""

from __future__ import annotations

import json
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from citygov.core.errors import Conflict
from citygov.points.engine.signing import sign
from citygov.points.models import IdempotencyRecord, IdempotencyState, Redemption, Transfer, TransferKind
from citygov.points.services import ledger
from citygov.points.services.idempotency import run_idempotent
from citygov.points.tests.support import make_campaign

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 20
PATH = "/api/points/terminal/redeem/"


def run_together(count: int, call):
    """Run ``call(i)`` in ``count`` threads released at the same instant, each on its own connection."""
    barrier = threading.Barrier(count)

    def worker(index):
        try:
            barrier.wait(timeout=30)
            return call(index)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(worker, range(count)))


def fund(programme) -> None:
    now = timezone.now()
    campaign = make_campaign(programme.agency_admin, programme.agency, start=now, name="冬季")
    ledger.do_grant(programme.operator, campaign.pk, "CARD0001", now=now)
    ledger.do_grant(programme.operator, campaign.pk, "CARD0001", now=now)


def test_20_identical_service_calls_with_one_key_have_one_effect(programme):
    fund(programme)
    payload = {"method": "POST", "path": PATH, "body": {"card_number": "CARD0001", "amount": 30}}

    def action():
        redemption = ledger.do_redeem(programme.ctx, "CARD0001", 30)
        time.sleep(0.05)  # keep the key in flight a moment, so duplicates do meet it
        return 201, {"id": redemption.pk, "amount": redemption.amount}

    def call(_index):
        answers = []
        for _attempt in range(200):
            try:
                result = run_idempotent("terminal:T-001", "one-key", payload, action)
            except Conflict as exc:
                answers.append(("conflict", exc.code))
                time.sleep(0.02)
                continue
            answers.append(("replay" if result.replayed else "first", result.status_code, result.body))
            return answers
        return answers

    results = run_together(THREADS, call)
    redemption = Redemption.objects.get()
    body = {"id": redemption.pk, "amount": 30}
    finals = [answers[-1] for answers in results]
    assert sorted(kind for kind, *_ in finals) == ["first"] + ["replay"] * (THREADS - 1)
    assert [final[1:] for final in finals if final[0] == "first"] == [(201, {**body, "replayed": False})]
    assert {json.dumps(final[1:]) for final in finals if final[0] == "replay"} == {
        json.dumps((201, {**body, "replayed": True}))}
    retried = [answer for answers in results for answer in answers[:-1]]
    assert set(retried) <= {("conflict", "idempotency_in_flight")}
    assert list(Transfer.objects.filter(redemption=redemption).values_list("kind", "amount")) == [
        (TransferKind.REDEEM, 30)]
    assert Transfer.objects.filter(kind=TransferKind.REDEEM).count() == 1
    assert IdempotencyRecord.objects.get().state == IdempotencyState.DONE


def test_20_identical_signed_http_requests_with_one_key_have_one_effect(programme, settings):
    settings.POINTS_TERMINAL_RATE = "100000/min"  # the retries below must not be rate-limited
    fund(programme)
    raw = json.dumps({"card_number": "CARD0001", "amount": 25}).encode()

    def request_once():
        stamp, nonce = str(int(time.time())), secrets.token_hex(8)
        headers = {"X-Terminal-Id": "T-001", "X-Timestamp": stamp, "X-Nonce": nonce, "Idempotency-Key": "http-key",
                   "X-Signature": sign("s" * 32, "POST", PATH, stamp, nonce, raw)}
        return Client().generic("POST", PATH, raw, content_type="application/json", headers=headers)

    def call(_index):
        seen = []
        for _attempt in range(200):
            response = request_once()
            seen.append((response.status_code, response.get("Retry-After"), response.get("Idempotency-Replayed"),
                         response.json()))
            if response.status_code != 409:
                return seen
            time.sleep(0.02)
        return seen

    results = run_together(THREADS, call)
    redemption = Redemption.objects.get()
    finals = [seen[-1] for seen in results]
    originals = [final for final in finals if final[2] is None]
    assert len(originals) == 1
    original = originals[0][3]
    assert (original["id"], original["amount"], original["post_balance"], original["replayed"]) == (
        redemption.pk, 25, 175, False)
    assert [final[:3] for final in finals if final[2] is not None] == [(201, None, "true")] * (THREADS - 1)
    assert all(final[3] == {**original, "replayed": True} for final in finals if final[2] is not None)
    retries = [(status, retry_after, answer["code"]) for seen in results for status, retry_after, _r, answer in seen[:-1]]
    assert set(retries) <= {(409, "1", "idempotency_in_flight")}
    assert Transfer.objects.filter(kind=TransferKind.REDEEM).count() == 1
    assert sum(Transfer.objects.filter(redemption=redemption).values_list("amount", flat=True)) == 25
