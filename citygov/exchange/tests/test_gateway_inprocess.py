"""Gateway behaviour that needs a look inside: configuration refresh, fail-closed message log, and the
provider's header checks. Gateways run in threads here (real sockets, real mutual TLS)."""

from __future__ import annotations

import base64
import http.client
import io
import json
import ssl
import uuid

import pytest
from django.core.management import call_command

from citygov.exchange.engine.conf import ConfError
from citygov.exchange.engine.gateway import Gateway, GatewaySettings
from citygov.exchange.engine.identifiers import MemberId
from citygov.exchange.tests import support

RIGHTS = [{"service": "TYC/GOV/A002/HR/persons", "client": "TYC/GOV/A001/APP", "not_after": None, "grant": None}]


def _settings(world, code: str, **extra) -> GatewaySettings:
    keys = world.keys(code)
    return GatewaySettings(
        member=MemberId.parse(f"TYC/GOV/{code}"), listen=("127.0.0.1", 0),
        listen_tls=("127.0.0.1", world.members[code]["port"]), conf_source=str(world.conf),
        anchor_pem=world.anchor.read_bytes(), cert_pem=(keys / "cert.pem").read_bytes(),
        key_pem=(keys / "key.pem").read_bytes(), signing_key_pem=(keys / "sign.key.pem").read_bytes(),
        log_path=keys / "messages.jsonl", refresh_seconds=3600, **extra)


@pytest.fixture
def pair(tmp_path):
    world = support.make_world(tmp_path, ["A001", "A002"], rights=RIGHTS, extra_services={"A002": ["persons"]})
    backend = support.start_backend()
    provider = Gateway(_settings(world, "A002", backends={
        "HR/persons": f"http://127.0.0.1:{backend.server_address[1]}/svc/persons"}))
    consumer = Gateway(_settings(world, "A001"))
    provider.start()
    consumer.start()
    yield world, consumer, provider
    consumer.stop()
    provider.stop()
    backend.shutdown()


def _call(gateway: Gateway, path: str = "/r1/TYC/GOV/A002/HR/persons/1"):
    port = gateway.consumer_server.server_address[1]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"X-Road-Client": "TYC/GOV/A001/APP"})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, response.getheader("X-Road-Error"), body


def test_refresh_takes_a_good_configuration_and_refuses_a_forged_one(pair):
    world, consumer, provider = pair
    assert _call(consumer)[0] == 200
    # A new signed configuration without the access right is taken.
    support.write_conf(world, rights=[], extra_services={"A002": ["persons"]})
    assert provider.refresh() is True
    assert _call(consumer)[:2] == (403, "Server.ServerProxy.AccessDenied")
    # A forged one (right added back, signature no longer matching) is refused; the current one stays.
    document = json.loads(world.conf.read_bytes())
    document["configuration"]["access_rights"] = RIGHTS
    world.conf.write_text(json.dumps(document))
    assert provider.refresh() is False
    assert _call(consumer)[:2] == (403, "Server.ServerProxy.AccessDenied")


def test_gateway_refuses_traffic_when_the_message_log_cannot_be_written(pair):
    _world, consumer, _provider = pair
    assert _call(consumer)[0] == 200
    consumer.log._fh.close()  # stands for a full disk or a vanished volume
    status, error, body = _call(consumer)
    assert (status, error) == (500, "Server.ClientProxy.MessageLogFailed")
    assert b"persons" not in body
    # It stays closed: nothing passes until the gateway is restarted with a writable log.
    assert _call(consumer)[:2] == (500, "Server.ClientProxy.MessageLogFailed")


def test_expired_configuration_stops_traffic(pair):
    world, consumer, _provider = pair
    support.write_conf(world, rights=RIGHTS, extra_services={"A002": ["persons"]}, hours=24)
    consumer.conf = consumer.conf.__class__(**{**consumer.conf.__dict__,
                                               "expires_at": consumer.conf.generated_at})
    assert _call(consumer)[:2] == (503, "Server.ClientProxy.OutdatedGlobalConf")


def test_provider_refuses_a_client_of_another_member_than_the_certificate(pair):
    world, _consumer, _provider = pair
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(cadata=world.ca.cert_pem.decode())
    ctx.load_cert_chain(world.keys("A001") / "cert.pem", world.keys("A001") / "key.pem")
    conn = http.client.HTTPSConnection("127.0.0.1", world.members["A002"]["port"], context=ctx, timeout=10)
    conn.request("GET", "/r1/TYC/GOV/A002/HR/persons/1", headers={
        "X-Road-Client": "TYC/GOV/A002/APP", "X-Road-Service": "TYC/GOV/A002/HR/persons",
        "X-Road-Id": str(uuid.uuid4())})
    response = conn.getresponse()
    assert (response.status, response.getheader("X-Road-Error")) == (403, "Server.ServerProxy.InvalidClient")
    conn.close()


