"""The city's time-stamping authority (TSA) and its tokens, RFC 3161 in spirit, JSON in form.

A gateway time-stamps its message log in batches: every ``--timestamp-interval`` seconds it sends the
hash of its newest record (which, the log being a hash chain, commits to every record before it) to the
TSA and appends the token to the log as a chained *timestamp record*. ``verify-log --tsa-ca`` then proves
when the records existed, independently of the gateway's own clock.

A token mirrors RFC 3161's ``TSTInfo`` (version, policy, message imprint, serial number, generation time,
accuracy, nonce, TSA name), signed by the TSA's key (ECDSA P-256 over the canonical JSON of ``tst_info``)
and carrying the TSA's certificate, which the city CA issued for time stamping only (extended key usage
``timeStamping``, critical, as RFC 3161 requires)::

    {"tst_info": {"version": 1, "policy": "citygov.exchange.tsa/1",
                  "message_imprint": {"hash_algorithm": "sha-256", "hashed_message": "<64 hex>"},
                  "serial_number": 17, "gen_time": "2026-03-01T04:00:00.123456+00:00", "accuracy_ms": 1000,
                  "nonce": "<the requester's>", "tsa": "<TSA certificate subject>"},
     "signature": {"algorithm": "ecdsa-with-SHA256", "value": "<base64 DER>"},
     "certificate": "-----BEGIN CERTIFICATE-----…"}

Pure Python (``cryptography`` and the standard library), no Django.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import itertools
import json
import re
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from citygov.exchange.engine.conf import canonical_json

POLICY = "citygov.exchange.tsa/1"
HASH_ALGORITHM = "sha-256"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class TimestampError(ValueError):
    """A time-stamp request is malformed, the TSA cannot be reached, or a token does not verify."""


def _pem_certificates(pem: bytes | str) -> list[x509.Certificate]:
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise TimestampError(f"unreadable CA certificates: {exc} (無法讀取 CA 憑證)") from exc


@dataclass
class TimeStampAuthority:
    """Issues tokens with one key and certificate. Thread-safe (serial numbers never repeat)."""

    key_pem: bytes
    cert_pem: bytes
    accuracy_ms: int = 1000

    def __post_init__(self) -> None:
        try:
            self._key = serialization.load_pem_private_key(self.key_pem, password=None)
            self._cert = x509.load_pem_x509_certificate(self.cert_pem)
        except ValueError as exc:
            raise TimestampError(f"unreadable TSA key or certificate: {exc} (無法讀取時戳金鑰或憑證)") from exc
        if not isinstance(self._key, ec.EllipticCurvePrivateKey):
            raise TimestampError("the TSA key must be an ECDSA key (時戳金鑰須為 ECDSA)")
        _check_tsa_certificate(self._cert)
        # Serial numbers: the start time in microseconds, then counting up: unique across restarts too.
        self._serials = itertools.count(time.time_ns() // 1000)
        self._lock = threading.Lock()

    def stamp(self, hashed_message: str, nonce: str, *, now: dt.datetime | None = None) -> dict[str, Any]:
        """A signed token over ``hashed_message`` (SHA-256, hex). Raises :class:`TimestampError` on bad input."""
        hashed_message = (hashed_message or "").lower()
        if not _HEX64.match(hashed_message):
            raise TimestampError("hashed_message must be a SHA-256 digest in hex (64 characters) (雜湊值格式錯誤)")
        if not _NONCE.match(nonce or ""):
            raise TimestampError("nonce must be 8-64 letters, digits, - or _ (nonce 格式錯誤)")
        with self._lock:
            serial = next(self._serials)
        info = {"version": 1, "policy": POLICY,
                "message_imprint": {"hash_algorithm": HASH_ALGORITHM, "hashed_message": hashed_message},
                "serial_number": serial, "gen_time": (now or dt.datetime.now(dt.UTC)).isoformat(),
                "accuracy_ms": self.accuracy_ms, "nonce": nonce, "tsa": self._cert.subject.rfc4514_string()}
        signature = self._key.sign(canonical_json(info), ec.ECDSA(hashes.SHA256()))
        return {"tst_info": info, "signature": {"algorithm": "ecdsa-with-SHA256",
                                                "value": base64.b64encode(signature).decode("ascii")},
                "certificate": self.cert_pem.decode("ascii")}


def _check_tsa_certificate(cert: x509.Certificate) -> None:
    try:
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound as exc:
        raise TimestampError("the TSA certificate has no extended key usage (時戳憑證缺少用途)") from exc
    if list(usage.value) != [ExtendedKeyUsageOID.TIME_STAMPING] or not usage.critical:
        raise TimestampError("the TSA certificate is not for time stamping only (時戳憑證用途錯誤)")


def verify_token(token: Mapping[str, Any], hashed_message: str, ca_certs_pem: bytes | str, *,
                 nonce: str | None = None) -> dt.datetime:
    """Check a token against the hash it should cover and the CA(s) that may issue TSA certificates.

    Returns the token's generation time. Raises :class:`TimestampError` when the certificate was not
    issued by one of the CAs, is not a time-stamping certificate or was not valid at the generation time,
    when the signature fails, or when the imprint (or the nonce, if given) differs.
    """
    try:
        info = token["tst_info"]
        cert = x509.load_pem_x509_certificate(str(token["certificate"]).encode("ascii"))
        signature = base64.b64decode(token["signature"]["value"], validate=True)
        imprint = info["message_imprint"]
        gen_time = dt.datetime.fromisoformat(info["gen_time"])
    except (KeyError, TypeError, ValueError) as exc:
        raise TimestampError(f"unreadable time-stamp token: {exc} (無法讀取時戳)") from exc
    if not any(_issued_by(cert, ca) for ca in _pem_certificates(ca_certs_pem)):
        raise TimestampError("the TSA certificate was not issued by a trusted CA (時戳憑證非受信任 CA 簽發)")
    _check_tsa_certificate(cert)
    if gen_time.tzinfo is None or not cert.not_valid_before_utc <= gen_time <= cert.not_valid_after_utc:
        raise TimestampError("the TSA certificate was not valid at the time stamped (時戳憑證於該時間無效)")
    public = cert.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise TimestampError("the TSA certificate does not hold an ECDSA key (時戳憑證金鑰錯誤)")
    try:
        public.verify(signature, canonical_json(info), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise TimestampError("the time-stamp signature does not verify (時戳簽章驗證失敗)") from exc
    if imprint.get("hash_algorithm") != HASH_ALGORITHM or imprint.get("hashed_message") != hashed_message.lower():
        raise TimestampError("the time stamp covers another hash (時戳對應的雜湊值不符)")
    if nonce is not None and info.get("nonce") != nonce:
        raise TimestampError("the time stamp answers another request (時戳 nonce 不符)")
    return gen_time


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except Exception:  # noqa: BLE001 - a wrong issuer raises ValueError, TypeError or InvalidSignature
        return False
    return True


def request_timestamp(url: str, hashed_message: str, ca_certs_pem: bytes | str, *,
                      timeout: float = 10.0) -> dict[str, Any]:
    """Ask the TSA at ``url`` for a token over ``hashed_message`` and verify it (nonce included)."""
    nonce = secrets.token_urlsafe(18)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TimestampError(f"the TSA URL must be http(s)://host/..., not {url!r} (時戳服務網址錯誤)")
    conn_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = conn_class(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("POST", parts.path or "/", body=canonical_json(
            {"hash_algorithm": HASH_ALGORITHM, "hashed_message": hashed_message, "nonce": nonce}),
            headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read(256 * 1024)
    except (OSError, http.client.HTTPException) as exc:
        raise TimestampError(f"cannot reach the time-stamping authority at {url}: {exc} (無法連線時戳服務)") from exc
    finally:
        conn.close()
    if response.status != 200:
        raise TimestampError(f"the time-stamping authority answered HTTP {response.status} (時戳服務錯誤)")
    try:
        token = json.loads(data)
    except ValueError as exc:
        raise TimestampError("the time-stamping authority's answer is not JSON (時戳格式錯誤)") from exc
    verify_token(token, hashed_message, ca_certs_pem, nonce=nonce)
    return token


class _TsaHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "citygov-tsa"
    sys_version = ""
    tsa: TimeStampAuthority

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        """Quiet: the gateways log what they stamp."""

    def _send(self, status: int, payload: Mapping[str, Any]) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= 4096:
            self.close_connection = True
            self._send(400, {"error": "send a JSON body of at most 4096 bytes (請求內容長度錯誤)"})
            return
        try:
            request = json.loads(self.rfile.read(length))
            if request.get("hash_algorithm") != HASH_ALGORITHM:
                raise TimestampError("hash_algorithm must be sha-256 (僅支援 sha-256)")
            token = self.tsa.stamp(str(request.get("hashed_message", "")), str(request.get("nonce", "")))
        except (ValueError, AttributeError) as exc:
            self._send(400, {"error": str(exc) if isinstance(exc, TimestampError) else
                             "the body must be a JSON object (請求須為 JSON 物件)"})
            return
        self._send(200, token)


def serve_tsa(tsa: TimeStampAuthority, listen: tuple[str, int], *,
              ready: Callable[[str], None] | None = None, stop: threading.Event | None = None) -> None:
    """Serve ``POST /`` time-stamp requests on ``listen`` until ``stop`` is set (or forever)."""
    handler = type("TsaHandler", (_TsaHandler,), {"tsa": tsa})
    server = ThreadingHTTPServer(listen, handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    if ready is not None:
        host, port = server.server_address[:2]
        ready(f"{host}:{port}")
    try:
        (stop or threading.Event()).wait()
    finally:
        server.shutdown()
        server.server_close()
