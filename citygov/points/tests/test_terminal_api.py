"""The merchant-terminal API end to end: signed requests through the real test client, idempotency
keys (R5), member tokens, errors as problem+json. The ledger auditor runs after each test."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from citygov.core.errors import InvalidInput
from citygov.points.engine.signing import fingerprint, sign
from citygov.points.models import (
    Hold,
    HoldStatus,
    IdempotencyRecord,
    IdempotencyState,
    Redemption,
    Refund,
    Terminal,
    Transfer,
    TransferKind,
)
from citygov.points.services import ledger
from citygov.points.services.tokens import issue_member_token, read_member_token
from citygov.points.tests.support import make_campaign

pytestmark = pytest.mark.django_db

SECRET = "s" * 32
BASE = "/api/points/terminal/"
PROBLEM = "application/problem+json"


def send(method: str, path: str, body=None, *, key: str | None = None, terminal: str = "T-001",
         secret: str = SECRET, timestamp: int | str | None = None, skew: int = 0, nonce: str | None = None, signature: str | None = None,
         headers: dict | None = None):
    """One request signed the way a terminal signs it (each part can be overridden to break it);
    ``skew`` moves the terminal's clock by that many seconds."""
    raw = b"" if body is None else json.dumps(body).encode()
    stamp = str(int(time.time()) + skew if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(8)
    all_headers = {"X-Terminal-Id": terminal, "X-Timestamp": stamp, "X-Nonce": nonce,
                   "X-Signature": signature or sign(secret, method, path, stamp, nonce, raw)}
    if key is not None:
        all_headers["Idempotency-Key"] = key
    all_headers.update(headers or {})
    return APIClient().generic(method, path, raw, content_type="application/json", headers=all_headers)


def post(path: str, body=None, *, key: str | None = "key-1", **kwargs):
    return send("POST", BASE + path, body, key=key, **kwargs)


def counts() -> tuple[int, int, int, int, int]:
    return (Transfer.objects.count(), Hold.objects.count(), Redemption.objects.count(), Refund.objects.count(),
            IdempotencyRecord.objects.count())


@pytest.fixture
def funded(programme):
    """The programme with a campaign open now and 200 points (two lots) for CARD0001 and CARD0002."""
    now = timezone.now()
    campaign = make_campaign(programme.agency_admin, programme.agency, start=now, name="冬季加碼")
    for member in programme.members[:2]:
        ledger.do_grant(programme.operator, campaign.pk, member.card_number, now=now)
        ledger.do_grant(programme.operator, campaign.pk, member.card_number, now=now)
    return programme


# --- the flows ------------------------------------------------------------------------------------

def test_hold_partial_capture_then_refund(funded):
    response = post("holds/", {"card_number": "CARD0001", "amount": 80, "reference": "POS-1"}, key="h-1")
    assert response.status_code == 201
    assert response["Content-Type"] == "application/json"
    assert "Idempotency-Replayed" not in response
    hold = response.json()
    stored = Hold.objects.get()
    assert hold == {"id": stored.pk, "status": "open", "amount": 80, "captured": 0, "released": 0,
                    "created_at": hold["created_at"], "expires_at": hold["expires_at"], "reference": "POS-1",
                    "post_balance": 120, "replayed": False}
    assert dt.datetime.fromisoformat(hold["expires_at"]) - dt.datetime.fromisoformat(hold["created_at"]) \
        == dt.timedelta(seconds=120)

    response = post(f"holds/{stored.pk}/capture/", {"amount": 50}, key="c-1")
    assert response.status_code == 201
    redemption = Redemption.objects.get()
    assert response.json() == {"id": redemption.pk, "hold_id": stored.pk, "amount": 50, "refunded": 0,
                               "created_at": response.json()["created_at"], "reference": "POS-1",
                               "post_balance": 150, "replayed": False}
    stored.refresh_from_db()
    assert (stored.status, stored.captured, stored.released) == (HoldStatus.CAPTURED, 50, 30)

    response = post(f"redemptions/{redemption.pk}/refunds/", {"amount": 20, "reason": "退貨"}, key="r-1")
    assert response.status_code == 201
    refund = Refund.objects.get()
    assert response.json() == {"id": refund.pk, "redemption_id": redemption.pk, "amount": 20, "reason": "退貨",
                               "redemption_refunded": 20, "created_at": response.json()["created_at"],
                               "post_balance": 170, "replayed": False}
    assert sorted(Transfer.objects.filter(hold=stored).values_list("kind", "amount")) == [
        (TransferKind.CAPTURE, 50), (TransferKind.HOLD, 80), (TransferKind.RELEASE, 30)]
    assert list(Transfer.objects.filter(refund=refund).values_list("kind", "amount")) == [(TransferKind.REFUND, 20)]


def test_one_step_redeem_and_balance(funded):
    response = post("redeem/", {"card_number": "CARD0001", "amount": 130, "reference": "INV-9"}, key="x")
    assert response.status_code == 201
    redemption = Redemption.objects.get()
    assert response.json() == {"id": redemption.pk, "hold_id": None, "amount": 130, "refunded": 0,
                               "created_at": response.json()["created_at"], "reference": "INV-9",
                               "post_balance": 70, "replayed": False}
    assert (redemption.merchant_id, redemption.terminal_id) == (funded.merchant.pk, funded.terminal.pk)
    assert sorted(Transfer.objects.filter(redemption=redemption).values_list("kind", "amount")) == [
        (TransferKind.REDEEM, 30), (TransferKind.REDEEM, 100)]

    response = send("GET", BASE + "balance/?card_number=CARD0001")
    assert response.status_code == 200
    assert sorted(response.json()) == ["as_of", "spendable"]
    assert response.json()["spendable"] == 70
    assert send("GET", BASE + "balance/?card_number=CARD0002").json()["spendable"] == 200


def test_balance_of_unknown_card_is_404_problem(funded):
    response = send("GET", BASE + "balance/?card_number=NOPE")
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "unknown_member"


def test_void_gives_every_point_back(funded):
    hold_id = post("holds/", {"card_number": "CARD0001", "amount": 150}, key="h").json()["id"]
    response = post(f"holds/{hold_id}/void/", None, key="v")
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["status"], body["released"], body["captured"], body["post_balance"]) == (
        hold_id, "voided", 150, 0, 200)
    assert Hold.objects.get().status == HoldStatus.VOIDED