def test_a_gateway_whose_member_is_not_in_the_configuration_does_not_start(tmp_path):
    world = support.make_world(tmp_path, ["A001"])
    settings = _settings(world, "A001")
    with pytest.raises(ConfError, match="not in the configuration"):
        Gateway(GatewaySettings(**{**settings.__dict__, "member": MemberId.parse("TYC/GOV/ZZZ")}))


def test_payloads_are_stored_encrypted_only_for_services_that_ask(tmp_path):
    from citygov.exchange.engine.messagelog import PayloadError, open_payload, read_log

    rights = RIGHTS + [{"service": "TYC/GOV/A002/HR/vault", "client": "TYC/GOV/A001/APP", "not_after": None,
                        "grant": None}]
    world = support.make_world(tmp_path, ["A001", "A002"], rights=rights,
                               extra_services={"A002": ["persons", "vault"]})
    backend = support.start_backend()
    base = f"http://127.0.0.1:{backend.server_address[1]}/svc"
    key = bytes(range(32))
    provider = Gateway(_settings(world, "A002", payload_key=key,
                                 backends={"HR/persons": f"{base}/persons", "HR/vault": f"{base}/vault"}))
    consumer = Gateway(_settings(world, "A001"))
    provider.start()
    consumer.start()
    try:
        status, _, body = _call(consumer, "/r1/TYC/GOV/A002/HR/vault/7")
        assert status == 200
        assert _call(consumer)[0] == 200
    finally:
        consumer.stop()
        provider.stop()
    records = [r for _n, r, _raw in read_log(world.keys("A002") / "messages.jsonl")]
    vault, persons = records
    assert persons["payload"] == ""
    assert b"/svc/vault/7" not in (world.keys("A002") / "messages.jsonl").read_bytes()
    assert open_payload(key, vault["x_road_id"], vault["payload"]) == (b"", body)
    with pytest.raises(PayloadError):
        open_payload(bytes(32), vault["x_road_id"], vault["payload"])
    with pytest.raises(PayloadError):
        open_payload(key, "another-id", vault["payload"])
    (world.keys("A002") / "payload.key").write_bytes(base64.b64encode(key))
    out = io.StringIO()
    call_command("exchange", "read-payload", str(world.keys("A002") / "messages.jsonl"), "--x-road-id",
                 vault["x_road_id"], "--keys", str(world.keys("A002")), stdout=out)
    assert json.loads(out.getvalue())["response"] == body.decode()
    # A provider without a payload key refuses such a service rather than log nothing.
    provider = Gateway(_settings(world, "A002", backends={"HR/vault": f"{base}/vault"}))
    consumer = Gateway(_settings(world, "A001"))
    provider.start()
    consumer.start()
    try:
        assert _call(consumer, "/r1/TYC/GOV/A002/HR/vault/7")[:2] == (502, "Server.ServerProxy.ServiceNotConfigured")
    finally:
        consumer.stop()
        provider.stop()
        backend.shutdown()


def test_replay_protection_survives_a_restart(pair):
    world, _consumer, provider = pair
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(cadata=world.ca.cert_pem.decode())
    ctx.load_cert_chain(world.keys("A001") / "cert.pem", world.keys("A001") / "key.pem")
    headers = {"X-Road-Client": "TYC/GOV/A001/APP", "X-Road-Service": "TYC/GOV/A002/HR/persons",
               "X-Road-Id": str(uuid.uuid4())}

    def send():
        conn = http.client.HTTPSConnection("127.0.0.1", world.members["A002"]["port"], context=ctx, timeout=10)
        conn.request("GET", "/r1/TYC/GOV/A002/HR/persons/1", headers=headers)
        response = conn.getresponse()
        response.read()
        conn.close()
        return response.status, response.getheader("X-Road-Error")

    assert send() == (200, None)
    provider.stop()
    restarted = Gateway(provider.settings)
    restarted.start()
    try:
        assert send() == (409, "Server.ServerProxy.DuplicateMessageId")
    finally:
        restarted.stop()


