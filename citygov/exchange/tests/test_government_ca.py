"""Gateway certificates issued by the government CA (a root and an intermediate, generated here): the chain
file is checked, its CAs trusted and published in the configuration, and such a gateway talks mutual TLS."""

from __future__ import annotations

import datetime as dt
import http.client
import io
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.management import CommandError, call_command

from citygov.exchange import services
from citygov.exchange.engine import ca
from citygov.exchange.engine.conf import load_public_key, sign_configuration, verify_configuration
from citygov.exchange.engine.gateway import Gateway, GatewaySettings
from citygov.exchange.engine.identifiers import MemberId
from citygov.exchange.models import Gateway as GatewayRow
from citygov.exchange.models import TrustedCA
from citygov.exchange.tests import support

NOW = dt.datetime.now(dt.UTC)


def _ca_cert(name: str, key, issuer_name: x509.Name, issuer_key, *, path_length: int | None,
             start: dt.datetime = NOW - dt.timedelta(days=1), days: int = 3650) -> x509.Certificate:
    usage = x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                          encipher_only=False, decipher_only=False)
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])).issuer_name(issuer_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(usage, critical=True).sign(issuer_key, hashes.SHA256()))


@pytest.fixture(scope="module")
def gov():
    """政府憑證管理中心-style chain: root → intermediate → gateway certificates issued by the intermediate."""
    root_key, int_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test GRCA")])
    root = _ca_cert("Test GRCA", root_key, root_name, root_key, path_length=1)
    intermediate = _ca_cert("Test GCA", int_key, root_name, root_key, path_length=0)
    chain = ca.pem(intermediate) + ca.pem(root)
    int_key_pem = ca._key_pem(int_key)
    expired = _ca_cert("Old GCA", int_key, root_name, root_key, path_length=0, start=NOW - dt.timedelta(days=30),
                       days=10)

    def issue(member: str) -> ca.IssuedCertificate:
        return ca.issue_gateway_certificate(int_key_pem, ca.pem(intermediate), member, ["127.0.0.1"], now=NOW)

    return {"chain": chain, "root": root, "intermediate": intermediate, "issue": issue,
            "expired_chain": ca.pem(expired) + ca.pem(root)}


def test_chain_verification(gov):
    leaf = gov["issue"]("TYC/GOV/A001")
    path = ca.verify_chain(leaf.cert_pem, gov["chain"], now=NOW)
    assert [c.subject.rfc4514_string() for c in path] == ["O=A001,CN=TYC/GOV/A001", "CN=Test GCA", "CN=Test GRCA"]
    assert len(ca.verify_ca_bundle(gov["chain"], now=NOW)) == 2
    city = ca.new_ca("city CA", now=NOW)
    city_leaf = ca.issue_gateway_certificate(city.key_pem, city.cert_pem, "TYC/GOV/A001", ["127.0.0.1"], now=NOW)
    for cert, chain, message in ((city_leaf.cert_pem, gov["chain"], "no CA in the chain file issued"),
                                 (leaf.cert_pem, ca.pem(gov["root"]), "no CA in the chain file issued"),
                                 (leaf.cert_pem, gov["chain"] + leaf.cert_pem, None),  # the leaf itself is skipped
                                 (leaf.cert_pem, gov["chain"] + city_leaf.cert_pem, "is not a CA"),
                                 (leaf.cert_pem, gov["expired_chain"], "no CA in the chain file issued|not valid")):
        if message is None:
            assert len(ca.verify_chain(cert, chain, now=NOW)) == 3
        else:
            with pytest.raises(ca.CertificateError, match=message):
                ca.verify_chain(cert, chain, now=NOW)
    with pytest.raises(ca.CertificateError, match="no self-signed root"):
        ca.verify_ca_bundle(ca.pem(gov["intermediate"]), now=NOW)
    with pytest.raises(ca.CertificateError, match="not valid now"):
        ca.verify_ca_bundle(gov["expired_chain"], now=NOW)