def test_terminal_time_is_stored_not_trusted(funded):
    claimed = "2020-01-01T00:00:00+08:00"
    response = post("redeem/", {"card_number": "CARD0001", "amount": 10, "terminal_time": claimed})
    assert response.status_code == 201
    redemption = Redemption.objects.get()
    assert redemption.terminal_time == dt.datetime.fromisoformat(claimed)
    assert abs((redemption.created_at - timezone.now()).total_seconds()) < 60


# --- business errors --------------------------------------------------------------------------------

def test_insufficient_points_is_a_stored_answer(funded):
    before = counts()
    response = post("redeem/", {"card_number": "CARD0001", "amount": 201}, key="big")
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "insufficient_points"
    assert counts()[:4] == before[:4]
    # More points arrive, but the same key still gets the original answer (R5).
    campaign = make_campaign(funded.agency_admin, funded.agency, start=timezone.now(), name="追加")
    ledger.do_grant(funded.operator, campaign.pk, "CARD0001", now=timezone.now())
    transfers = Transfer.objects.count()
    replay = post("redeem/", {"card_number": "CARD0001", "amount": 201}, key="big")
    assert replay.status_code == 400
    assert replay["Idempotency-Replayed"] == "true"
    assert replay.json() == {**response.json(), "replayed": True}
    assert Transfer.objects.count() == transfers
    assert Redemption.objects.count() == 0


def test_inactive_merchant_cannot_redeem(funded):
    type(funded.merchant).objects.filter(pk=funded.merchant.pk).update(points_enabled=False)
    before = counts()
    response = post("holds/", {"card_number": "CARD0001", "amount": 10})
    assert response.status_code == 400
    assert response.json()["code"] == "merchant_not_active"
    assert counts()[:4] == before[:4]


def test_capture_after_timeout_releases_and_says_hold_expired(funded):
    hold = ledger.do_hold(funded.ctx, "CARD0001", 60, now=timezone.now() - dt.timedelta(seconds=121))
    response = post(f"holds/{hold.pk}/capture/", {}, key="late")
    assert response.status_code == 409
    assert response.json()["code"] == "hold_expired"
    hold.refresh_from_db()
    assert (hold.status, hold.released, hold.captured) == (HoldStatus.EXPIRED, 60, 0)
    assert Redemption.objects.count() == 0
    assert send("GET", BASE + "balance/?card_number=CARD0001").json()["spendable"] == 200
    replay = post(f"holds/{hold.pk}/capture/", {}, key="late")
    assert (replay.status_code, replay.json()["code"], replay["Idempotency-Replayed"]) == (409, "hold_expired", "true")


