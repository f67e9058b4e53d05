"""The syslog listener over real UDP and TCP sockets on free ports: count in = count stored."""

from __future__ import annotations

import socket
import time

import pytest

from citygov.soc.listener import Listener
from citygov.soc.models import Alert, AlertImport

CEF = ("<134>May  2 14:03:09 fw01 CEF:0|Vendor|IPS|1.0|{sid}|Port scan {n}|5|rt={rt} src=203.0.113.{h} "
       "spt={port} dst=10.1.0.5 dpt=22 proto=TCP externalId=evt-{n}")


def _wait_for(listener: Listener, count: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while listener.received < count and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
def test_udp_and_tcp_messages_are_stored(analyst, networks):
    listener = Listener(analyst, udp_port=0, tcp_port=0).start()
    try:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for n in range(50):
            udp.sendto(CEF.format(sid=100, n=n, rt=1714630989000 + n, h=n % 5, port=40000 + n).encode(),
                       ("127.0.0.1", listener.udp_port))
        udp.sendto(b"<134>garbage that is not an alert", ("127.0.0.1", listener.udp_port))
        with socket.create_connection(("127.0.0.1", listener.tcp_port)) as tcp:
            payload = "".join(CEF.format(sid=200, n=1000 + n, rt=1714631989000 + n, h=7, port=50000 + n) + "\n"
                              for n in range(50))
            tcp.sendall(payload.encode())
        _wait_for(listener, 101)
        created, duplicates, rejected = listener.flush()
    finally:
        listener.stop()
    assert (created, duplicates, rejected) == (100, 0, 1)
    assert Alert.objects.count() == 100
    run = AlertImport.objects.get()
    assert (run.records, run.created, run.rejected) == (101, 100, 1)
    assert run.rejected_lines[0]["reason"] == "neither CEF, LEEF nor JSON"
    assert Alert.objects.filter(agency__isnull=False).count() == 100


# --- RFC 6587 framing and TLS (RFC 5425) ----------------------------------------------------------

def _frame(text: str) -> bytes:
    body = text.encode()
    return str(len(body)).encode() + b" " + body


def test_frames_octet_counted_and_newline_mixed():
    import io

    from citygov.soc.listener import FramingError, frames

    one, two = "<134>CEF:0|V|P|1|1|a\nmultiline|5|src=203.0.113.1", "<134>CEF:0|V|P|1|2|b|5|src=203.0.113.2"
    stream = _frame(one) + _frame(two) + b"<134>plain line\n" + b"12x oops\n" + _frame(two) + b"\n" + b"99 short"
    got = list(frames(io.BufferedReader(io.BytesIO(stream))))
    assert [g if isinstance(g, bytes) else type(g) for g in got] == [
        one.encode(), two.encode(), b"<134>plain line\n", FramingError, two.encode(), b"\n"]


def _self_signed(tmp_path):
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "soc-listener.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.mark.django_db(transaction=True)
def test_octet_counted_tcp_and_tls_are_stored(analyst, networks, tmp_path):
    import ssl

    from citygov.soc.listener import tls_context

    cert, key = _self_signed(tmp_path)
    listener = Listener(analyst, tcp_port=0, tls_port=0, tls=tls_context(cert, key)).start()
    try:
        with socket.create_connection(("127.0.0.1", listener.tcp_port)) as tcp:
            tcp.sendall(b"".join(_frame(CEF.format(sid=300, n=n, rt=1714632989000 + n, h=3, port=41000 + n))
                                 for n in range(30)))
        client = ssl.create_default_context(cafile=str(cert))
        with socket.create_connection(("127.0.0.1", listener.tls_port)) as raw, \
                client.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"".join(_frame(CEF.format(sid=400, n=n, rt=1714633989000 + n, h=4, port=42000 + n))
                                 for n in range(100, 130)) + b"5x bad\n")
        with socket.create_connection(("127.0.0.1", listener.tls_port)) as plain:  # no TLS: nothing stored
            plain.sendall(_frame(CEF.format(sid=500, n=999, rt=1714634989000, h=5, port=43000)))
        _wait_for(listener, 61)
        created, duplicates, rejected = listener.flush()
    finally:
        listener.stop()
    assert (created, duplicates, rejected) == (60, 0, 1)
    assert Alert.objects.filter(signature_id="400").count() == 30
    assert Alert.objects.filter(signature_id="500").count() == 0
    assert AlertImport.objects.get().rejected_lines[0]["reason"].startswith("bad octet-counted frame length")


def test_tls_configuration_is_checked(tmp_path):
    from citygov import config

    cert, key = _self_signed(tmp_path)
    env = config.environment({"CITYGOV_SOC_SYSLOG_TLS_CERT": str(cert), "CITYGOV_SOC_SYSLOG_TLS_KEY": str(key)})
    assert config.soc_settings(env).syslog_tls_key == key.resolve()
    with pytest.raises(config.ConfigError, match="must be set together"):
        config.soc_settings(config.environment({"CITYGOV_SOC_SYSLOG_TLS_CERT": str(cert)}))
    with pytest.raises(config.ConfigError, match="not a readable file"):
        config.soc_settings(config.environment({"CITYGOV_SOC_SYSLOG_TLS_CERT": str(tmp_path / "missing.pem"),
                                                "CITYGOV_SOC_SYSLOG_TLS_KEY": str(key)}))