def test_ca_import_registers_a_government_certificate_and_publishes_its_chain(gov, var_dir, tmp_path, city_admin,
                                                                             agency_a):
    call_command("exchange", "ca-init", stdout=io.StringIO())
    member = services.do_register_member(city_admin, agency_id=agency_a.pk, code="A001", name="A")
    leaf = gov["issue"](member.identifier)
    (tmp_path / "gov-chain.pem").write_bytes(gov["chain"])
    (tmp_path / "gw.pem").write_bytes(leaf.cert_pem)
    stray = ca.issue_gateway_certificate(*(lambda c: (c.key_pem, c.cert_pem))(ca.new_ca("x", now=NOW)),
                                         member.identifier, ["127.0.0.1"], now=NOW)
    (tmp_path / "stray.pem").write_bytes(stray.cert_pem)
    base = ["exchange", "ca-import", "--chain", str(tmp_path / "gov-chain.pem"), "--name", "政府憑證管理中心",
            "--member", member.identifier, "--address", "127.0.0.1:5701", "--user", city_admin.username]
    # A certificate that does not chain to the file: refused, nothing trusted, nothing registered.
    with pytest.raises(CommandError) as failure:
        call_command(*base, "--cert", str(tmp_path / "stray.pem"), stdout=io.StringIO())
    assert failure.value.returncode == 2
    assert (TrustedCA.objects.count(), GatewayRow.objects.count()) == (0, 0)
    out = io.StringIO()
    call_command(*base, "--cert", str(tmp_path / "gw.pem"), stdout=out)
    assert json.loads(out.getvalue())["sha256"] == leaf.sha256
    assert sorted(TrustedCA.objects.values_list("subject", flat=True)) == ["CN=Test GCA", "CN=Test GRCA"]
    # Re-importing the chain adds nothing; the configuration publishes the city CA and the chain.
    call_command("exchange", "ca-import", "--chain", str(tmp_path / "gov-chain.pem"), "--user", city_admin.username,
                 stdout=io.StringIO())
    assert TrustedCA.objects.count() == 2
    ca_dir = var_dir / "exchange" / "ca"
    assert services.publish_configuration_file(ca_dir, tmp_path / "conf.json")
    conf = verify_configuration((tmp_path / "conf.json").read_bytes(),
                                load_public_key((ca_dir / "anchor.pem").read_bytes()))
    published = ca.load_certificates(conf.ca_certs_pem.encode())
    assert [c.subject.rfc4514_string() for c in published] == ["CN=citygov exchange CA", "CN=Test GCA",
                                                               "CN=Test GRCA"]
    assert conf.member_of_cert(leaf.sha256) == MemberId.parse(member.identifier)


RIGHTS = [{"service": "TYC/GOV/A002/HR/persons", "client": "TYC/GOV/A001/APP", "not_after": None, "grant": None}]


def test_government_issued_gateway_talks_mutual_tls(gov, tmp_path):
    world = support.make_world(tmp_path, ["A001", "A002"], rights=RIGHTS, extra_services={"A002": ["persons"]})
    # A002's gateway holds a government certificate (the leaf only: the intermediate comes from the
    # configuration's CA list).
    leaf = gov["issue"]("TYC/GOV/A002")
    (world.keys("A002") / "cert.pem").write_bytes(leaf.cert_pem)
    (world.keys("A002") / "key.pem").write_bytes(leaf.key_pem)
    world.members["A002"]["cert"] = leaf
    support.write_conf(world, rights=RIGHTS, extra_services={"A002": ["persons"]})
    document = json.loads(world.conf.read_bytes())
    document["configuration"]["ca_certs_pem"] += gov["chain"].decode()
    world.conf.write_bytes(sign_configuration(ca.load_signing_key(world.registry_key_pem), document["configuration"]))
    backend = support.start_backend()
    gateways = []
    for code, backends in (("A002", {"HR/persons": f"http://127.0.0.1:{backend.server_address[1]}/svc/persons"}),
                           ("A001", {})):
        keys = world.keys(code)
        gateway = Gateway(GatewaySettings(
            member=MemberId.parse(f"TYC/GOV/{code}"), listen=("127.0.0.1", 0),
            listen_tls=("127.0.0.1", world.members[code]["port"]), conf_source=str(world.conf),
            anchor_pem=world.anchor.read_bytes(), cert_pem=(keys / "cert.pem").read_bytes(),
            key_pem=(keys / "key.pem").read_bytes(), signing_key_pem=(keys / "sign.key.pem").read_bytes(),
            log_path=keys / "messages.jsonl", refresh_seconds=3600, backends=backends))
        gateway.start()
        gateways.append(gateway)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", gateways[1].consumer_server.server_address[1], timeout=10)
        conn.request("GET", "/r1/TYC/GOV/A002/HR/persons/1", headers={"X-Road-Client": "TYC/GOV/A001/APP"})
        response = conn.getresponse()
        body = json.loads(response.read())
        conn.close()
        assert (response.status, response.getheader("X-Road-Error"), body["path"]) == (200, None, "/svc/persons/1")
    finally:
        for gateway in gateways:
            gateway.stop()
        backend.shutdown()
