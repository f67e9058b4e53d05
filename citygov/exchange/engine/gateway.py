"""The exchange gateway: one process per member, two listeners.

* **Consumer side** (plain HTTP, for the member's own information systems, bind it to loopback or an
  internal network): ``{METHOD} /r1/{INSTANCE}/{CLASS}/{MEMBER}/{SUBSYSTEM}/{SERVICE}[/path][?query]``
  with ``X-Road-Client: INSTANCE/CLASS/MEMBER/SUBSYSTEM``. The client must be a registered subsystem of
  this gateway's member. The request is forwarded over mutual TLS to the provider's gateway, whose
  certificate must be the one registered for the provider member and not revoked; the response's
  ``X-Road-Request-Hash`` must equal the hash of what was sent.
* **Provider side** (mutual TLS, for other gateways): the peer certificate must be issued by a CA of the
  configuration, registered as a member's gateway and not revoked, and the ``X-Road-Client`` must belong
  to that member; then the access right (and its grant's end) is checked, replays of an ``X-Road-Id``
  are refused, and the request goes to the local service (no redirects followed, with a timeout).

Both sides write the message log (:mod:`citygov.exchange.engine.messagelog`) and refuse traffic when it
cannot be written. Errors carry ``X-Road-Error`` and a JSON body ``{"type", "message", "detail"}``; the
codes are listed in :data:`ERRORS` and in docs/exchange.md.

Pure Python (stdlib ``http.server``/``http.client``/``ssl`` + ``cryptography``), no Django: a gateway
needs only its keys, the anchor key and the signed configuration.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import socket
import ssl
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509

from citygov.exchange.engine import ca as ca_engine
from citygov.exchange.engine import http11
from citygov.exchange.engine.conf import AccessRight, ConfError, GlobalConf, load_public_key, verify_configuration
from citygov.exchange.engine.grants import GrantCheckError
from citygov.exchange.engine.hashing import body_hash, request_hash
from citygov.exchange.engine.identifiers import ClientId, IdentifierError, MemberId, ServiceId, split_request_path
from citygov.exchange.engine.messagelog import Exchange, MessageLog, MessageLogError, read_log, seal_payload
from citygov.exchange.engine.timestamp import TimestampError, request_timestamp

#: Every error the gateway returns: code → HTTP status. ``Client.*``: the caller's request is wrong;
#: ``Server.ClientProxy.*``: found by the consumer's gateway; ``Server.ServerProxy.*``: by the provider's.
ERRORS: dict[str, int] = {
    "Client.InvalidRequest": 400,
    "Client.InvalidClientId": 400,
    "Client.InvalidServiceId": 400,
    "Client.UnknownClient": 403,
    "Client.UnknownService": 404,
    "Client.UrlTooLong": 414,
    "Client.BodyTooLarge": 413,
    "Client.LengthRequired": 411,
    "Server.ClientProxy.OutdatedGlobalConf": 503,
    "Server.ClientProxy.UnknownMember": 502,
    "Server.ClientProxy.NetworkError": 502,
    "Server.ClientProxy.SslAuthenticationFailed": 502,
    "Server.ClientProxy.InvalidRequestHash": 502,
    "Server.ClientProxy.InvalidResponse": 502,
    "Server.ClientProxy.Timeout": 504,
    "Server.ClientProxy.MessageLogFailed": 500,
    "Server.ClientProxy.TimestampFailed": 503,
    "Server.ServerProxy.OutdatedGlobalConf": 503,
    "Server.ServerProxy.SslAuthenticationFailed": 403,
    "Server.ServerProxy.InvalidClient": 403,
    "Server.ServerProxy.InvalidRequest": 400,
    "Server.ServerProxy.UnknownService": 404,
    "Server.ServerProxy.AccessDenied": 403,
    "Server.ServerProxy.GrantExpired": 403,
    "Server.ServerProxy.GrantCheckFailed": 503,
    "Server.ServerProxy.DuplicateMessageId": 409,
    "Server.ServerProxy.ServiceNotConfigured": 502,
    "Server.ServerProxy.ServiceFailed": 502,
    "Server.ServerProxy.ServiceTimeout": 504,
    "Server.ServerProxy.MessageLogFailed": 500,
    "Server.ServerProxy.TimestampFailed": 503,
}

METADATA_SERVICES = frozenset({"listMethods", "allowedMethods", "getOpenAPI"})
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "trailers", "transfer-encoding", "upgrade", "proxy-connection", "host", "content-length"})
# Set by each hop itself; the upstream values are not passed on.
RESPONSE_OWN = frozenset({"server", "date"})
XROAD_HEADERS = frozenset({"x-road-client", "x-road-service", "x-road-id", "x-road-request-id",
                           "x-road-request-hash", "x-road-error"})


class GatewayError(Exception):
    """A request refused with one of :data:`ERRORS`."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message
        self.status = ERRORS[code]