def test_a_refused_request_with_an_unread_body_does_not_poison_the_connection(pair):
    _world, consumer, _provider = pair
    conn = http.client.HTTPConnection("127.0.0.1", consumer.consumer_server.server_address[1], timeout=10)
    conn.request("POST", "/r1/TYC/GOV/A002/HR/persons", body=b"GET /r1/x HTTP/1.1\r\n\r\n",
                 headers={"X-Road-Client": "TYC/GOV/A001/NOPE"})
    response = conn.getresponse()
    response.read()
    assert (response.status, response.getheader("X-Road-Error")) == (403, "Client.UnknownClient")
    assert response.getheader("Connection") == "close"
    conn.close()
    # Keep-alive is kept when nothing is left unread.
    conn = http.client.HTTPConnection("127.0.0.1", consumer.consumer_server.server_address[1], timeout=10)
    for _ in range(2):
        conn.request("GET", "/r1/TYC/GOV/A002/HR/persons/1", headers={"X-Road-Client": "TYC/GOV/A001/APP"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200
    conn.close()


def test_configuration_is_downloaded_over_http_without_following_redirects(tmp_path):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from citygov.exchange.engine.gateway import fetch_configuration

    document = b'{"configuration": {}}'

    class Registry(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # noqa: A002
            pass

        def do_GET(self):
            if self.path == "/conf":
                self.send_response(200)
                self.send_header("Content-Length", str(len(document)))
                self.end_headers()
                self.wfile.write(document)
            else:
                self.send_response(302)
                self.send_header("Location", "/conf")
                self.send_header("Content-Length", "0")
                self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert fetch_configuration(f"{base}/conf") == document
        with pytest.raises(ConfError, match="HTTP 302"):
            fetch_configuration(f"{base}/elsewhere")
        with pytest.raises(ConfError, match="cannot read"):
            fetch_configuration(str(tmp_path / "missing.json"))
    finally:
        server.shutdown()


def _raw(gateway: Gateway, data: bytes) -> bytes:
    import socket

    with socket.create_connection(("127.0.0.1", gateway.consumer_server.server_address[1]), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def test_the_lean_header_parser_serves_the_same_calls_and_refuses_malformed_headers(pair):
    _world, consumer, provider = pair
    # Repeated and folded headers, keep-alive: two calls on one connection both pass the request hash.
    port = consumer.consumer_server.server_address[1]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for _ in range(2):
        conn.putrequest("POST", "/r1/TYC/GOV/A002/HR/persons/7?x=1")
        conn.putheader("x-road-client", "TYC/GOV/A001/APP")
        conn.putheader("X-Note", "first", "second")  # folded onto two lines by http.client
        conn.putheader("Content-Length", "2")
        conn.endheaders(b"{}")
        response = conn.getresponse()
        echoed = json.loads(response.read())
        assert (response.status, echoed["path"], echoed["body"], echoed["client"]) == (
            200, "/svc/persons/7?x=1", "{}", "TYC/GOV/A001/APP")
        assert response.getheader("X-Road-Request-Hash") and response.getheader("X-Road-Id")
    conn.close()
    records_before = consumer.log._seq
    # A header line without a colon, a name with a space, and too many header lines are refused by the
    # HTTP layer before the gateway sees them: nothing is forwarded or logged.
    for raw, status in ((b"GET /r1/TYC/GOV/A002/HR/persons/1 HTTP/1.1\r\nX-Road-Client TYC\r\n\r\n", b" 400 "),
                        (b"GET /r1/TYC/GOV/A002/HR/persons/1 HTTP/1.1\r\nBad Name: x\r\n\r\n", b" 400 "),
                        (b"GET /r1/TYC/GOV/A002/HR/persons/1 HTTP/1.1\r\n"
                         + b"".join(b"X-%d: y\r\n" % i for i in range(101)) + b"\r\n", b" 400 "),
                        (b"GET /r1/TYC/GOV/A002/HR/persons/1 HTTP/1.1\r\nX-Long: " + b"y" * 70000 + b"\r\n\r\n",
                         b" 431 "),
                        (b"GET /r1/TYC/GOV/A002/HR/persons/1 HTTP/2.0\r\n\r\n", b" 505 "),
                        (b"GET /r1/TYC/GOV/A002/HR/persons/1 HTTX/1.1\r\n\r\n", b" 400 ")):
        answer = _raw(consumer, raw)
        assert answer.split(b"\r\n", 1)[0].startswith(b"HTTP/1.1" + status.rstrip()), answer[:80]
    assert consumer.log._seq == records_before
    assert provider.log._seq == records_before


def test_the_same_connection_carries_a_call_after_a_refused_one(pair):
    _world, consumer, _provider = pair
    port = consumer.consumer_server.server_address[1]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/r1/TYC/GOV/A002/HR/persons/1", headers={"X-Road-Client": "TYC/GOV/A001/NOPE"})
    response = conn.getresponse()
    response.read()
    assert (response.status, response.getheader("X-Road-Error")) == (403, "Client.UnknownClient")
    conn.request("GET", "/r1/TYC/GOV/A002/HR/persons/1", headers={"X-Road-Client": "TYC/GOV/A001/APP"})
    response = conn.getresponse()
    assert (response.status, json.loads(response.read())["path"]) == (200, "/svc/persons/1")
    conn.close()
