"""The pure engine: identifiers, request hash, signed configuration, message log chain, CA."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json

import pytest
from cryptography import x509

from citygov.exchange.engine import ca
from citygov.exchange.engine.conf import (
    ConfError,
    canonical_json,
    load_public_key,
    sign_configuration,
    verify_configuration,
)
from citygov.exchange.engine.hashing import canonical_headers, request_hash
from citygov.exchange.engine.identifiers import ClientId, IdentifierError, MemberId, ServiceId, split_request_path
from citygov.exchange.engine.messagelog import Exchange, MessageLog, MessageLogError, verify_log

NOW = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


def test_identifiers_parse_and_format():
    sid = ServiceId.parse("TYC/GOV/A002/HR/persons")
    assert str(sid) == "TYC/GOV/A002/HR/persons"
    assert sid.provider == ClientId("TYC", "GOV", "A002", "HR")
    assert sid.provider.member == MemberId("TYC", "GOV", "A002")
    assert str(ClientId.parse("TW/GOV/376580000A/CRM")) == "TW/GOV/376580000A/CRM"
    for bad in ("TYC/GOV/A002", "TYC/GOV//HR", "TYC/GOV/A 2/HR", "TYC/GOV/A002/HR/x/y", ""):
        with pytest.raises(IdentifierError):
            ClientId.parse(bad)
    with pytest.raises(IdentifierError):
        ServiceId.parse("TYC/GOV/A002/HR")


def test_split_request_path():
    provider, code, rest = split_request_path("TYC/GOV/A002/HR/persons/42/x")
    assert (str(provider), code, rest) == ("TYC/GOV/A002/HR", "persons", "/42/x")
    assert split_request_path("TYC/GOV/A002/HR")[1:] == (None, "")
    with pytest.raises(IdentifierError):
        split_request_path("TYC/GOV/A002")


def test_request_hash_is_the_documented_formula():
    headers = {"X-Road-Client": "TYC/GOV/A001/APP", "X-Road-Service": "TYC/GOV/A002/HR/persons",
               "X-Road-Id": "id-1", "X-Road-Request-Id": "r-1", "Accept": "ignored"}
    block = canonical_headers("get", "/r1/TYC/GOV/A002/HR/persons", headers)
    assert block == (b":method:GET\n:path:/r1/TYC/GOV/A002/HR/persons\nx-road-client:TYC/GOV/A001/APP\n"
                     b"x-road-id:id-1\nx-road-request-id:r-1\nx-road-service:TYC/GOV/A002/HR/persons\n")
    expected = base64.b64encode(hashlib.sha512(hashlib.sha512(block).digest()
                                               + hashlib.sha512(b"{}").digest()).digest()).decode()
    assert request_hash("GET", "/r1/TYC/GOV/A002/HR/persons", headers, b"{}") == expected
    assert request_hash("GET", "/r1/TYC/GOV/A002/HR/persons", headers, b"{ }") != expected
    # Header names are case-insensitive; other headers do not count.
    lower = {k.lower(): v for k, v in headers.items() if k != "Accept"}
    assert request_hash("GET", "/r1/TYC/GOV/A002/HR/persons", lower, b"{}") == expected


def _payload(**extra):
    data = {"version": 1, "instance": "TYC", "serial": 7, "generated_at": NOW.isoformat(),
            "expires_at": (NOW + dt.timedelta(days=1)).isoformat(),
            "members": [{"id": "TYC/GOV/A002", "name": "衛生局",
                         "gateways": [{"address": "127.0.0.1:5500", "cert_sha256": "AB" * 32}],
                         "subsystems": [{"code": "HR", "services": [{"code": "persons", "title": "人員",
                                                                     "openapi": {"openapi": "3.0.3"}}]}]}],
            "access_rights": [{"service": "TYC/GOV/A002/HR/persons", "client": "TYC/GOV/A002/HR",
                               "not_after": (NOW + dt.timedelta(hours=1)).isoformat(), "grant": "DG-9"}],
            "revoked_serials": ["1F"], "ca_certs_pem": "x"}
    data.update(extra)
    return data


def _keys():
    private, public = ca.new_signing_key()
    return ca.load_signing_key(private), load_public_key(public)


def test_signed_configuration_verifies_and_indexes():
    key, anchor = _keys()
    conf = verify_configuration(sign_configuration(key, _payload()), anchor, now=NOW)
    service = ServiceId.parse("TYC/GOV/A002/HR/persons")
    assert conf.serial == 7
    assert conf.services[service].title == "人員"
    assert conf.gateway_of(MemberId.parse("TYC/GOV/A002")).cert_sha256 == "ab" * 32
    assert conf.member_of_cert("AB" * 32) == MemberId.parse("TYC/GOV/A002")
    assert conf.access(service, ClientId.parse("TYC/GOV/A002/HR")).grant == "DG-9"
    assert conf.revoked_serials == frozenset({"1f"})


def test_configuration_with_altered_content_or_other_key_or_expired_is_refused():
    key, anchor = _keys()
    document = json.loads(sign_configuration(key, _payload()))
    document["configuration"]["revoked_serials"] = []
    with pytest.raises(ConfError, match="signature does not verify"):
        verify_configuration(json.dumps(document).encode(), anchor, now=NOW)
    other, _ = _keys()
    with pytest.raises(ConfError, match="another key"):
        verify_configuration(sign_configuration(other, _payload()), anchor, now=NOW)
    with pytest.raises(ConfError, match="expired"):
        verify_configuration(sign_configuration(key, _payload()), anchor, now=NOW + dt.timedelta(days=2))
    with pytest.raises(ConfError, match="unreadable"):
        verify_configuration(b"not json", anchor, now=NOW)
    with pytest.raises(ConfError, match="malformed"):
        verify_configuration(sign_configuration(key, _payload(members=[{"id": "bad"}])), anchor, now=NOW)


def test_canonical_json_is_stable_and_refuses_floats():
    assert canonical_json({"b": [1, "桃"], "a": None}) == '{"a":null,"b":[1,"桃"]}'.encode()
    with pytest.raises(ConfError):
        canonical_json({"a": 1.5})


def _exchange(n: int) -> Exchange:
    return Exchange(NOW.isoformat(), "provider", f"id-{n}", "TYC/GOV/A001/APP", "TYC/GOV/A002/HR/persons",
                    "req", "resp", 200, "", n)


def test_message_log_chain_detects_deletion_alteration_and_reordering(tmp_path):
    private, public = ca.new_signing_key()
    path = tmp_path / "log.jsonl"
    log = MessageLog(path, ca.load_signing_key(private))
    for n in range(4):
        log.append(_exchange(n))
    log.close()
    pub = load_public_key(public)
    assert verify_log(path, pub) == (4, [])
    # Reopening continues the chain.
    log = MessageLog(path, ca.load_signing_key(private))
    assert log.append(_exchange(5))["seq"] == 5
    log.close()
    assert verify_log(path, pub) == (5, [])
    lines = path.read_text().splitlines()
    (tmp_path / "deleted.jsonl").write_text("\n".join(lines[:2] + lines[3:]) + "\n")
    _, problems = verify_log(tmp_path / "deleted.jsonl", pub)
    assert [p.line for p in problems] == [3, 3]
    altered = json.loads(lines[1])
    altered["status"] = 500
    (tmp_path / "altered.jsonl").write_text("\n".join([lines[0], json.dumps(altered), *lines[2:]]) + "\n")
    _, problems = verify_log(tmp_path / "altered.jsonl", pub)
    assert [p.line for p in problems] == [2]
    assert "altered" in problems[0].message
    # Recomputing the hash does not help without the gateway's key.
    altered["hash"] = hashlib.sha256(canonical_json({k: v for k, v in altered.items()
                                                     if k not in ("hash", "signature")})).hexdigest()
    (tmp_path / "rehashed.jsonl").write_text("\n".join([lines[0], json.dumps(altered), *lines[2:]]) + "\n")
    _, problems = verify_log(tmp_path / "rehashed.jsonl", pub)
    assert [p.message.split(" (")[0] for p in problems] == [
        "the gateway signature does not verify", "prev does not match the previous record's hash"]


def test_message_log_that_cannot_be_written_fails(tmp_path):
    private, _ = ca.new_signing_key()
    log = MessageLog(tmp_path / "log.jsonl", ca.load_signing_key(private))
    log.close()  # a closed file stands for a full or vanished disk
    with pytest.raises(MessageLogError):
        log.append(_exchange(1))
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(MessageLogError):
        MessageLog(blocker / "log.jsonl", ca.load_signing_key(private))


def test_ca_issues_gateway_certificates_and_crl():
    root = ca.new_ca("city CA", now=NOW)
    issued = ca.issue_gateway_certificate(root.key_pem, root.cert_pem, "TYC/GOV/A001", ["127.0.0.1", "gw.example"],
                                          now=NOW)
    cert = ca.verify_issued_by(issued.cert_pem, root.cert_pem)
    assert cert.subject.rfc4514_string().startswith("O=A001,CN=TYC/GOV/A001")
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(v) for v in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert san.get_values_for_type(x509.DNSName) == ["gw.example"]
    assert issued.sha256 == ca.fingerprint(issued.cert_pem)
    other = ca.new_ca("other CA", now=NOW)
    with pytest.raises(ca.CertificateError):
        ca.verify_issued_by(issued.cert_pem, other.cert_pem)
    crl = x509.load_pem_x509_crl(ca.build_crl(root.key_pem, root.cert_pem, [(issued.serial_hex, NOW)], now=NOW))
    assert crl.get_revoked_certificate_by_serial_number(int(issued.serial_hex, 16)) is not None
    assert crl.is_signature_valid(ca.load_certificate(root.cert_pem).public_key())


def test_archiving_keeps_both_files_verifiable_and_the_chain_going(tmp_path):
    private, public = ca.new_signing_key()
    key, pub = ca.load_signing_key(private), load_public_key(public)
    path = tmp_path / "messages.jsonl"
    log = MessageLog(path, key)
    for n in range(5):
        log.append(Exchange((NOW - dt.timedelta(days=40 - n)).isoformat(), "provider", f"old-{n}", "c", "s",
                            "rq", "rs", 200))
    for n in range(3):
        log.append(Exchange(NOW.isoformat(), "provider", f"new-{n}", "c", "s", "rq", "rs", 200))
    assert log.archive(NOW - dt.timedelta(days=30), tmp_path / "archive") == 5
    assert log.archive(NOW - dt.timedelta(days=30), tmp_path / "archive") == 0
    assert log.append(_exchange(9))["seq"] == 9
    log.close()
    archive = tmp_path / "archive" / "messages-000000000001-000000000005.jsonl.gz"
    assert verify_log(archive, pub) == (5, [])
    assert verify_log(path, pub) == (4, [])
    # Reopening after archiving continues from the checkpoint when no record follows it.
    log = MessageLog(path, key)
    assert log.archive(NOW + dt.timedelta(days=1), tmp_path / "archive") == 4
    log.close()
    log = MessageLog(path, key)
    assert log.append(_exchange(10))["seq"] == 10
    log.close()
    assert verify_log(path, pub) == (1, [])
    assert verify_log(tmp_path / "archive" / "messages-000000000006-000000000009.jsonl.gz", pub) == (4, [])
    lines = path.read_text().splitlines()
    # Cutting the checkpoint (to hide what was before) is reported; so is a forged checkpoint.
    (tmp_path / "cut.jsonl").write_text(lines[1] + "\n")
    assert [p.line for p in verify_log(tmp_path / "cut.jsonl", pub)[1]] == [1, 1]
    forged = json.loads(lines[0])
    forged["archived_through"] = 8
    (tmp_path / "forged.jsonl").write_text(json.dumps(forged) + "\n" + lines[1] + "\n")
    messages = [p.message for p in verify_log(tmp_path / "forged.jsonl", pub)[1]]
    assert messages[0].startswith("the archive checkpoint's signature does not verify")


# --- the lean HTTP header parser -------------------------------------------------------------------------
def test_read_headers_keeps_order_repeats_and_unfolds():
    import io

    from citygov.exchange.engine.http11 import read_headers

    fp = io.BytesIO(b"Host: a\r\nX-A:  1 \r\nx-a: 2\r\nFold: a\r\n \t b\r\nEmpty:\r\n\r\nBODY")
    headers = read_headers(fp)
    assert headers.items() == [("Host", "a"), ("X-A", "1"), ("x-a", "2"), ("Fold", "a b"), ("Empty", "")]
    assert (headers.get("x-A"), headers["FOLD"], headers.get("none", "-"), headers["none"]) == ("1", "a b", "-", None)
    assert headers.get_all("X-A") == ["1", "2"] and headers.get_all("none") is None
    assert "host" in headers and "nope" not in headers and len(headers) == 5
    assert fp.read() == b"BODY"  # stops right after the empty line


def test_read_headers_refuses_malformed_and_oversized_blocks():
    import http.client
    import io

    from citygov.exchange.engine.http11 import MAX_HEADERS, read_headers

    for raw in (b"NoColon\r\n\r\n", b"Bad Name: x\r\n\r\n", b": empty name\r\n\r\n", b" starts: folded\r\n\r\n",
                b"".join(b"H%d: x\r\n" % i for i in range(MAX_HEADERS + 1)) + b"\r\n"):
        with pytest.raises(http.client.HTTPException):
            read_headers(io.BytesIO(raw))
    with pytest.raises(http.client.LineTooLong):
        read_headers(io.BytesIO(b"A: " + b"x" * 70000 + b"\r\n\r\n"))
    assert len(read_headers(io.BytesIO(b"".join(b"H%d: x\r\n" % i for i in range(MAX_HEADERS)) + b"\r\n"))) == 100


def test_canonical_json_still_refuses_floats_and_non_string_keys_anywhere():
    from collections import OrderedDict

    from citygov.exchange.engine.conf import ConfError, canonical_json

    assert canonical_json({"b": [1, {"x": None, "y": True}], "a": "中"}) == '{"a":"中","b":[1,{"x":null,"y":true}]}'.encode()
    for bad in ({"a": 1.5}, [1, [2.0]], {1: 2}, OrderedDict(a={"b": (1, 0.5)}), ({"deep": [[[1e3]]]},)):
        with pytest.raises(ConfError):
            canonical_json(bad)


def test_identifiers_are_memoised_but_still_validated():
    a = ClientId.parse("TYC/GOV/A001/HR")
    assert ClientId.parse("TYC/GOV/A001/HR") is a
    assert a.service("persons") is a.service("persons") and str(a.service("persons")) == "TYC/GOV/A001/HR/persons"
    assert a.service("persons") == ServiceId.parse("TYC/GOV/A001/HR/persons") and a.member == MemberId.parse("TYC/GOV/A001")
    for bad in ("TYC/GOV/A001", "TYC/GOV/A 01/HR", ""):
        with pytest.raises(IdentifierError):
            ClientId.parse(bad)
    with pytest.raises(IdentifierError):
        a.service("per/sons")
