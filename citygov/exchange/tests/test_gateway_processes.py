"""Gateways as real processes on loopback, with mutual TLS between them and certificates from a test CA.

A001 consumes, A002 provides HR/persons (allowed), HR/slow (allowed, too slow), HR/expired (grant ended),
HR/secret (no access right); A003's certificate is revoked; A004 is a fake provider gateway (a thread with
a valid certificate) that tampers with the request hash. A002 time-stamps its log at the city's TSA (a
process too).
"""

from __future__ import annotations

import datetime as dt
import http.client
import io
import json
import os
import shutil
import ssl
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import CommandError, call_command

from citygov.exchange.engine.hashing import request_hash
from citygov.exchange.tests import support

PAST = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()


def _right(service: str, client: str, not_after: str | None = None) -> dict:
    return {"service": service, "client": client, "not_after": not_after, "grant": "DG-1" if not_after else None}


RIGHTS = [
    _right("TYC/GOV/A002/HR/persons", "TYC/GOV/A001/APP"),
    _right("TYC/GOV/A002/HR/slow", "TYC/GOV/A001/APP"),
    _right("TYC/GOV/A002/HR/expired", "TYC/GOV/A001/APP", PAST),
    _right("TYC/GOV/A002/HR/persons", "TYC/GOV/A003/APP"),
    _right("TYC/GOV/A004/HR/persons", "TYC/GOV/A001/APP"),
]


class _Tamperer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002
        pass

    def do_GET(self):
        body = b'{"ok": true}'
        self.send_response(200)
        for name in ("X-Road-Client", "X-Road-Service", "X-Road-Id", "X-Road-Request-Id"):
            self.send_header(name, self.headers.get(name, ""))
        self.send_header("X-Road-Request-Hash", "dGFtcGVyZWQ=")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("exchange-world")
    w = support.make_world(root, ["A001", "A002", "A003", "A004"], revoked=("A003",), rights=RIGHTS,
                           extra_services={"A002": ["persons", "slow", "expired", "secret"], "A004": ["persons"]})
    backend = support.start_backend()
    base = f"http://127.0.0.1:{backend.server_address[1]}/svc"
    # The fake provider gateway A004: valid certificate, mutual TLS, but a wrong request hash.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(w.keys("A004") / "cert.pem", w.keys("A004") / "key.pem")
    tamperer = ThreadingHTTPServer(("127.0.0.1", w.members["A004"]["port"]), _Tamperer)
    tamperer.socket = ctx.wrap_socket(tamperer.socket, server_side=True)
    threading.Thread(target=tamperer.serve_forever, daemon=True).start()
    tsa, tsa_url = support.spawn_tsa(w, root / "var")
    procs = {
        "TSA": (tsa, 0),
        "A002": support.spawn_gateway(w, "A002", timeout=1.0, env_dir=root / "var",
                                      backends=[f"HR/{s}={base}/{s}" for s in ("persons", "slow", "expired", "secret")],
                                      extra=["--tsa", tsa_url, "--timestamp-interval", "0.3"]),
        "A001": support.spawn_gateway(w, "A001", env_dir=root / "var"),
        "A003": support.spawn_gateway(w, "A003", env_dir=root / "var"),
    }
    try:
        for proc, _port in procs.values():
            support.wait_ready(proc)
        w.ports = {code: port for code, (_proc, port) in procs.items()}
        yield w
    finally:
        support.stop(*(proc for proc, _port in procs.values()))
        tamperer.shutdown()
        backend.shutdown()