@dataclass(frozen=True)
class GatewaySettings:
    """Everything a gateway needs; see ``citygov exchange gateway --help``."""

    member: MemberId
    listen: tuple[str, int]
    listen_tls: tuple[str, int]
    conf_source: str
    anchor_pem: bytes
    cert_pem: bytes
    key_pem: bytes
    signing_key_pem: bytes
    log_path: Path
    backends: Mapping[str, str] = field(default_factory=dict)  # "SUBSYSTEM/SERVICE" → base URL
    timeout: float = 10.0
    max_body: int = 10 * 1024 * 1024
    max_url: int = 4096
    refresh_seconds: float = 60.0
    replay_window_seconds: float = 24 * 3600.0
    #: Message-log records older than this are moved to gzip archives (``archive_dir``, default
    #: ``<log dir>/archive``) once an hour.
    retention_days: float = 30.0
    #: 32-byte AES key for the services whose payloads are stored (encrypted) in the message log.
    payload_key: bytes | None = None
    archive_dir: Path | None = None
    #: Live check of sharing grants kept outside the configuration (the data-governance module's, asked
    #: through the registry: :class:`citygov.exchange.engine.grants.RegistryGrantChecker`). Called on every
    #: call under an access right that names a grant; returns False when the grant is no longer current,
    #: raises ``GrantCheckError`` when it cannot tell (the call is then refused: fail closed).
    grant_is_current: Callable[[AccessRight], bool] | None = None
    #: The city's time-stamping authority (``citygov exchange tsa``): every ``timestamp_interval`` seconds
    #: the newest message-log record is time-stamped; when no stamp succeeded for ``timestamp_max_failure``
    #: seconds while records wait, the gateway refuses traffic (``TimestampFailed``) until one does.
    tsa_url: str = ""
    timestamp_interval: float = 60.0
    timestamp_max_failure: float = 4 * 3600.0


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def fetch_configuration(source: str, timeout: float = 10.0) -> bytes:
    """The configuration document from a path or an http(s) URL (no redirects followed)."""
    if source.startswith(("http://", "https://")):
        url = urllib.parse.urlsplit(source)
        conn_class = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        conn = conn_class(url.hostname, url.port, timeout=timeout)
        try:
            conn.request("GET", url.path + (f"?{url.query}" if url.query else ""))
            response = conn.getresponse()
            data = response.read(16 * 1024 * 1024)
        except OSError as exc:
            raise ConfError(f"cannot download the configuration from {source}: {exc} (無法下載設定檔)") from exc
        finally:
            conn.close()
        if response.status != 200:
            raise ConfError(f"downloading the configuration returned HTTP {response.status} (下載設定檔失敗)")
        return data
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise ConfError(f"cannot read the configuration {source}: {exc} (無法讀取設定檔)") from exc