def test_second_capture_is_hold_not_open(funded):
    hold_id = post("holds/", {"card_number": "CARD0001", "amount": 40}, key="h").json()["id"]
    assert post(f"holds/{hold_id}/capture/", {}, key="c1").status_code == 201
    before = counts()
    response = post(f"holds/{hold_id}/capture/", {}, key="c2")
    assert (response.status_code, response.json()["code"]) == (409, "hold_not_open")
    assert counts()[:4] == before[:4]


def test_refund_beyond_capture_is_refused(funded):
    redemption_id = post("redeem/", {"card_number": "CARD0001", "amount": 30}, key="x").json()["id"]
    assert post(f"redemptions/{redemption_id}/refunds/", {"amount": 20}, key="r1").status_code == 201
    before = counts()
    response = post(f"redemptions/{redemption_id}/refunds/", {"amount": 11}, key="r2")
    assert (response.status_code, response.json()["code"]) == (400, "refund_exceeds_capture")
    assert counts()[:4] == before[:4]


def test_another_merchants_hold_is_not_found(funded):
    other = type(funded.merchant).objects.create(tax_id="10000001", name="別家", status="active", points_enabled=True)
    Terminal.objects.create(merchant=other, terminal_id="T-OTHER", secret="o" * 32)
    hold_id = post("holds/", {"card_number": "CARD0001", "amount": 40}, key="h").json()["id"]
    response = post(f"holds/{hold_id}/capture/", {}, key="steal", terminal="T-OTHER", secret="o" * 32)
    assert (response.status_code, response.json()["code"]) == (404, "unknown_hold")
    assert Hold.objects.get().status == HoldStatus.OPEN


def test_invalid_body_is_400_and_does_not_use_the_key(funded):
    before = counts()
    response = post("redeem/", {"card_number": "CARD0001"}, key="k")
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "invalid"
    assert sorted(response.json()["errors"]) == ["amount"]
    both = post("redeem/", {"card_number": "CARD0001", "member_token": "t", "amount": 5}, key="k")
    assert (both.status_code, both.json()["code"]) == (400, "invalid")
    assert counts() == before
    assert post("redeem/", {"card_number": "CARD0001", "amount": 5}, key="k").status_code == 201


# --- authentication ---------------------------------------------------------------------------------

def _redeem_body():
    return {"card_number": "CARD0001", "amount": 10}


@pytest.mark.parametrize(("change", "code"), [
    ({"signature": "0" * 64}, "bad_signature"),
    ({"secret": "t" * 32}, "bad_signature"),
    ({"skew": -302}, "stale_timestamp"),
    ({"skew": 302}, "stale_timestamp"),
    ({"timestamp": "17e8"}, "stale_timestamp"),
    ({"terminal": "T-404"}, "unknown_terminal"),
    ({"nonce": "short"}, "bad_nonce"),
    ({"headers": {"X-Signature": ""}}, "missing_signature_headers"),
])
def test_bad_credentials_are_401_with_no_effect(funded, change, code):
    before = counts()
    response = post("redeem/", _redeem_body(), **change)
    assert response.status_code == 401
    assert response["Content-Type"] == PROBLEM
    assert response["WWW-Authenticate"] == "CityGov-HMAC-SHA256"
    assert response.json()["code"] == code
    assert "(" in response.json()["detail"]  # bilingual: English (中文)
    assert counts() == before


@pytest.mark.parametrize("skew", [-295, 295])
def test_timestamp_within_300_seconds_is_accepted(funded, skew):
    response = send("GET", BASE + "balance/?card_number=CARD0001", skew=skew)
    assert (response.status_code, response.json()["spendable"]) == (200, 200)


def test_tampered_body_fails_the_signature(funded):
    stamp, nonce = str(int(time.time())), "nonce-tamper-1"
    good = sign(SECRET, "POST", BASE + "redeem/", stamp, nonce, json.dumps({"card_number": "CARD0001",
                                                                            "amount": 1}).encode())
    before = counts()
    response = post("redeem/", {"card_number": "CARD0001", "amount": 100}, nonce=nonce, timestamp=int(stamp),
                    signature=good)
    assert (response.status_code, response.json()["code"]) == (401, "bad_signature")
    assert counts() == before


