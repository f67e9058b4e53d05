"""Live sharing grants: the provider gateway asks the registry, which asks the data-governance module
(through the dotted-name setting, no import), on every call under a grant.

The end-to-end test runs the registry (Django's live server), two gateway processes with mutual TLS and a
provider service on loopback; a grant expired or rejected in data governance makes the next call fail with
``Server.ServerProxy.GrantExpired`` without a new configuration.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from django.apps import apps
from django.core.management import call_command
from django.utils import timezone

from citygov.config import ConfigError, environment, exchange_settings
from citygov.exchange import services
from citygov.exchange.engine import ca as ca_engine
from citygov.exchange.engine.conf import AccessRight, load_public_key, verify_configuration
from citygov.exchange.engine.gateway import free_port
from citygov.exchange.engine.grants import (
    GrantCheckError,
    RegistryGrantChecker,
    sign_grant_status,
    verify_grant_status,
)
from citygov.exchange.engine.identifiers import ClientId, ServiceId
from citygov.exchange.tests import support

NOW = dt.datetime(2026, 3, 1, 4, 0, tzinfo=dt.UTC)
lookups_seen: list[tuple] = []


def recording_lookup(dataset_id: int, agency_id: int, on: dt.date) -> bool:
    """A stand-in grant look-up named by dotted path in the tests."""
    lookups_seen.append((dataset_id, agency_id, on))
    return dataset_id == 7


# --- configuration ---------------------------------------------------------------------------------------
def test_exchange_settings_defaults_and_validation():
    conf = exchange_settings(environment({}))
    assert (conf.instance, conf.member_classes, conf.grant_lookup, conf.grant_check_url) == (
        "TYC", ("GOV", "COM", "NGO"), "citygov.datagov.queries.sharing_grant_is_current", "")
    conf = exchange_settings(environment({"CITYGOV_EXCHANGE_INSTANCE": "TW", "CITYGOV_EXCHANGE_MEMBER_CLASSES":
                                          "GOV, NGO", "CITYGOV_EXCHANGE_GRANT_LOOKUP": "none",
                                          "CITYGOV_EXCHANGE_GRANT_CHECK_URL": "http://reg.example:8000/g/"}))
    assert (conf.instance, conf.member_classes, conf.grant_lookup, conf.grant_check_url) == (
        "TW", ("GOV", "NGO"), "", "http://reg.example:8000/g/")
    assert conf.sharing_requests == "citygov.datagov.queries.sharing_for"
    for bad in ({"CITYGOV_EXCHANGE_INSTANCE": "T/W"}, {"CITYGOV_EXCHANGE_MEMBER_CLASSES": "GOV,GOV"},
                {"CITYGOV_EXCHANGE_GRANT_LOOKUP": "not a name"}, {"CITYGOV_EXCHANGE_GRANT_CHECK_URL": "ftp://x/"},
                {"CITYGOV_EXCHANGE_SHARING_REQUESTS": "sharing_for"}):
        with pytest.raises(ConfigError, match="CITYGOV_EXCHANGE_.*格式|CITYGOV_EXCHANGE_.*Python|scheme"):
            exchange_settings(environment(bad))


# --- the signed grant status -----------------------------------------------------------------------------
def _status_document(key_pem: bytes, **changes) -> bytes:
    status = {"service": "TYC/GOV/A/HR/p", "client": "TYC/GOV/B/APP", "grant": "DG-1", "current": True,
              "checked_at": NOW.isoformat(), "nonce": "n0nce-123"}
    status.update(changes)
    return sign_grant_status(ca_engine.load_signing_key(key_pem), status)


def test_grant_status_verifies_only_the_answer_to_the_question_asked():
    private, public = ca_engine.new_signing_key()
    anchor = load_public_key(public)
    ask = {"service": "TYC/GOV/A/HR/p", "client": "TYC/GOV/B/APP", "nonce": "n0nce-123", "now": NOW}
    assert verify_grant_status(_status_document(private), anchor, **ask) is True
    assert verify_grant_status(_status_document(private, current=False), anchor, **ask) is False
    other_private, _ = ca_engine.new_signing_key()
    forged = json.loads(_status_document(private, current=False))
    forged["grant_status"]["current"] = True
    for document, message in ((_status_document(other_private), "signed by the registry"),
                              (json.dumps(forged).encode(), "does not verify"),
                              (_status_document(private, nonce="replayed-1"), "another request"),
                              (_status_document(private, checked_at=(NOW - dt.timedelta(minutes=5)).isoformat()),
                               "not fresh"),
                              (b"<html>", "unreadable")):
        with pytest.raises(GrantCheckError, match=message):
            verify_grant_status(document, anchor, **ask)


def test_unreachable_registry_is_a_grant_check_error():
    _, public = ca_engine.new_signing_key()
    checker = RegistryGrantChecker(f"http://127.0.0.1:{free_port()}/api/exchange/grant-status/",
                                   load_public_key(public), timeout=2)
    right = AccessRight(ServiceId.parse("TYC/GOV/A/HR/p"), ClientId.parse("TYC/GOV/B/APP"), None, "DG-1")
    with pytest.raises(GrantCheckError, match="cannot ask the registry"):
        checker(right)


# --- the registry side -----------------------------------------------------------------------------------
def test_grant_lookup_is_resolved_from_the_dotted_setting(settings, registry, city_admin):
    settings.EXCHANGE = type(settings.EXCHANGE)(**{**settings.EXCHANGE.__dict__,
                                                   "grant_lookup": f"{__name__}.recording_lookup"})
    lookups_seen.clear()
    right = registry["right"]
    assert services.sharing_grant_is_current(right, now=NOW) is True  # no dataset: no look-up
    right.grant_dataset = 7
    assert services.sharing_grant_is_current(right, now=NOW) is True
    right.grant_dataset = 8
    assert services.sharing_grant_is_current(right, now=NOW) is False
    assert lookups_seen == [(7, registry["b"].agency_id, dt.date(2026, 3, 1)), (8, registry["b"].agency_id,
                                                                          dt.date(2026, 3, 1))]
    # A grant the look-up no longer confirms is published as ended now.
    right.save(update_fields=["grant_dataset"])  # setup
    payload = services.configuration_payload([b""], now=NOW)
    assert payload["access_rights"][0]["not_after"] == NOW.isoformat()


def test_grant_access_refuses_a_bad_dataset_id_and_changes_nothing(registry, city_admin):
    from citygov.core.errors import InvalidInput
    from citygov.exchange.models import AccessRight as Right

    before = Right.objects.count()
    with pytest.raises(InvalidInput):
        services.do_grant_access(city_admin, registry["persons"].pk, registry["hr"].pk, grant_dataset=-3)
    assert Right.objects.count() == before


def test_grant_status_endpoint_signs_a_live_answer(client, var_dir, registry, settings):
    call_command("exchange", "ca-init", stdout=open("/dev/null", "w"))  # noqa: SIM115
    anchor = load_public_key((var_dir / "exchange" / "ca" / "anchor.pem").read_bytes())
    ask = {"service": "TYC/GOV/A001/HR/persons", "client": "TYC/GOV/B001/APP", "nonce": "abcdefgh12"}
    response = client.get("/api/exchange/grant-status/", ask)
    assert response.status_code == 200
    assert verify_grant_status(response.content, anchor, now=timezone.now(), **ask) is True
    ask["client"] = "TYC/GOV/A001/HR"  # no access right
    response = client.get("/api/exchange/grant-status/", ask)
    assert verify_grant_status(response.content, anchor, now=timezone.now(), **ask) is False
    assert client.get("/api/exchange/grant-status/", {**ask, "nonce": "x"}).status_code == 400
    assert client.get("/api/exchange/grant-status/", {**ask, "client": "bad"}).status_code == 400


# --- end to end: registry + two gateway processes + datagov grant -----------------------------------------
def _gateway(tmp_path, member, keys, conf, anchor, *, backends=(), grant_check=None):
    port = free_port()
    cmd = [support.CITYGOV, "exchange", "gateway", "--member", member.identifier, "--listen", f"127.0.0.1:{port}",
           "--listen-tls", member.gateways.get().address, "--conf", str(conf), "--anchor", str(anchor),
           "--keys", str(keys), "--timeout", "5"]
    for backend in backends:
        cmd += ["--backend", backend]
    if grant_check:
        cmd += ["--grant-check", grant_check]
    env = {**os.environ, "CITYGOV_VAR_DIR": str(tmp_path / "gw-var")}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True), port


def _call(port: int, path: str):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    conn.request("GET", path, headers={"X-Road-Client": "TYC/GOV/B001/APP"})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, response.getheader("X-Road-Error"), body


def test_a_grant_ended_in_datagov_fails_the_next_call(live_server, var_dir, tmp_path, city_admin, agency_a,
                                                      agency_b):
    Dataset, SharingRequest = apps.get_model("datagov", "Dataset"), apps.get_model("datagov", "SharingRequest")
    today = timezone.localdate()
    dataset = Dataset.objects.create(source="city_portal", source_id="e2e", title="戶籍統計", agency=agency_a,
                                     content_hash="x")
    grant = SharingRequest.objects.create(
        dataset=dataset, agency=agency_a, requesting_agency=agency_b, purpose="災害應變", legal_basis="災害防救法",
        period_start=today - dt.timedelta(days=1), period_end=today + dt.timedelta(days=30), status="approved")
    call_command("exchange", "ca-init", stdout=open("/dev/null", "w"))  # noqa: SIM115
    ca_dir = var_dir / "exchange" / "ca"
    a = services.do_register_member(city_admin, agency_id=agency_a.pk, code="A001", name="A")
    b = services.do_register_member(city_admin, agency_id=agency_b.pk, code="B001", name="B")
    hr = services.do_add_subsystem(city_admin, a.pk, code="HR")
    app = services.do_add_subsystem(city_admin, b.pk, code="APP")
    persons = services.do_add_service(city_admin, hr.pk, services.ServiceInput("persons", "Persons"))
    services.do_grant_access(city_admin, persons.pk, app.pk, grant_ref=f"DG-{grant.pk}", grant_dataset=dataset.pk)
    keys = {}
    for member in (a, b):
        issued = ca_engine.issue_gateway_certificate((ca_dir / "ca.key.pem").read_bytes(),
                                                     (ca_dir / "ca.pem").read_bytes(), member.identifier,
                                                     ["127.0.0.1"], now=dt.datetime.now(dt.UTC))
        services.do_register_gateway(city_admin, member.pk, address=f"127.0.0.1:{free_port()}",
                                     cert_pem=issued.cert_pem.decode(), ca_cert_pem=(ca_dir / "ca.pem").read_bytes())
        keys[member.code] = directory = tmp_path / member.code
        directory.mkdir()
        (directory / "cert.pem").write_bytes(issued.cert_pem)
        (directory / "key.pem").write_bytes(issued.key_pem)
        (directory / "sign.key.pem").write_bytes(ca_engine.new_signing_key()[0])
    conf = tmp_path / "conf.json"
    assert services.publish_configuration_file(ca_dir, conf)
    backend = support.start_backend()
    grant_check = f"{live_server.url}/api/exchange/grant-status/"
    provider, _ = _gateway(tmp_path, a, keys["A001"], conf, ca_dir / "anchor.pem", grant_check=grant_check,
                           backends=[f"HR/persons=http://127.0.0.1:{backend.server_address[1]}/svc/persons"])
    consumer, port = _gateway(tmp_path, b, keys["B001"], conf, ca_dir / "anchor.pem")
    try:
        support.wait_ready(provider)
        support.wait_ready(consumer)
        path = "/r1/TYC/GOV/A001/HR/persons/1"
        assert _call(port, path)[:2] == (200, None)
        # The grant expires in data governance (no new configuration): the next call is refused.
        SharingRequest.objects.filter(pk=grant.pk).update(period_end=today - dt.timedelta(days=1))
        status, error, body = _call(port, path)
        assert (status, error, json.loads(body)["type"]) == (403, "Server.ServerProxy.GrantExpired",
                                                             "Server.ServerProxy.GrantExpired")
        # Renewed, then rejected (revoked): current again, then refused again.
        SharingRequest.objects.filter(pk=grant.pk).update(period_end=today + dt.timedelta(days=30))
        assert _call(port, path)[:2] == (200, None)
        SharingRequest.objects.filter(pk=grant.pk).update(status="rejected")
        assert _call(port, path)[:2] == (403, "Server.ServerProxy.GrantExpired")
        # A configuration published now carries the ended grant too (for gateways without --grant-check).
        document = services.signed_configuration((ca_dir / "registry.key.pem").read_bytes(),
                                                 [(ca_dir / "ca.pem").read_bytes()])
        right = verify_configuration(document, load_public_key((ca_dir / "anchor.pem").read_bytes())).access(
            ServiceId.parse(persons.identifier), ClientId.parse(app.identifier))
        assert right.not_after is not None and right.not_after <= dt.datetime.now(dt.UTC)
    finally:
        support.stop(provider, consumer)
        backend.shutdown()


def test_checker_keeps_connections_alive_and_caches_only_current_answers_when_asked():
    """A stub registry signs answers from a script: current, current, not current, current."""

    private, public = ca_engine.new_signing_key()
    answers, seen = [True, True, False, True, True], []

    class Registry(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # noqa: A002
            pass

        def do_GET(self):
            q = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            seen.append(self.client_address[1])
            body = sign_grant_status(ca_engine.load_signing_key(private), {
                "service": q["service"], "client": q["client"], "grant": "DG-1", "current": answers.pop(0),
                "checked_at": dt.datetime.now(dt.UTC).isoformat(), "nonce": q["nonce"]})
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/api/exchange/grant-status/"
    right = AccessRight(ServiceId.parse("TYC/GOV/A/HR/p"), ClientId.parse("TYC/GOV/B/APP"), None, "DG-1")
    try:
        strict = RegistryGrantChecker(url, load_public_key(public))
        assert [strict(right), strict(right), strict(right)] == [True, True, False]
        assert len(seen) == 3 and len(set(seen)) == 1  # one kept-alive connection
        strict.close()
        cached = RegistryGrantChecker(url, load_public_key(public), cache_seconds=30)
        assert [cached(right), cached(right)] == [True, True]
        assert len(seen) == 4  # the second answer came from the cache
        cached.close()
    finally:
        server.shutdown()


def test_overview_shows_pending_grants_and_the_live_grant_state(registry, make_user, make_agency, agency_a,
                                                                agency_b):
    from django.test import Client

    from citygov.core.roles import Role
    from citygov.exchange.models import AccessRight as Right

    Dataset, SharingRequest = apps.get_model("datagov", "Dataset"), apps.get_model("datagov", "SharingRequest")
    today = timezone.localdate()
    dataset = Dataset.objects.create(source="city_portal", source_id="ov", title="人口統計", agency=agency_a,
                                     content_hash="x")
    grant = SharingRequest.objects.create(
        dataset=dataset, agency=agency_a, requesting_agency=agency_b, purpose="研究", legal_basis="統計法",
        period_start=today, period_end=today + dt.timedelta(days=10))  # pending
    Right.objects.filter(pk=registry["right"].pk).update(grant_dataset=dataset.pk, grant_ref="DG-OV")

    def page(user) -> str:
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        client.force_login(user)
        return client.get("/exchange/").content.decode()

    consumer = make_user("consumer", Role.AGENCY_ADMIN, agencies=[agency_b])
    outsider = make_user("outsider", Role.AGENCY_ADMIN, agencies=[make_agency("other-agency")])
    html = page(consumer)
    assert f'data-grant="{grant.pk}"' in html and "人口統計" in html
    assert 'data-client="TYC/GOV/B001/APP" data-service="TYC/GOV/A001/HR/persons" data-state="not_current"' in html
    assert f'data-grant="{grant.pk}"' not in page(outsider)
    SharingRequest.objects.filter(pk=grant.pk).update(status="approved")
    html = page(consumer)
    assert f'data-grant="{grant.pk}"' not in html
    assert 'data-service="TYC/GOV/A001/HR/persons" data-state="permanent"' in html


def _scripted_registry(private: bytes, answers: list, seen: list, delay: float = 0.0) -> ThreadingHTTPServer:
    """A stub registry: each question takes the next answer (True/False signed, "error" → HTTP 500)."""
    import time

    class Registry(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # noqa: A002
            pass

        def do_GET(self):
            q = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            seen.append(q["nonce"])
            time.sleep(delay)
            answer = answers.pop(0)
            if answer == "error":
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = sign_grant_status(ca_engine.load_signing_key(private), {
                "service": q["service"], "client": q["client"], "grant": "DG-1", "current": answer,
                "checked_at": dt.datetime.now(dt.UTC).isoformat(), "nonce": q["nonce"]})
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_grant_cache_is_bounded_and_a_revocation_is_honoured_once_it_expires():
    import time

    from citygov.exchange.engine.grants import MAX_CACHE_SECONDS

    private, public = ca_engine.new_signing_key()
    answers, seen = [True, False, "error", True], []
    server = _scripted_registry(private, answers, seen)
    url = f"http://127.0.0.1:{server.server_address[1]}/api/exchange/grant-status/"
    right = AccessRight(ServiceId.parse("TYC/GOV/A/HR/p"), ClientId.parse("TYC/GOV/B/APP"), None, "DG-1")
    try:
        for bad in (MAX_CACHE_SECONDS + 0.5, -1):
            with pytest.raises(ValueError):
                RegistryGrantChecker(url, load_public_key(public), cache_seconds=bad)
        checker = RegistryGrantChecker(url, load_public_key(public), cache_seconds=0.4)
        assert [checker(right), checker(right)] == [True, True] and len(seen) == 1
        time.sleep(0.45)
        # Revoked meanwhile: refused once the cached answer has run out, and a refusal is not cached.
        assert checker(right) is False and len(seen) == 2
        with pytest.raises(GrantCheckError):  # nor is a failed check
            checker(right)
        assert checker(right) is True and len(seen) == 4 and answers == []
        checker.close()
    finally:
        server.shutdown()


def test_concurrent_calls_under_one_grant_share_one_question_when_caching():
    private, public = ca_engine.new_signing_key()
    answers, seen = [True] * 8, []
    server = _scripted_registry(private, answers, seen, delay=0.3)
    url = f"http://127.0.0.1:{server.server_address[1]}/api/exchange/grant-status/"
    right = AccessRight(ServiceId.parse("TYC/GOV/A/HR/p"), ClientId.parse("TYC/GOV/B/APP"), None, "DG-1")
    results: list[bool] = []
    try:
        checker = RegistryGrantChecker(url, load_public_key(public), cache_seconds=5)
        threads = [threading.Thread(target=lambda: results.append(checker(right))) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == [True] * 8 and len(seen) == 1
        strict = RegistryGrantChecker(url, load_public_key(public))
        assert [strict(right), strict(right)] == [True, True] and len(seen) == 3  # strict: every call asks
        checker.close()
        strict.close()
    finally:
        server.shutdown()


def test_gateway_command_refuses_a_grant_cache_beyond_the_bound(tmp_path):
    from django.core.management import CommandError

    private, public = ca_engine.new_signing_key()
    (tmp_path / "anchor.pem").write_bytes(public)
    with pytest.raises(CommandError) as failure:
        call_command("exchange", "gateway", "--member", "TYC/GOV/A001", "--listen", "127.0.0.1:1",
                     "--listen-tls", "127.0.0.1:2", "--conf", str(tmp_path / "conf.json"),
                     "--anchor", str(tmp_path / "anchor.pem"), "--keys", str(tmp_path),
                     "--grant-check", "http://127.0.0.1:1/g/", "--grant-cache", "120")
    assert failure.value.returncode == 2 and "0 to 30" in str(failure.value)


def test_demo_links_the_parcels_right_to_a_current_datagov_grant(reference_data, var_dir, city_admin):
    from citygov.agencies.models import Agency
    from citygov.core.models import ChangeLog
    from citygov.exchange.demo import seed_exchange_demo
    from citygov.exchange.models import AccessRight as Right

    Dataset, SharingRequest = apps.get_model("datagov", "Dataset"), apps.get_model("datagov", "SharingRequest")
    seed_exchange_demo(city_admin)
    parcels = Right.objects.get(service__code="parcels", client__code="VENUES")
    assert (parcels.grant_dataset, parcels.grant_ref) == (None, "")  # no grant in data governance yet
    land, culture, other = (Agency.objects.get(code=c) for c in ("land", "culture", "do-zhongli"))
    today = timezone.localdate()
    dataset = Dataset.objects.create(source="city_portal", source_id="dg-demo", title="地籍圖", agency=land,
                                     content_hash="x")

    def grant(requester, status, start, end):
        return SharingRequest.objects.create(dataset=dataset, agency=land, requesting_agency=requester, purpose="場館",
                                             legal_basis="個資法第16條", period_start=start, period_end=end,
                                             status=status)

    # Grants that do not qualify: pending, ended, to another agency.
    grant(culture, "pending", today, today + dt.timedelta(days=30))
    grant(culture, "approved", today - dt.timedelta(days=40), today - dt.timedelta(days=1))
    grant(other, "approved", today, today + dt.timedelta(days=30))
    seed_exchange_demo(city_admin)
    parcels.refresh_from_db()
    assert parcels.grant_dataset is None
    current = grant(culture, "approved", today - dt.timedelta(days=1), today + dt.timedelta(days=300))
    seed_exchange_demo(city_admin)
    parcels.refresh_from_db()
    assert (parcels.grant_dataset, parcels.grant_ref, parcels.not_after) == (dataset.pk, f"DG-{current.pk:04d}", None)
    assert ChangeLog.objects.filter(note="sharing grant linked").count() == 1
    status = services.grant_status(parcels.service.identifier, parcels.client.identifier)
    assert (status.current, status.grant) == (True, f"DG-{current.pk:04d}")
    seed_exchange_demo(city_admin)  # idempotent
    assert ChangeLog.objects.filter(note="sharing grant linked").count() == 1
    # Revoked in data governance: the live status says so at once.
    SharingRequest.objects.filter(pk=current.pk).update(status="rejected")
    assert services.grant_status(parcels.service.identifier, parcels.client.identifier).current is False