class _Pool:
    """Idle keep-alive connections per address, shared by the handler threads."""

    def __init__(self, factory: Callable[[str], http.client.HTTPConnection]):
        self._factory = factory
        self._idle: dict[str, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()

    def get(self, address: str) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            idle = self._idle.get(address)
            if idle:
                return idle.pop(), True
        return self._factory(address), False

    def put(self, address: str, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            self._idle.setdefault(address, []).append(conn)

    def close(self) -> None:
        with self._lock:
            for conns in self._idle.values():
                for conn in conns:
                    conn.close()
            self._idle.clear()


def _open_socket(host: str, port: int, timeout: float | None) -> socket.socket:
    """A TCP connection with Nagle off: http.client writes headers and body separately, and with Nagle on
    the body waits for the peer's delayed ACK (~40 ms per call)."""
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _split_host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


class Gateway:
    """A running gateway. ``Gateway(settings)`` verifies the configuration (raising :class:`ConfError`,
    so a gateway with a bad configuration never starts) and opens the message log; :meth:`start`
    binds both listeners; :meth:`stop` shuts them down."""

    def __init__(self, settings: GatewaySettings):
        self.settings = settings
        self.anchor = load_public_key(settings.anchor_pem)
        self.conf: GlobalConf = verify_configuration(fetch_configuration(settings.conf_source), self.anchor)
        if settings.member not in self.conf.members:
            raise ConfError(f"member {settings.member} is not in the configuration (設定檔中無此成員)")
        self.signing_key = ca_engine.load_signing_key(settings.signing_key_pem)
        self.log = MessageLog(settings.log_path, self.signing_key)
        self.log_failed = False
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._seen_lock = threading.Lock()
        self._load_seen_ids()
        self._serials: dict[str, str] = {}
        self._stop = threading.Event()
        self._material = tempfile.TemporaryDirectory(prefix="citygov-gw-")
        material = Path(self._material.name)
        (material / "cert.pem").write_bytes(settings.cert_pem)
        (material / "key.pem").write_bytes(settings.key_pem)
        (material / "key.pem").chmod(0o600)
        self.client_ctx = self._context(ssl.Purpose.SERVER_AUTH, material)
        self.server_ctx = self._context(ssl.Purpose.CLIENT_AUTH, material)
        self.upstream = _Pool(self._tls_connection)
        self.backends = _Pool(self._backend_connection)
        self.consumer_server: ThreadingHTTPServer | None = None
        self.provider_server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # --- set-up ---------------------------------------------------------------------------------------
    def _context(self, purpose: ssl.Purpose, material: Path) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT if purpose == ssl.Purpose.SERVER_AUTH else ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(material / "cert.pem", material / "key.pem")
        if not self.conf.ca_certs_pem:
            raise ConfError("the configuration names no CA certificate (設定檔未包含 CA 憑證)")
        ctx.load_verify_locations(cadata=self.conf.ca_certs_pem)
        ctx.verify_mode = ssl.CERT_REQUIRED
        if purpose == ssl.Purpose.SERVER_AUTH:
            # Gateways are identified by their registered certificate fingerprint, not by host name.
            ctx.check_hostname = False
        return ctx

    def _tls_connection(self, address: str) -> http.client.HTTPSConnection:
        host, port = _split_host_port(address)
        return http11.HTTPSConnection(host, port, timeout=self.settings.timeout + 5, context=self.client_ctx)

    def _backend_connection(self, base: str) -> http.client.HTTPConnection:
        url = urllib.parse.urlsplit(base)
        conn_class = http11.HTTPSConnection if url.scheme == "https" else http11.HTTPConnection
        return conn_class(url.hostname, url.port, timeout=self.settings.timeout)

    def serial_of(self, der: bytes) -> str:
        """The serial (hex) of a DER certificate, cached by fingerprint."""
        fp = ca_engine.fingerprint(der)
        serial = self._serials.get(fp)
        if serial is None:
            serial = ca_engine.serial_hex(x509.load_der_x509_certificate(der))
            self._serials[fp] = serial
        return serial

    def refresh(self) -> bool:
        """Download and verify the configuration again; a document that fails is refused (the current one
        stays). Returns whether a new configuration was taken."""
        try:
            conf = verify_configuration(fetch_configuration(self.settings.conf_source), self.anchor)
        except ConfError as exc:
            print(f"exchange gateway: configuration refused: {exc}", file=sys.stderr, flush=True)
            return False
        if conf.ca_certs_pem != self.conf.ca_certs_pem:
            self.client_ctx.load_verify_locations(cadata=conf.ca_certs_pem)
            self.server_ctx.load_verify_locations(cadata=conf.ca_certs_pem)
        self.conf = conf
        return True

    def archive_log(self) -> int:
        """Archive message-log records older than the retention period; returns how many moved."""
        before = _now() - dt.timedelta(days=self.settings.retention_days)
        try:
            return self.log.archive(before, self.settings.archive_dir or self.settings.log_path.parent / "archive")
        except (OSError, ValueError, KeyError) as exc:
            # Archiving is housekeeping: the live log stays whole, traffic goes on; the operator sees this.
            print(f"exchange gateway: archiving the message log failed: {exc}", file=sys.stderr, flush=True)
            return 0

    def stamp_log(self) -> bool:
        """Time-stamp the newest message-log record at the TSA (a batch: the chain commits to every record
        before it). Returns whether a timestamp record was written; a failure is reported on stderr."""
        head = self.log.unstamped_head()
        if not self.settings.tsa_url or head is None:
            return False
        try:
            token = request_timestamp(self.settings.tsa_url, head[1], self.conf.ca_certs_pem,
                                      timeout=min(10.0, self.settings.timestamp_interval))
            self.log.append_timestamp(head[0], head[1], token)
        except TimestampError as exc:
            print(f"exchange gateway: time stamping failed: {exc}", file=sys.stderr, flush=True)
            return False
        except MessageLogError as exc:
            self.log_failed = True
            print(f"exchange gateway: the message log cannot be written: {exc}", file=sys.stderr, flush=True)
            return False
        return True

    def _stamper(self) -> None:
        while not self._stop.wait(self.settings.timestamp_interval):
            self.stamp_log()

    def _refresher(self) -> None:
        last_archive = 0.0
        while not self._stop.wait(self.settings.refresh_seconds):
            self.refresh()
            if time.monotonic() - last_archive >= 3600:
                self.archive_log()
                last_archive = time.monotonic()

    def start(self) -> None:
        """Bind and serve both sides in background threads."""
        gateway = self

        class Consumer(_Handler):
            side = "consumer"

            def handle_exchange(self) -> None:
                gateway.handle_consumer(self)

        class Provider(_Handler):
            side = "provider"

            def setup(self) -> None:
                self.request.settimeout(gateway.settings.timeout + 5)
                self.request.do_handshake()
                super().setup()

            def handle_exchange(self) -> None:
                gateway.handle_provider(self)

        self.consumer_server = _Server(self.settings.listen, Consumer)
        self.provider_server = _Server(self.settings.listen_tls, Provider)
        self.provider_server.socket = self.server_ctx.wrap_socket(self.provider_server.socket, server_side=True,
                                                                  do_handshake_on_connect=False)
        targets = [(self.consumer_server.serve_forever, {"poll_interval": 0.1}),
                   (self.provider_server.serve_forever, {"poll_interval": 0.1}), (self._refresher, {})]
        if self.settings.tsa_url:
            targets.append((self._stamper, {}))
        for target, kwargs in targets:
            thread = threading.Thread(target=target, kwargs=kwargs, daemon=True)
            thread.start()
            self._threads.append(thread)

    @property
    def addresses(self) -> dict[str, str]:
        """The bound addresses (useful when a port was 0)."""
        assert self.consumer_server and self.provider_server
        c, p = self.consumer_server.server_address, self.provider_server.server_address
        return {"listen": f"{c[0]}:{c[1]}", "listen_tls": f"{p[0]}:{p[1]}"}

    def stop(self) -> None:
        """Stop serving and close everything."""
        self._stop.set()
        for server in (self.consumer_server, self.provider_server):
            if server is not None:
                server.shutdown()
                server.server_close()
        self.upstream.close()
        self.backends.close()
        self.log.close()
        self._material.cleanup()

    # --- helpers --------------------------------------------------------------------------------------
    def _current_conf(self, prefix: str) -> GlobalConf:
        since = self.log.unstamped_since
        if self.settings.tsa_url and since is not None \
                and time.monotonic() - since > self.settings.timestamp_max_failure:
            raise GatewayError(f"{prefix}.TimestampFailed", "the message log could not be time-stamped for "
                               f"{self.settings.timestamp_max_failure:g} s (訊息紀錄時戳失敗)")
        conf = self.conf
        if conf.expires_at <= _now():
            raise GatewayError(f"{prefix}.OutdatedGlobalConf",
                               "the global configuration has expired (全域設定已過期)")
        return conf

    def _write_log(self, record: Exchange, prefix: str) -> None:
        if self.log_failed:
            raise GatewayError(f"{prefix}.MessageLogFailed", "the message log cannot be written (訊息紀錄無法寫入)")
        try:
            self.log.append(record)
        except MessageLogError as exc:
            self.log_failed = True
            raise GatewayError(f"{prefix}.MessageLogFailed",
                               "the message log cannot be written (訊息紀錄無法寫入)") from exc

    def _load_seen_ids(self) -> None:
        """Replay protection survives a restart: the X-Road-Ids this provider served inside the window are
        read back from the message log."""
        horizon = _now() - dt.timedelta(seconds=self.settings.replay_window_seconds)
        now = time.monotonic()
        try:
            for _line, record, _raw in read_log(self.settings.log_path):
                if not record or record.get("side") != "provider" or not record.get("x_road_id"):
                    continue
                try:
                    moment = dt.datetime.fromisoformat(record["time"])
                except (KeyError, ValueError):
                    continue
                if moment >= horizon:
                    age = (_now() - moment).total_seconds()
                    self._seen[record["x_road_id"]] = now - max(0.0, age)
        except OSError:
            pass  # no log yet

    def _remember(self, x_road_id: str) -> bool:
        """Record an X-Road-Id; False when it was already seen inside the replay window."""
        now = time.monotonic()
        with self._seen_lock:
            while self._seen:
                oldest, seen_at = next(iter(self._seen.items()))
                if now - seen_at < self.settings.replay_window_seconds:
                    break
                self._seen.pop(oldest)
            if x_road_id in self._seen:
                return False
            self._seen[x_road_id] = now
            return True

    # --- consumer side --------------------------------------------------------------------------------
    def handle_consumer(self, h: _Handler) -> None:
        """An information system of this member calls a service of another member."""
        started = time.perf_counter()
        x_road_id = str(uuid.uuid4())
        client_text, service_text = h.headers.get("X-Road-Client", ""), ""
        try:
            conf = self._current_conf("Server.ClientProxy")
            if len(h.path) > self.settings.max_url:
                raise GatewayError("Client.UrlTooLong", f"the URL is longer than {self.settings.max_url} characters")
            url = urllib.parse.urlsplit(h.path)
            if not url.path.startswith("/r1/"):
                raise GatewayError("Client.InvalidRequest", "the path must start with /r1/ (路徑須以 /r1/ 開頭)")
            try:
                client = ClientId.parse(client_text)
            except IdentifierError as exc:
                raise GatewayError("Client.InvalidClientId", str(exc)) from exc
            if client.member != self.settings.member or client not in conf.subsystems:
                raise GatewayError("Client.UnknownClient",
                                   f"{client} is not a registered subsystem of {self.settings.member} (未註冊的用戶端)")
            try:
                provider, service_code, _rest = split_request_path(urllib.parse.unquote(url.path[4:]))
            except IdentifierError as exc:
                raise GatewayError("Client.InvalidServiceId", str(exc)) from exc
            if service_code is None:
                raise GatewayError("Client.InvalidServiceId", "the path names no service (路徑未指定服務)")
            service_text = f"{provider}/{service_code}"
            if service_code not in METADATA_SERVICES and provider.service(service_code) not in conf.services:
                raise GatewayError("Client.UnknownService", f"unknown service {service_text} (查無此服務)")
            gateway = conf.gateway_of(provider.member)
            if gateway is None:
                raise GatewayError("Server.ClientProxy.UnknownMember",
                                   f"{provider.member} has no registered gateway (提供機關未登錄閘道)")
            body = h.read_body(self.settings.max_body)
            headers = {k: v for k, v in h.headers.items()
                       if k.lower() not in HOP_BY_HOP and k.lower() not in XROAD_HEADERS}
            headers.update({"X-Road-Client": str(client), "X-Road-Service": service_text, "X-Road-Id": x_road_id,
                            "X-Road-Request-Id": h.headers.get("X-Road-Request-Id") or str(uuid.uuid4())})
            sent_hash = request_hash(h.command, h.path, headers, body)
            status, reply_headers, reply = self._forward_tls(conf, gateway.address, gateway.cert_sha256, h.command,
                                                             h.path, headers, body)
            error = reply_headers.get("x-road-error", "")
            if not error:
                if reply_headers.get("x-road-request-hash") != sent_hash:
                    raise GatewayError("Server.ClientProxy.InvalidRequestHash",
                                       "the provider's X-Road-Request-Hash does not match the request (請求雜湊不符)")
                if reply_headers.get("x-road-id") != x_road_id:
                    raise GatewayError("Server.ClientProxy.InvalidResponse", "the response is for another X-Road-Id")
            self._write_log(Exchange(_now().isoformat(), "consumer", x_road_id, str(client), service_text, sent_hash,
                                     body_hash(reply), status, error,
                                     int((time.perf_counter() - started) * 1000)), "Server.ClientProxy")
            out = [(k, v) for k, v in reply_headers.items() if k not in HOP_BY_HOP and k not in RESPONSE_OWN]
            h.send(status, out, reply)
        except GatewayError as exc:
            self._log_error(exc, "consumer", x_road_id, client_text, service_text, started, "Server.ClientProxy")
            h.send_error_json(exc, x_road_id)

    def _forward_tls(self, conf: GlobalConf, address: str, expected_sha256: str, method: str, path: str,
                     headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        for attempt in range(2):
            conn, reused = self.upstream.get(address)
            try:
                if conn.sock is None:
                    # Open the TLS session here, not inside request(), so the peer is checked before any byte
                    # of the request leaves.
                    conn.sock = self.client_ctx.wrap_socket(_open_socket(conn.host, conn.port, conn.timeout))
                    der = conn.sock.getpeercert(binary_form=True)
                    if ca_engine.fingerprint(der) != expected_sha256 or self.serial_of(der) in conf.revoked_serials:
                        conn.close()
                        raise GatewayError("Server.ClientProxy.SslAuthenticationFailed",
                                           "the provider gateway's certificate is not the registered one or is revoked"
                                           " (提供端閘道憑證不符或已廢止)")
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read(self.settings.max_body + 1)
                if len(data) > self.settings.max_body:
                    conn.close()
                    raise GatewayError("Server.ClientProxy.InvalidResponse", "the response is too large")
                reply_headers = {k.lower(): v for k, v in response.getheaders()}
                if response.will_close:
                    conn.close()
                else:
                    self.upstream.put(address, conn)
                return response.status, reply_headers, data
            except GatewayError:
                raise
            except TimeoutError as exc:
                conn.close()
                raise GatewayError("Server.ClientProxy.Timeout", "the provider gateway did not answer in time") from exc
            except ssl.SSLError as exc:
                conn.close()
                raise GatewayError("Server.ClientProxy.SslAuthenticationFailed",
                                   f"TLS with the provider gateway failed: {exc.reason}") from exc
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if reused and attempt == 0:
                    continue  # a kept-alive connection the peer had closed: retry once on a fresh one
                raise GatewayError("Server.ClientProxy.NetworkError",
                                   f"cannot reach the provider gateway at {address}: {exc} (無法連線提供端閘道)") from exc
        raise GatewayError("Server.ClientProxy.NetworkError", f"cannot reach the provider gateway at {address}")

    # --- provider side --------------------------------------------------------------------------------
    def handle_provider(self, h: _Handler) -> None:
        """Another member's gateway calls one of this member's services."""
        started = time.perf_counter()
        x_road_id = h.headers.get("X-Road-Id", "")
        client_text, service_text = h.headers.get("X-Road-Client", ""), h.headers.get("X-Road-Service", "")
        try:
            conf = self._current_conf("Server.ServerProxy")
            der = h.request.getpeercert(binary_form=True)
            peer = conf.member_of_cert(ca_engine.fingerprint(der)) if der else None
            if peer is None or self.serial_of(der) in conf.revoked_serials:
                raise GatewayError("Server.ServerProxy.SslAuthenticationFailed",
                                   "the client gateway's certificate is not registered or is revoked (憑證未登錄或已廢止)")
            try:
                client = ClientId.parse(client_text)
                provider, service_code, rest = split_request_path(
                    urllib.parse.unquote(urllib.parse.urlsplit(h.path).path[4:]))
            except IdentifierError as exc:
                raise GatewayError("Server.ServerProxy.InvalidRequest", str(exc)) from exc
            if client.member != peer or client not in conf.subsystems:
                raise GatewayError("Server.ServerProxy.InvalidClient",
                                   f"{client} is not a subsystem of the calling gateway's member {peer} (用戶端與憑證不符)")
            if provider.member != self.settings.member or service_code is None \
                    or service_text != f"{provider}/{service_code}" or not x_road_id:
                raise GatewayError("Server.ServerProxy.InvalidRequest",
                                   "X-Road-Service, X-Road-Id and the path do not agree (標頭與路徑不符)")
            if len(h.path) > self.settings.max_url:
                raise GatewayError("Client.UrlTooLong", f"the URL is longer than {self.settings.max_url} characters")
            body = h.read_body(self.settings.max_body)
            if not self._remember(x_road_id):
                raise GatewayError("Server.ServerProxy.DuplicateMessageId",
                                   f"X-Road-Id {x_road_id} was already used (重送的訊息)")
            forwarded = {k: v for k, v in h.headers.items() if k.lower() not in HOP_BY_HOP}
            sealed = ""
            received_hash = request_hash(h.command, h.path, forwarded, body)
            if service_code in METADATA_SERVICES:
                status, out, reply = self._metadata(conf, client, provider, service_code, h.path)
            else:
                service = provider.service(service_code)
                if service not in conf.services:
                    raise GatewayError("Server.ServerProxy.UnknownService", f"unknown service {service} (查無此服務)")
                self._check_access(conf, service, client)
                store = conf.services[service].store_payloads
                if store and not self.settings.payload_key:
                    raise GatewayError("Server.ServerProxy.ServiceNotConfigured",
                                       f"{service} stores payloads but this gateway has no payload key (缺少內容加密金鑰)")
                status, out, reply = self._call_backend(service, h.command, rest, urllib.parse.urlsplit(h.path).query,
                                                        forwarded, body)
                if store:
                    sealed = seal_payload(self.settings.payload_key, x_road_id, body, reply)
            self._write_log(Exchange(_now().isoformat(), "provider", x_road_id, str(client), service_text,
                                     received_hash, body_hash(reply), status, "",
                                     int((time.perf_counter() - started) * 1000), sealed), "Server.ServerProxy")
            out += [("X-Road-Client", str(client)), ("X-Road-Service", service_text), ("X-Road-Id", x_road_id),
                    ("X-Road-Request-Id", h.headers.get("X-Road-Request-Id", "")),
                    ("X-Road-Request-Hash", received_hash)]
            h.send(status, out, reply)
        except GatewayError as exc:
            self._log_error(exc, "provider", x_road_id, client_text, service_text, started, "Server.ServerProxy")
            h.send_error_json(exc, x_road_id)

    def _check_access(self, conf: GlobalConf, service: ServiceId, client: ClientId) -> AccessRight:
        right = conf.access(service, client)
        if right is None:
            raise GatewayError("Server.ServerProxy.AccessDenied",
                               f"{client} has no access right to {service} (無存取權限)")
        expired = right.not_after is not None and right.not_after <= _now()
        if not expired and right.grant and self.settings.grant_is_current is not None:
            try:
                expired = not self.settings.grant_is_current(right)
            except GrantCheckError as exc:
                raise GatewayError("Server.ServerProxy.GrantCheckFailed",
                                   f"the sharing grant for {client} on {service} cannot be checked: {exc}") from exc
        if expired:
            raise GatewayError("Server.ServerProxy.GrantExpired",
                               f"the sharing grant for {client} on {service} is no longer current (資料分享授權已過期)")
        return right

    def _metadata(self, conf: GlobalConf, client: ClientId, provider: ClientId, name: str,
                  path: str) -> tuple[int, list[tuple[str, str]], bytes]:
        services = conf.services_of(provider)
        if name == "getOpenAPI":
            code = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query).get("serviceCode", [""])[0]
            service = next((s for s in services if s.id.service_code == code), None)
            if service is None:
                raise GatewayError("Server.ServerProxy.UnknownService", f"unknown service code {code!r} (查無此服務)")
            self._check_access(conf, service.id, client)
            payload: object = service.openapi
        else:
            if name == "allowedMethods":
                now = _now()
                services = [s for s in services if (r := conf.access(s.id, client)) is not None
                            and (r.not_after is None or r.not_after > now)]
            payload = {"service": [{"service_code": s.id.service_code, "title": s.title, "id": str(s.id)}
                                   for s in services]}
        return 200, [("Content-Type", "application/json")], json.dumps(payload, ensure_ascii=False).encode("utf-8")

    def _call_backend(self, service: ServiceId, method: str, rest: str, query: str, headers: dict[str, str],
                      body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        base = self.settings.backends.get(f"{service.subsystem}/{service.service_code}")
        if not base:
            raise GatewayError("Server.ServerProxy.ServiceNotConfigured",
                               f"no local address is configured for {service} (服務未設定本機位址)")
        url = urllib.parse.urlsplit(base)
        target = url.path.rstrip("/") + rest + (f"?{query}" if query else "")
        for attempt in range(2):
            conn, reused = self.backends.get(base)
            try:
                if conn.sock is None and not isinstance(conn, http.client.HTTPSConnection):
                    conn.sock = _open_socket(conn.host, conn.port, conn.timeout)
                conn.request(method, target or "/", body=body, headers=headers)
                response = conn.getresponse()
                data = response.read(self.settings.max_body + 1)
                if len(data) > self.settings.max_body:
                    conn.close()
                    raise GatewayError("Server.ServerProxy.ServiceFailed", "the service's response is too large")
                out = [(k, v) for k, v in response.getheaders()
                       if k.lower() not in HOP_BY_HOP and k.lower() not in XROAD_HEADERS and k.lower() not in RESPONSE_OWN]
                if response.will_close:
                    conn.close()
                else:
                    self.backends.put(base, conn)
                return response.status, out, data
            except GatewayError:
                raise
            except TimeoutError as exc:
                conn.close()
                raise GatewayError("Server.ServerProxy.ServiceTimeout",
                                   f"the service did not answer within {self.settings.timeout:g} s (服務逾時)") from exc
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if reused and attempt == 0:
                    continue
                raise GatewayError("Server.ServerProxy.ServiceFailed", f"the service failed: {exc} (服務呼叫失敗)") from exc
        raise GatewayError("Server.ServerProxy.ServiceFailed", "the service failed (服務呼叫失敗)")

    def _log_error(self, exc: GatewayError, side: str, x_road_id: str, client: str, service: str, started: float,
                   prefix: str) -> None:
        if exc.code.endswith("MessageLogFailed"):
            return
        try:
            self._write_log(Exchange(_now().isoformat(), side, x_road_id, client[:200], service[:300], "", "",
                                     exc.status, exc.code, int((time.perf_counter() - started) * 1000)), prefix)
        except GatewayError as log_exc:  # fail closed: the error becomes the log failure
            exc.code, exc.status, exc.message = log_exc.code, log_exc.status, log_exc.message


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address) -> None:
        # Failed handshakes and dropped connections are normal on a network listener: no traceback spam.
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError | ssl.SSLError):
            super().handle_error(request, client_address)


_DATE_CACHE: list = [0, ""]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "citygov-exchange"
    # Headers and body go out in separate writes; with Nagle on, the second waits for a delayed ACK (~40 ms).
    disable_nagle_algorithm = True
    sys_version = ""
    side = ""

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        """Requests are in the message log; the access log stays quiet."""

    def parse_request(self) -> bool:
        # The stdlib parses headers with the email package: a third of a call's CPU (see engine/http11.py).
        return http11.parse_request(self)

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header changes once a second; formatting it on every response is measurable.
        if timestamp is not None:
            return super().date_time_string(timestamp)
        now = int(time.time())
        cached = _DATE_CACHE
        if cached[0] != now:
            cached[:] = [now, super().date_time_string(now)]
        return cached[1]

    def handle_exchange(self) -> None:
        raise NotImplementedError

    body_consumed = False

    def _dispatch(self) -> None:
        self.body_consumed = False
        self.handle_exchange()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def read_body(self, limit: int) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise GatewayError("Client.LengthRequired", "send Content-Length; chunked bodies are not accepted")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError as exc:
            self.close_connection = True
            raise GatewayError("Client.InvalidRequest", "bad Content-Length") from exc
        if length < 0 or length > limit:
            self.close_connection = True
            raise GatewayError("Client.BodyTooLarge", f"the body is larger than {limit} bytes (內容過大)")
        body = self.rfile.read(length) if length else b""
        self.body_consumed = True
        return body

    def send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_error_json(self, exc: GatewayError, x_road_id: str) -> None:
        if not self.body_consumed and (self.headers.get("Content-Length", "0") not in ("", "0")
                                       or self.headers.get("Transfer-Encoding")):
            self.close_connection = True  # the unread body would be taken for the next request
        body = json.dumps({"type": exc.code, "message": exc.message, "detail": x_road_id},
                          ensure_ascii=False).encode("utf-8")
        self.send(exc.status, [("Content-Type", "application/json; charset=utf-8"), ("X-Road-Error", exc.code),
                               ("X-Road-Id", x_road_id)], body)


def run(settings: GatewaySettings, *, ready: Callable[[dict[str, str]], None] | None = None,
        stop: threading.Event | None = None) -> None:
    """Start a gateway and serve until ``stop`` is set (or forever)."""
    gateway = Gateway(settings)
    gateway.start()
    if ready is not None:
        ready(gateway.addresses)
    try:
        (stop or threading.Event()).wait()
    finally:
        gateway.stop()


def free_port(host: str = "127.0.0.1") -> int:
    """A currently free TCP port (for tests and demos)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