def test_inactive_terminal_is_401(funded):
    Terminal.objects.filter(pk=funded.terminal.pk).update(is_active=False)
    before = counts()
    response = post("redeem/", _redeem_body())
    assert (response.status_code, response.json()["code"]) == (401, "unknown_terminal")
    assert counts() == before


def test_replayed_nonce_is_401_with_no_effect(funded):
    assert post("redeem/", _redeem_body(), key="a", nonce="nonce-0001").status_code == 201
    before = counts()
    response = post("redeem/", _redeem_body(), key="b", nonce="nonce-0001")
    assert (response.status_code, response.json()["code"]) == (401, "replayed_nonce")
    assert counts() == before
    assert Redemption.objects.count() == 1


def test_unsigned_request_is_401(funded):
    before = counts()
    response = APIClient().post(BASE + "redeem/", _redeem_body(), format="json", headers={"Idempotency-Key": "k"})
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert counts() == before


def test_signature_covers_the_query_string(funded):
    stamp, nonce = str(int(time.time())), "nonce-query-1"
    signature = sign(SECRET, "GET", BASE + "balance/?card_number=CARD0002", stamp, nonce, b"")
    response = send("GET", BASE + "balance/?card_number=CARD0001", timestamp=int(stamp), nonce=nonce,
                    signature=signature)
    assert (response.status_code, response.json()["code"]) == (401, "bad_signature")


# --- idempotency (R5) ---------------------------------------------------------------------------------

def test_missing_idempotency_key_is_400_with_no_effect(funded):
    before = counts()
    response = post("redeem/", _redeem_body(), key=None)
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert response.json()["code"] == "idempotency_key_required"
    too_long = post("redeem/", _redeem_body(), key="k" * 121)
    assert (too_long.status_code, too_long.json()["code"]) == (400, "idempotency_key_invalid")
    assert counts() == before


def test_same_key_same_payload_replays_the_original_answer(funded):
    first = post("redeem/", {"card_number": "CARD0001", "amount": 30}, key="pay-42")
    assert first.status_code == 201
    assert first.json()["post_balance"] == 170
    post("redeem/", {"card_number": "CARD0001", "amount": 20}, key="pay-43")  # the balance moves on: 150
    before = counts()
    # A retry is a new signed request (new nonce and timestamp) with the same key and payload.
    replay = post("redeem/", {"amount": 30, "card_number": "CARD0001"}, key="pay-42")
    assert replay.status_code == 201
    assert replay["Idempotency-Replayed"] == "true"
    assert replay.json() == {**first.json(), "replayed": True}
    assert replay.json()["post_balance"] == 170
    assert counts() == before
    assert Redemption.objects.count() == 2


def test_same_key_different_payload_is_409_conflict_with_no_effect(funded):
    assert post("redeem/", {"card_number": "CARD0001", "amount": 30}, key="pay-1").status_code == 201
    before = counts()
    for path, body in [("redeem/", {"card_number": "CARD0001", "amount": 31}),
                       ("redeem/", {"card_number": "CARD0002", "amount": 30}),
                       ("holds/", {"card_number": "CARD0001", "amount": 30})]:
        response = post(path, body, key="pay-1")
        assert response.status_code == 409
        assert response["Content-Type"] == PROBLEM
        assert response.json()["code"] == "idempotency_conflict"
        assert "Idempotency-Replayed" not in response
    assert counts() == before


def test_key_in_flight_is_retriable_409(funded):
    body = {"card_number": "CARD0001", "amount": 30}
    IdempotencyRecord.objects.create(
        scope="terminal:T-001", key="busy", state=IdempotencyState.IN_FLIGHT, created_at=timezone.now(),
        fingerprint=fingerprint({"method": "POST", "path": BASE + "redeem/", "body": body}))
    before = counts()
    response = post("redeem/", body, key="busy")
    assert response.status_code == 409
    assert response["Retry-After"] == "1"
    assert response.json()["code"] == "idempotency_in_flight"
    assert counts() == before


