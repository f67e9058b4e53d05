"""The registry: services with their rules and change log, the signed configuration built from it,
agency scoping of pages and API, message-log import, the command and the demo."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from citygov.core.errors import Conflict, Forbidden, InvalidInput
from citygov.core.models import ChangeLog
from citygov.core.roles import Role
from citygov.exchange import services
from citygov.exchange.engine import ca as ca_engine
from citygov.exchange.engine.conf import load_public_key, verify_configuration
from citygov.exchange.engine.identifiers import ClientId, ServiceId
from citygov.exchange.engine.messagelog import Exchange, MessageLog
from citygov.exchange.models import AccessRight, Member, TransferRecord

pytestmark = pytest.mark.django_db


def page_client(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def test_register_member_validates_and_logs(city_admin, agency_a):
    member = services.do_register_member(city_admin, agency_id=agency_a.pk, code="A001", name=" Agency A ")
    assert member.identifier == "TYC/GOV/A001"
    assert member.name == "Agency A"
    entry = ChangeLog.objects.get(object_id=str(member.pk), object_type="exchange.member")
    assert entry.agency_id == agency_a.pk
    with pytest.raises(Conflict):
        services.do_register_member(city_admin, agency_id=agency_a.pk, code="A001", name="again")
    with pytest.raises(InvalidInput) as bad:
        services.do_register_member(city_admin, agency_id=agency_a.pk, code="A/1", name="x")
    assert bad.value.code == "bad_identifier"
    with pytest.raises(InvalidInput):
        services.do_register_member(city_admin, agency_id=agency_a.pk, code="A2", name="x", member_class="XYZ")
    assert Member.objects.count() == 1


def test_only_city_administrators_change_the_registry(admin_a, auditor, agency_a):
    for actor in (admin_a, auditor):
        with pytest.raises(Forbidden):
            services.do_register_member(actor, agency_id=agency_a.pk, code="A001", name="A")
    assert Member.objects.count() == 0


def test_gateway_certificate_must_come_from_the_city_ca(registry, city_admin):
    other = ca_engine.new_ca("other", now=dt.datetime.now(dt.UTC))
    cert = ca_engine.issue_gateway_certificate(other.key_pem, other.cert_pem, "TYC/GOV/A001", ["127.0.0.1"],
                                               now=dt.datetime.now(dt.UTC))
    root = ca_engine.new_ca("city", now=dt.datetime.now(dt.UTC))
    with pytest.raises(InvalidInput) as bad:
        services.do_register_gateway(city_admin, registry["a"].pk, address="127.0.0.1:5700",
                                     cert_pem=cert.cert_pem.decode(), ca_cert_pem=root.cert_pem)
    assert bad.value.code == "bad_certificate"
    with pytest.raises(InvalidInput):
        services.do_register_gateway(city_admin, registry["a"].pk, address="nowhere",
                                     cert_pem=cert.cert_pem.decode(), ca_cert_pem=other.cert_pem)
    assert registry["a"].gateways.count() == 1


def test_published_configuration_verifies_and_lists_revocations(registry, city_admin, city_ca):
    serial = registry["a"].gateways.get().serial
    services.do_revoke_certificate(city_admin, serial.upper(), reason="key lost")
    private, public = ca_engine.new_signing_key()
    document = services.signed_configuration(private, [city_ca.cert_pem])
    conf = verify_configuration(document, load_public_key(public))
    service = ServiceId.parse("TYC/GOV/A001/HR/persons")
    assert conf.services[service].openapi["openapi"] == "3.0.3"
    assert conf.access(service, ClientId.parse("TYC/GOV/B001/APP")).not_after is None
    assert conf.revoked_serials == frozenset({serial})
    assert conf.ca_certs_pem == city_ca.cert_pem.decode()
    with pytest.raises(Conflict):
        services.do_revoke_certificate(city_admin, serial)


def test_overview_page_is_scoped_to_the_agency(registry, make_user, agency_a, agency_b, make_agency):
    other = make_agency("other-agency")
    outsider = make_user("outsider", Role.AGENCY_ADMIN, agencies=[other])
    provider = make_user("provider", Role.AGENCY_ADMIN, agencies=[agency_a])
    consumer = make_user("consumer", Role.AGENCY_ADMIN, agencies=[agency_b])
    page = page_client(provider).get("/exchange/").content.decode()
    assert 'data-service="TYC/GOV/A001/HR/persons"' in page
    assert 'data-member="TYC/GOV/B001"' not in page
    assert 'data-client="TYC/GOV/B001/APP"' in page  # a consumer of its service
    page = page_client(consumer).get("/exchange/").content.decode()
    assert 'data-member="TYC/GOV/B001"' in page
    assert 'data-member="TYC/GOV/A001"' not in page
    assert '<li data-service="TYC/GOV/A001/HR/persons">' not in page
    assert 'data-client="TYC/GOV/B001/APP"' in page  # a right it holds
    page = page_client(outsider).get("/exchange/").content.decode()
    assert "TYC/GOV/A001" not in page and "TYC/GOV/B001" not in page
    # Another agency's service page is a 404, not a 403 that would reveal it.
    assert page_client(consumer).get(f"/exchange/services/{registry['persons'].pk}/").status_code == 404
    assert page_client(provider).get(f"/exchange/services/{registry['persons'].pk}/").status_code == 200


def test_pages_need_the_exchange_capability(registry, make_user, agency_a):
    analyst = make_user("analyst", Role.SECURITY_ANALYST, agencies=[agency_a])
    assert page_client(analyst).get("/exchange/").status_code == 403
    assert Client().get("/exchange/").status_code == 302


def test_city_admin_grants_access_from_the_service_page(registry, city_admin, auditor, city_ca):
    service = registry["persons"]
    hr = registry["hr"]
    url = f"/exchange/services/{service.pk}/grant/"
    response = page_client(auditor).post(url, {"client": hr.pk})
    assert response.status_code == 403
    assert AccessRight.objects.count() == 1
    response = page_client(city_admin).post(url, {"client": hr.pk, "grant_ref": "DG-1",
                                                   "not_after": "2030-01-01T00:00"})
    assert response.status_code == 302
    right = AccessRight.objects.get(client=hr)
    assert right.grant_ref == "DG-1"
    assert right.not_after == dt.datetime(2029, 12, 31, 16, 0, tzinfo=dt.UTC)  # Asia/Taipei midnight
    response = page_client(city_admin).post(url, {"client": hr.pk})
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert AccessRight.objects.count() == 2


def test_api_scoping_and_writes(registry, make_user, agency_b, api_client_for, city_admin, agency_a):
    consumer = make_user("consumer", Role.AGENCY_ADMIN, agencies=[agency_b])
    api = api_client_for(consumer)
    assert api.get("/api/exchange/services/").json()["results"] == []
    members = api.get("/api/exchange/members/").json()["results"]
    assert [m["identifier"] for m in members] == ["TYC/GOV/B001"]
    rights = api.get("/api/exchange/access-rights/").json()["results"]
    assert [(r["client_id"], r["service_id"]) for r in rights] == [("TYC/GOV/B001/APP", "TYC/GOV/A001/HR/persons")]
    response = api.post("/api/exchange/members/", {"agency": agency_b.pk, "code": "B2", "name": "x"}, format="json")
    assert response.status_code == 403
    admin_api = api_client_for(city_admin)
    response = admin_api.post("/api/exchange/members/", {"agency": agency_b.pk, "code": "B2", "name": "Bee"},
                              format="json")
    assert response.status_code == 201
    assert response.json()["identifier"] == "TYC/GOV/B2"
    response = admin_api.post("/api/exchange/members/", {"agency": agency_b.pk, "code": "B2", "name": "Bee"},
                              format="json")
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"


def test_configuration_endpoint_serves_the_signed_document(registry, var_dir, city_ca):
    assert Client().get("/api/exchange/configuration/").status_code == 503
    call_command("exchange", "ca-init", stdout=io.StringIO())
    response = Client().get("/api/exchange/configuration/")
    assert response.status_code == 200
    anchor = load_public_key((var_dir / "exchange" / "ca" / "anchor.pem").read_bytes())
    conf = verify_configuration(response.content, anchor)
    assert sorted(str(m) for m in conf.members) == ["TYC/GOV/A001", "TYC/GOV/B001"]


def _write_log(path, key_pem: bytes, n: int) -> None:
    log = MessageLog(path, ca_engine.load_signing_key(key_pem))
    for i in range(n):
        log.append(Exchange(dt.datetime.now(dt.UTC).isoformat(), "provider", f"id-{i}", "TYC/GOV/B001/APP",
                            "TYC/GOV/A001/HR/persons", "rq", "rs", 200 if i % 4 else 504,
                            "" if i % 4 else "Server.ServerProxy.ServiceTimeout", 10 + i))
    log.close()


def test_import_log_is_idempotent_refuses_broken_chains_and_feeds_the_stats(registry, city_admin, tmp_path,
                                                                            make_user, agency_a, agency_b):
    private, public = ca_engine.new_signing_key()
    path = tmp_path / "messages.jsonl"
    _write_log(path, private, 8)
    (tmp_path / "pub.pem").write_bytes(public)
    args = ["exchange", "import-log", str(path), "--member", "TYC/GOV/A001", "--key", str(tmp_path / "pub.pem"),
            "--user", city_admin.username]
    out = io.StringIO()
    call_command(*args, stdout=out)
    assert out.getvalue().strip() == "8 records verified, 8 imported"
    out = io.StringIO()
    call_command(*args, stdout=out)
    assert out.getvalue().strip() == "8 records verified, 0 imported"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:3] + lines[4:]) + "\n")
    with pytest.raises(CommandError) as failure:
        call_command(*args, stdout=io.StringIO(), stderr=io.StringIO())
    assert failure.value.returncode == 1
    assert TransferRecord.objects.count() == 8
    provider = make_user("provider", Role.AGENCY_ADMIN, agencies=[agency_a])
    consumer = make_user("consumer", Role.AGENCY_ADMIN, agencies=[agency_b])
    page = page_client(provider).get("/exchange/?x_road_id=id-3").content.decode()
    assert 'id="found"' in page
    assert 'data-service="TYC/GOV/A001/HR/persons" data-side="provider"' in page
    from citygov.exchange.queries import traffic_stats
    stats = traffic_stats(provider)
    assert [(s.count, s.errors, s.p50_ms, s.p95_ms) for s in stats] == [(8, 2, 13, 17)]
    # The consumer agency does not see the provider gateway's records.
    assert traffic_stats(consumer) == []
    assert 'id="not-found"' in page_client(consumer).get("/exchange/?x_road_id=id-3").content.decode()


def test_command_ca_init_issue_publish(registry, var_dir, city_admin):
    out = io.StringIO()
    call_command("exchange", "ca-init", stdout=out)
    with pytest.raises(CommandError) as again:
        call_command("exchange", "ca-init", stdout=io.StringIO())
    assert again.value.returncode == 1
    call_command("exchange", "ca-issue", "--member", "TYC/GOV/A001", "--out", str(var_dir / "gw"), stdout=out)
    issued = json.loads(out.getvalue().splitlines()[-1])
    assert issued["sha256"] == ca_engine.fingerprint((var_dir / "gw" / "cert.pem").read_bytes())
    assert sorted(p.name for p in (var_dir / "gw").iterdir()) == ["cert.pem", "key.pem", "payload.key",
                                                                  "sign.key.pem", "sign.pub.pem"]
    assert (var_dir / "gw" / "key.pem").stat().st_mode & 0o777 == 0o600
    with pytest.raises(CommandError) as bad:
        call_command("exchange", "ca-issue", "--member", "A001", "--out", str(var_dir / "gw2"), stdout=io.StringIO())
    assert bad.value.returncode == 2
    call_command("exchange", "publish", "--out", str(var_dir / "conf.json"), stdout=io.StringIO())
    anchor = load_public_key((var_dir / "exchange" / "ca" / "anchor.pem").read_bytes())
    assert verify_configuration((var_dir / "conf.json").read_bytes(), anchor).instance == "TYC"
    call_command("exchange", "ca-revoke", "--serial", issued["serial"], "--user", city_admin.username,
                 stdout=io.StringIO())
    call_command("exchange", "ca-crl", "--out", str(var_dir / "crl.pem"), stdout=io.StringIO())
    assert (var_dir / "crl.pem").read_bytes().startswith(b"-----BEGIN X509 CRL-----")


def test_demo_registry_of_three_agencies(reference_data, var_dir, city_admin, make_user):
    from citygov.agencies.models import Agency
    from citygov.exchange.demo import seed_exchange_demo

    seed_exchange_demo(city_admin)
    seed_exchange_demo(city_admin)  # idempotent
    assert sorted(Member.objects.values_list("code", flat=True)) == ["CULTURE", "LAND", "ZHONGLI"]
    assert AccessRight.objects.count() == 3
    assert TransferRecord.objects.filter(side="consumer").count() == 292
    assert TransferRecord.objects.filter(error="Server.ServerProxy.GrantExpired").count() == 24
    for code in ("LAND", "ZHONGLI", "CULTURE"):
        assert (var_dir / "exchange" / "gateways" / code / "cert.pem").exists()
    culture = make_user("culture-admin", Role.AGENCY_ADMIN, agencies=[Agency.objects.get(code="culture")])
    page = page_client(culture).get("/exchange/").content.decode()
    assert 'data-state="expired"' in page
    assert 'data-exchange-chart' in page
    from citygov.exchange.dashboard import _services

    tile = _services(culture)
    assert tile.value == 0 or tile.value is None  # culture provides nothing: empty state
    land = make_user("land-admin", Role.AGENCY_ADMIN, agencies=[Agency.objects.get(code="land")])
    tile = _services(land)
    assert tile.value == 2
    assert tile.status == "warn"  # every call on the ended "owners" grant fails
    assert tile.detail == "152 requests in the last 30 days, 14 failed (9.2%)"  # 12 ended grant + 2 time-outs


def test_periodic_job_publishes_the_configuration(registry, var_dir):
    from citygov.exchange import jobs

    assert jobs.publish_configuration.call_local() is False
    assert not jobs.configuration_path().exists()
    call_command("exchange", "ca-init", stdout=io.StringIO())
    assert jobs.publish_configuration.call_local() is True
    anchor = load_public_key((var_dir / "exchange" / "ca" / "anchor.pem").read_bytes())
    conf = verify_configuration(jobs.configuration_path().read_bytes(), anchor)
    assert sorted(str(s) for s in conf.services) == ["TYC/GOV/A001/HR/persons"]


def test_registry_management_page(city_admin, admin_a, agency_a, var_dir):
    from citygov.exchange.models import Gateway, RevokedCertificate, Service, Subsystem

    assert page_client(admin_a).get("/exchange/manage/").status_code == 403
    assert page_client(admin_a).post("/exchange/manage/", {"form": "member"}).status_code == 403
    client = page_client(city_admin)
    assert client.get("/exchange/manage/").status_code == 200
    response = client.post("/exchange/manage/", {"form": "member", "member-agency": agency_a.pk,
                                                 "member-member_class": "GOV", "member-code": "A001",
                                                 "member-name": "Agency A"})
    assert response.status_code == 302
    member = Member.objects.get(code="A001")
    response = client.post("/exchange/manage/", {"form": "member", "member-agency": agency_a.pk,
                                                 "member-member_class": "GOV", "member-code": "A001",
                                                 "member-name": "again"})
    assert response.status_code == 400
    assert "already registered" in response.content.decode()
    assert client.post("/exchange/manage/", {"form": "subsystem", "subsystem-member": member.pk,
                                             "subsystem-code": "HR"}).status_code == 302
    sub = Subsystem.objects.get(member=member, code="HR")
    response = client.post("/exchange/manage/", {"form": "service", "service-subsystem": sub.pk, "service-code": "x",
                                                  "service-title": "X", "service-openapi": "{not json"})
    assert response.status_code == 400
    assert "Not valid JSON" in response.content.decode()
    response = client.post("/exchange/manage/", {"form": "service", "service-subsystem": sub.pk, "service-code": "x",
                                                  "service-title": "X", "service-openapi": '{"swagger": "2.0"}'})
    assert response.status_code == 400
    assert "OpenAPI 3" in response.content.decode()
    assert Service.objects.count() == 0
    assert client.post("/exchange/manage/", {"form": "service", "service-subsystem": sub.pk, "service-code": "x",
                                             "service-title": "X", "service-openapi": '{"openapi": "3.1.0"}',
                                             "service-store_payloads": "on"}).status_code == 302
    assert Service.objects.get(code="x").store_payloads is True
    call_command("exchange", "ca-init", stdout=io.StringIO())
    ca_dir = var_dir / "exchange" / "ca"
    issued = ca_engine.issue_gateway_certificate((ca_dir / "ca.key.pem").read_bytes(), (ca_dir / "ca.pem").read_bytes(),
                                                 member.identifier, ["127.0.0.1"], now=dt.datetime.now(dt.UTC))
    assert client.post("/exchange/manage/", {"form": "gateway", "gateway-member": member.pk,
                                             "gateway-address": "127.0.0.1:5599",
                                             "gateway-cert_pem": issued.cert_pem.decode()}).status_code == 302
    assert Gateway.objects.get().cert_sha256 == issued.sha256
    assert client.post("/exchange/manage/", {"form": "revoke", "revoke-serial": issued.serial_hex,
                                             "revoke-reason": "key lost"}).status_code == 302
    assert RevokedCertificate.objects.get().serial == issued.serial_hex
    assert client.post("/exchange/manage/", {"form": "nothing"}).status_code == 400
