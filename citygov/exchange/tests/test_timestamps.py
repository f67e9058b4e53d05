"""Time stamps over message-log batches: the city's TSA issues signed tokens (RFC 3161 in spirit), gateways
stamp their newest record periodically, ``verify-log --tsa-ca`` verifies them; a gateway whose log cannot
be stamped for too long refuses traffic. The same with real processes (``citygov exchange tsa`` and a
gateway with ``--tsa``) is in test_gateway_processes.py."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import threading
import time

import pytest

from citygov.exchange.engine import ca
from citygov.exchange.engine.gateway import Gateway, GatewaySettings, free_port
from citygov.exchange.engine.identifiers import MemberId
from citygov.exchange.engine.messagelog import Exchange, MessageLog, verify_log_detail
from citygov.exchange.engine.timestamp import TimeStampAuthority, TimestampError, serve_tsa, verify_token
from citygov.exchange.tests import support

NOW = dt.datetime.now(dt.UTC)
RIGHTS = [{"service": "TYC/GOV/A002/HR/persons", "client": "TYC/GOV/A001/APP", "not_after": None, "grant": None}]


@pytest.fixture(scope="module")
def city():
    """A city CA and a TSA certificate it issued."""
    root = ca.new_ca("test CA", now=NOW)
    tsa_cert = ca.issue_tsa_certificate(root.key_pem, root.cert_pem, "test TSA", now=NOW)
    return root, TimeStampAuthority(tsa_cert.key_pem, tsa_cert.cert_pem)


def test_tsa_token_verifies_and_refuses_tampering_other_cas_and_non_tsa_certificates(city):
    root, tsa = city
    digest = "ab" * 32
    token = tsa.stamp(digest, "nonce-123")
    assert verify_token(token, digest, root.cert_pem, nonce="nonce-123") == dt.datetime.fromisoformat(
        token["tst_info"]["gen_time"])
    with pytest.raises(TimestampError, match="another hash"):
        verify_token(token, "cd" * 32, root.cert_pem)
    with pytest.raises(TimestampError, match="another request"):
        verify_token(token, digest, root.cert_pem, nonce="nonce-999")
    forged = json.loads(json.dumps(token))
    forged["tst_info"]["gen_time"] = (NOW - dt.timedelta(minutes=1)).isoformat()  # back-dated
    with pytest.raises(TimestampError, match="signature does not verify"):
        verify_token(forged, digest, root.cert_pem)
    with pytest.raises(TimestampError, match="trusted CA"):
        verify_token(token, digest, ca.new_ca("other CA", now=NOW).cert_pem)
    # A gateway certificate of the same CA is not a time-stamping certificate.
    gw = ca.issue_gateway_certificate(root.key_pem, root.cert_pem, "TYC/GOV/A001", ["127.0.0.1"], now=NOW)
    with pytest.raises(TimestampError, match="time stamping only"):
        TimeStampAuthority(gw.key_pem, gw.cert_pem)
    for bad_digest, bad_nonce in (("xyz", "nonce-123"), (digest, "short")):
        with pytest.raises(TimestampError, match="格式錯誤"):
            tsa.stamp(bad_digest, bad_nonce)


def _exchange(n: int, when: dt.datetime = NOW) -> Exchange:
    return Exchange(when.isoformat(), "provider", f"id-{n}", "TYC/GOV/A001/APP", "TYC/GOV/A002/HR/persons",
                    "req", "resp", 200, "", n)


def test_log_batches_are_stamped_and_the_verifier_checks_every_stamp(city, tmp_path):
    root, tsa = city
    private, public = ca.new_signing_key()
    path = tmp_path / "log.jsonl"
    log = MessageLog(path, ca.load_signing_key(private))
    assert log.unstamped_head() is None
    for n in range(3):
        log.append(_exchange(n))
    seq, head = log.unstamped_head()
    log.append_timestamp(seq, head, tsa.stamp(head, "nonce-123"))
    assert log.unstamped_head() is None
    log.append(_exchange(4))
    log.close()
    pub = ca.load_signing_key(private).public_key()
    result = verify_log_detail(path, pub, tsa_ca_pem=root.cert_pem)
    assert (result.records, result.timestamps, result.stamped_through, result.last_seq, result.problems) == (
        4, 1, 3, 5, [])
    # Without the TSA's CA the stamps are checked as chain links only.
    assert verify_log_detail(path, pub).problems == []
    # A stamp over another hash, by another TSA, or covering a record dated after it, is reported.
    other_root = ca.new_ca("other", now=NOW)
    other = ca.issue_tsa_certificate(other_root.key_pem, other_root.cert_pem, "rogue TSA", now=NOW)
    rogue = TimeStampAuthority(other.key_pem, other.cert_pem)
    cases = {"wrong-hash": (lambda head: tsa.stamp("00" * 32, "nonce-123"), NOW, "another hash"),
             "rogue": (lambda head: rogue.stamp(head, "nonce-123"), NOW, "trusted CA"),
             "late": (lambda head: tsa.stamp(head, "nonce-123"), NOW + dt.timedelta(hours=1), "dated after")}
    for name, (make_token, when, expected) in cases.items():
        bad = tmp_path / f"{name}.jsonl"
        log = MessageLog(bad, ca.load_signing_key(private))
        log.append(_exchange(0, when))
        seq, head = log.unstamped_head()
        log.append_timestamp(seq, head, make_token(head))
        log.close()
        problems = verify_log_detail(bad, pub, tsa_ca_pem=root.cert_pem).problems
        assert [p.line for p in problems] == [2] and expected in problems[0].message, (name, problems)


def _gateway_settings(world, code: str, **extra) -> GatewaySettings:
    keys = world.keys(code)
    return GatewaySettings(
        member=MemberId.parse(f"TYC/GOV/{code}"), listen=("127.0.0.1", 0),
        listen_tls=("127.0.0.1", world.members[code]["port"]), conf_source=str(world.conf),
        anchor_pem=world.anchor.read_bytes(), cert_pem=(keys / "cert.pem").read_bytes(),
        key_pem=(keys / "key.pem").read_bytes(), signing_key_pem=(keys / "sign.key.pem").read_bytes(),
        log_path=keys / "messages.jsonl", refresh_seconds=3600, **extra)


def _call(port: int):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/r1/TYC/GOV/A002/HR/persons/1", headers={"X-Road-Client": "TYC/GOV/A001/APP"})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status, response.getheader("X-Road-Error")


def test_gateway_refuses_traffic_when_its_log_cannot_be_stamped_for_too_long(tmp_path):
    world = support.make_world(tmp_path, ["A001", "A002"], rights=RIGHTS, extra_services={"A002": ["persons"]})
    backend = support.start_backend()
    dead_tsa = f"http://127.0.0.1:{free_port()}/"
    provider = Gateway(_gateway_settings(world, "A002", backends={
        "HR/persons": f"http://127.0.0.1:{backend.server_address[1]}/svc/persons"}))
    consumer = Gateway(_gateway_settings(world, "A001", tsa_url=dead_tsa, timestamp_interval=3600,
                                         timestamp_max_failure=0.5))
    provider.start()
    consumer.start()
    try:
        port = consumer.consumer_server.server_address[1]
        assert _call(port) == (200, None)
        assert consumer.stamp_log() is False  # the TSA is down
        deadline = time.monotonic() + 10
        while time.monotonic() - consumer.log.unstamped_since <= 0.5 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _call(port) == (503, "Server.ClientProxy.TimestampFailed")
        # The TSA is back: one stamp and traffic flows again.
        tsa_cert = ca.issue_tsa_certificate(world.ca.key_pem, world.ca.cert_pem, "TSA", now=NOW)
        stop = threading.Event()
        ready: list[str] = []
        threading.Thread(target=serve_tsa, args=(TimeStampAuthority(tsa_cert.key_pem, tsa_cert.cert_pem),
                                                 ("127.0.0.1", 0)),
                         kwargs={"ready": ready.append, "stop": stop}, daemon=True).start()
        while not ready and time.monotonic() < deadline:
            time.sleep(0.05)
        consumer.settings = GatewaySettings(**{**consumer.settings.__dict__, "tsa_url": f"http://{ready[0]}/"})
        assert consumer.stamp_log() is True
        assert _call(port) == (200, None)
        stop.set()
    finally:
        consumer.stop()
        provider.stop()
        backend.shutdown()