def call(port: int, method: str, path: str, *, client: str = "TYC/GOV/A001/APP", body: bytes = b"",
         headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request(method, path, body=body, headers={"X-Road-Client": client, **(headers or {})})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def test_permitted_call_succeeds_with_verified_request_hash(world):
    path = "/r1/TYC/GOV/A002/HR/persons/42?full=1"
    status, headers, body = call(world.ports["A001"], "POST", path, body=b'{"q": 1}',
                                 headers={"Content-Type": "application/json", "X-Road-Request-Id": "req-1",
                                          "Connection": "keep-alive, X-Secret", "X-Secret": "hop"})
    assert status == 200
    data = json.loads(body)
    assert data["path"] == "/svc/persons/42?full=1"
    assert data["method"] == "POST"
    assert data["body"] == '{"q": 1}'
    assert data["client"] == "TYC/GOV/A001/APP"
    assert headers["x-road-client"] == "TYC/GOV/A001/APP"
    assert headers["x-road-service"] == "TYC/GOV/A002/HR/persons"
    assert headers["x-road-request-id"] == "req-1"
    assert uuid.UUID(headers["x-road-id"])
    sent = {"X-Road-Client": headers["x-road-client"], "X-Road-Service": headers["x-road-service"],
            "X-Road-Id": headers["x-road-id"], "X-Road-Request-Id": "req-1"}
    assert headers["x-road-request-hash"] == request_hash("POST", path, sent, b'{"q": 1}')
    assert "x-road-error" not in headers


def _error(result) -> tuple[int, str, dict]:
    status, headers, body = result
    return status, headers.get("x-road-error", ""), json.loads(body)


def test_unknown_client_is_refused_by_the_consumer_gateway(world):
    status, code, body = _error(call(world.ports["A001"], "GET", "/r1/TYC/GOV/A002/HR/persons/1",
                                     client="TYC/GOV/A001/NOPE"))
    assert (status, code) == (403, "Client.UnknownClient")
    assert body["type"] == "Client.UnknownClient"
    # A subsystem of another member cannot use A001's gateway either.
    status, code, _ = _error(call(world.ports["A001"], "GET", "/r1/TYC/GOV/A002/HR/persons/1",
                                  client="TYC/GOV/A002/APP"))
    assert (status, code) == (403, "Client.UnknownClient")
    status, code, _ = _error(call(world.ports["A001"], "GET", "/r1/TYC/GOV/A002/HR/persons/1", client="bad"))
    assert (status, code) == (400, "Client.InvalidClientId")


def test_revoked_certificate_is_refused_by_the_provider_gateway(world):
    status, code, _ = _error(call(world.ports["A003"], "GET", "/r1/TYC/GOV/A002/HR/persons/1",
                                  client="TYC/GOV/A003/APP"))
    assert (status, code) == (403, "Server.ServerProxy.SslAuthenticationFailed")


def test_missing_access_right_is_denied(world):
    status, code, _ = _error(call(world.ports["A001"], "GET", "/r1/TYC/GOV/A002/HR/secret"))
    assert (status, code) == (403, "Server.ServerProxy.AccessDenied")


def test_expired_sharing_grant_is_refused(world):
    status, code, _ = _error(call(world.ports["A001"], "GET", "/r1/TYC/GOV/A002/HR/expired"))
    assert (status, code) == (403, "Server.ServerProxy.GrantExpired")


def test_tampered_request_hash_is_detected_by_the_consumer_gateway(world):
    status, code, _ = _error(call(world.ports["A001"], "GET", "/r1/TYC/GOV/A004/HR/persons/1"))
    assert (status, code) == (502, "Server.ClientProxy.InvalidRequestHash")


def test_timed_out_provider_service(world):
    status, code, _ = _error(call(world.ports["A001"], "GET", "/r1/TYC/GOV/A002/HR/slow"))
    assert (status, code) == (504, "Server.ServerProxy.ServiceTimeout")


def test_unknown_service_and_oversized_body(world):
    status, code, _ = _error(call(world.ports["A001"], "GET", "/r1/TYC/GOV/A002/HR/nothing"))
    assert (status, code) == (404, "Client.UnknownService")
    # The gateway answers from the declared length, before reading (or buffering) the body.
    conn = http.client.HTTPConnection("127.0.0.1", world.ports["A001"], timeout=15)
    conn.putrequest("POST", "/r1/TYC/GOV/A002/HR/persons")
    conn.putheader("X-Road-Client", "TYC/GOV/A001/APP")
    conn.putheader("Content-Length", str(10 * 1024 * 1024 + 1))
    conn.endheaders()
    response = conn.getresponse()
    assert (response.status, response.getheader("X-Road-Error")) == (413, "Client.BodyTooLarge")
    conn.close()


def test_redirects_are_not_followed(world):
    status, headers, _ = call(world.ports["A001"], "GET", "/r1/TYC/GOV/A002/HR/persons/../redirect")
    # The path segment after the service is passed on as is; the backend's 302 comes back unfollowed.
    assert status in (200, 302)
    assert headers.get("location", "http://example.invalid/") == "http://example.invalid/"


def test_replayed_x_road_id_is_refused(world):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(cadata=world.ca.cert_pem.decode())
    ctx.load_cert_chain(world.keys("A001") / "cert.pem", world.keys("A001") / "key.pem")
    x_road_id = str(uuid.uuid4())
    headers = {"X-Road-Client": "TYC/GOV/A001/APP", "X-Road-Service": "TYC/GOV/A002/HR/persons",
               "X-Road-Id": x_road_id, "X-Road-Request-Id": "r"}
    results = []
    for _ in range(2):
        conn = http.client.HTTPSConnection("127.0.0.1", world.members["A002"]["port"], context=ctx, timeout=10)
        conn.request("GET", "/r1/TYC/GOV/A002/HR/persons/1", headers=headers)
        response = conn.getresponse()
        results.append((response.status, response.getheader("X-Road-Error")))
        response.read()
        conn.close()
    assert results == [(200, None), (409, "Server.ServerProxy.DuplicateMessageId")]


def test_metadata_services(world):
    status, _, body = call(world.ports["A001"], "GET", "/r1/TYC/GOV/A002/HR/listMethods")
    assert status == 200
    assert [s["service_code"] for s in json.loads(body)["service"]] == ["expired", "persons", "secret", "slow"]
    status, _, body = call(world.ports["A001"], "GET", "/r1/TYC/GOV/A002/HR/allowedMethods")
    assert [s["service_code"] for s in json.loads(body)["service"]] == ["persons", "slow"]
    status, _, body = call(world.ports["A001"], "GET", "/r1/TYC/GOV/A002/HR/getOpenAPI?serviceCode=persons")
    assert (status, json.loads(body)) == (200, support.OPENAPI)
    status, code, _ = _error(call(world.ports["A001"], "GET", "/r1/TYC/GOV/A002/HR/getOpenAPI?serviceCode=secret"))
    assert (status, code) == (403, "Server.ServerProxy.AccessDenied")


def test_message_log_verifies_and_a_broken_chain_is_detected(world, tmp_path):
    call(world.ports["A001"], "GET", "/r1/TYC/GOV/A002/HR/persons/7")
    log = world.keys("A002") / "messages.jsonl"
    key = world.keys("A002") / "sign.pub.pem"
    deadline = time.monotonic() + 20  # the gateway stamps its log every 0.3 s: wait for that condition
    while time.monotonic() < deadline and '"timestamp"' not in log.read_text():
        time.sleep(0.1)
    ca_pem = world.root / "ca.pem"
    ca_pem.write_bytes(world.ca.cert_pem)
    out = io.StringIO()
    call_command("exchange", "verify-log", str(log), "--key", str(key), "--tsa-ca", str(ca_pem), "--format", "jsonl",
                 stdout=out)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["ok"] is True
    assert summary["records"] >= 2
    assert summary["timestamps"] >= 1 and summary["timestamps_verified"] is True
    assert 1 <= summary["stamped_through_seq"] <= summary["last_seq"]
    lines = log.read_text().splitlines()
    assert all(json.loads(line).get("payload", "") == "" and "svc/persons" not in line for line in lines)
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join(lines[:1] + lines[2:]) + "\n")  # one record deleted
    out = io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("exchange", "verify-log", str(broken), "--key", str(key), "--format", "jsonl", stdout=out)
    assert failure.value.returncode == 1
    first = json.loads(out.getvalue().splitlines()[0])
    assert first["line"] == 2
    assert "sequence" in first["problem"]


def test_gateway_with_a_bad_configuration_signature_refuses_to_start(world, tmp_path):
    document = json.loads(world.conf.read_bytes())
    document["configuration"]["access_rights"].append(
        {"service": "TYC/GOV/A002/HR/secret", "client": "TYC/GOV/A001/APP", "not_after": None, "grant": None})
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(document))
    copy = tmp_path / "keys"
    shutil.copytree(world.keys("A001"), copy)
    world.members["TMP"] = {"keys": copy, "port": support.free_port(), "cert": world.members["A001"]["cert"]}
    try:
        cmd = support.gateway_command(world, "TMP", support.free_port(), conf=forged)
    finally:
        del world.members["TMP"]
    cmd[cmd.index("--member") + 1] = "TYC/GOV/A001"
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "CITYGOV_VAR_DIR": str(tmp_path / "var")})
    assert result.returncode == 1
    assert "signature does not verify" in result.stderr
    assert result.stdout == ""