def test_keys_are_scoped_per_terminal(funded):
    Terminal.objects.create(merchant=funded.merchant, terminal_id="T-002", secret="u" * 32)
    body = {"card_number": "CARD0001", "amount": 30}
    one = post("redeem/", body, key="same")
    two = post("redeem/", body, key="same", terminal="T-002", secret="u" * 32)
    assert (one.status_code, two.status_code) == (201, 201)
    assert "Idempotency-Replayed" not in two
    assert (one.json()["post_balance"], two.json()["post_balance"]) == (170, 140)
    assert Redemption.objects.count() == 2
    assert sorted(IdempotencyRecord.objects.values_list("scope", "key")) == [
        ("terminal:T-001", "same"), ("terminal:T-002", "same")]


# --- member tokens ------------------------------------------------------------------------------------

def test_member_token_pays_like_the_card(funded):
    token = issue_member_token(funded.members[0], timezone.now())
    verify = post("member-tokens/verify/", {"member_token": token}, key="v1")
    assert verify.status_code == 200
    assert verify.json() == {"valid": True, "spendable": 200, "replayed": False}
    response = post("redeem/", {"member_token": token, "amount": 25}, key="t1")
    assert response.status_code == 201
    assert response.json()["post_balance"] == 175
    assert Redemption.objects.get().member_id == funded.members[0].pk


def test_expired_member_token_is_refused(funded):
    token = issue_member_token(funded.members[0], timezone.now() - dt.timedelta(seconds=121))
    before = counts()
    response = post("redeem/", {"member_token": token, "amount": 25}, key="t1")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_member_token"
    assert counts()[:4] == before[:4]


def test_forged_member_token_is_refused(funded):
    token = issue_member_token(funded.members[0], timezone.now())
    member_id, rest = token.split(".", 1)
    forged = f"{funded.members[1].pk}.{rest}"
    before = counts()
    for key, value in [("f1", forged), ("f2", token[:-1] + ("A" if token[-1] != "A" else "B")), ("f3", "garbage")]:
        response = post("member-tokens/verify/", {"member_token": value}, key=key)
        assert (response.status_code, response.json()["code"]) == (400, "invalid_member_token")
        response = post("holds/", {"member_token": value, "amount": 5}, key=key + "h")
        assert (response.status_code, response.json()["code"]) == (400, "invalid_member_token")
    assert counts()[:4] == before[:4]


def test_member_token_valid_for_120_seconds_exclusive(funded):
    issued = timezone.now().replace(microsecond=0)
    token = issue_member_token(funded.members[0], issued)
    assert read_member_token(token, issued).pk == funded.members[0].pk
    assert read_member_token(token, issued + dt.timedelta(seconds=119, microseconds=999_999)).pk == \
        funded.members[0].pk
    with pytest.raises(InvalidInput) as caught:
        read_member_token(token, issued + dt.timedelta(seconds=120))
    assert caught.value.code == "invalid_member_token"
    assert issue_member_token(funded.members[0], issued) != token  # a fresh nonce each time


# --- rate limit and schema --------------------------------------------------------------------------

def test_terminal_rate_limit_is_per_terminal(funded, settings):
    settings.POINTS_TERMINAL_RATE = "2/min"
    Terminal.objects.create(merchant=funded.merchant, terminal_id="T-002", secret="u" * 32)
    path = BASE + "balance/?card_number=CARD0001"
    assert [send("GET", path).status_code for _ in range(2)] == [200, 200]
    limited = send("GET", path)
    assert limited.status_code == 429
    assert limited["Content-Type"] == PROBLEM
    assert 1 <= int(limited["Retry-After"]) <= 61
    assert send("GET", path, terminal="T-002", secret="u" * 32).status_code == 200


def test_openapi_describes_the_terminal_api(api_client_for, city_admin):
    schema = api_client_for(city_admin).get("/api/schema/", {"format": "json"}).json()
    for path in ("holds/", "holds/{hold_id}/capture/", "holds/{hold_id}/void/", "redeem/",
                 "redemptions/{redemption_id}/refunds/", "balance/", "member-tokens/verify/"):
        assert "/api/points/terminal/" + path in schema["paths"]
    redeem = schema["paths"]["/api/points/terminal/redeem/"]["post"]
    assert redeem["security"] == [{"terminalSignature": []}]
    assert [(p["name"], p["in"], p["required"]) for p in redeem["parameters"]] == [
        ("Idempotency-Key", "header", True)]
    assert sorted(redeem["responses"]) == ["201", "400", "401", "404", "409", "429"]
    assert schema["components"]["securitySchemes"]["terminalSignature"]["name"] == "X-Signature"
