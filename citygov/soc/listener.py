"""The syslog listener of ``citygov soc listen``: UDP datagrams (one message each), TCP streams and
TLS streams (RFC 5425) carrying CEF, LEEF or JSON alerts.

Stream framing (RFC 6587) is detected per message: a frame that starts with a digit is
octet-counted (``MSG-LEN SP MSG``, section 3.4.1, the framing RFC 5425 requires over TLS); any
other is newline-terminated (non-transparent framing, section 3.4.2). Senders may mix both on one
connection. A malformed length is rejected and the reader resynchronises at the next newline.

Receiving threads only parse and queue; the flushing thread stores each batch through
:func:`citygov.soc.services.do_store_alerts`. Bad messages are counted and kept (peer and reason,
never the message text, which may carry personal data) on the session's import row.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from citygov.soc.engine import formats
from citygov.soc.engine.normalise import BadRecord

logger = logging.getLogger(__name__)
MAX_DATAGRAM = 65535
MAX_LINE = 1 << 20
MAX_LENGTH_DIGITS = 7  # MSG-LEN of at most 9,999,999 octets (we keep at most MAX_LINE of a message)
UDP_BATCH = 256  # datagrams parsed and queued together when they arrive faster than one at a time
STREAM_BUFFER = 1 << 18  # read buffer of a TCP/TLS connection


class FramingError(ValueError):
    """An octet-counted frame whose length is not ``digits SP``."""


def frames(rfile) -> Iterator[bytes | FramingError]:
    """The messages of one syslog stream (a buffered binary file), octet-counted or newline-framed,
    detected per message (RFC 6587 section 3.4). A bad length yields a :class:`FramingError` and
    reading resumes after the next newline."""
    while True:
        first = rfile.peek(1)[:1]
        if not first:
            return
        if not first.isdigit():
            line = rfile.readline(MAX_LINE)
            if not line:
                return
            yield line
            continue
        digits = b""
        while True:
            char = rfile.read(1)
            if not char:
                return  # the stream ended inside a length
            if char == b" ":
                break
            if not char.isdigit() or len(digits) >= MAX_LENGTH_DIGITS:
                rfile.readline(MAX_LINE)
                yield FramingError(f"bad octet-counted frame length {(digits + char)[:12]!r}")
                digits = None
                break
            digits += char
        if digits is None:
            continue
        length = int(digits)
        body = rfile.read(length)
        if len(body) < length:
            return  # the stream ended inside a frame
        yield body[:MAX_LINE]


def tls_context(cert: Path, key: Path, client_ca: Path | None = None) -> ssl.SSLContext:
    """The server context of the TLS listener: TLS 1.2 or later; with ``client_ca``, senders must
    present a certificate it signed (mutual TLS, RFC 5425 section 5)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=str(cert), keyfile=str(key))
    if client_ca is not None:
        context.load_verify_locations(cafile=str(client_ca))
        context.verify_mode = ssl.CERT_REQUIRED
    return context


class Listener:
    """Sockets and the queue; ``flush()`` stores what arrived (call it from a thread that may use the
    database)."""

    def __init__(self, user, *, host: str = "127.0.0.1", udp_port: int | None = None,
                 tcp_port: int | None = None, tls_port: int | None = None,
                 tls: ssl.SSLContext | None = None) -> None:
        from citygov.soc.services import do_start_listener_run, engine_context

        if tls_port is not None and tls is None:
            raise ValueError("a TLS port needs a TLS context (certificate and key)")
        self.user = user
        self.ctx = engine_context()
        self.run = do_start_listener_run(user, f"syslog {host} udp={udp_port} tcp={tcp_port} tls={tls_port}")
        self._lock = threading.Lock()
        self._alerts: list = []
        self._rejected: list[dict] = []
        self._received = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.udp_port = self.tcp_port = self.tls_port = None
        self._udp = None
        self._servers: list[socketserver.ThreadingTCPServer] = []
        if udp_port is not None:
            self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            self._udp.bind((host, udp_port))
            self._udp.settimeout(0.2)
            self.udp_port = self._udp.getsockname()[1]
            self._threads.append(threading.Thread(target=self._udp_loop, name="soc-udp", daemon=True))
        if tcp_port is not None:
            self.tcp_port = self._stream_server(host, tcp_port, None, "soc-tcp")
        if tls_port is not None:
            self.tls_port = self._stream_server(host, tls_port, tls, "soc-tls")

    def _stream_server(self, host: str, port: int, tls: ssl.SSLContext | None, name: str) -> int:
        listener = self

        class Handler(socketserver.StreamRequestHandler):
            rbufsize = STREAM_BUFFER  # large reads: many messages per system call

            def handle(self) -> None:
                peer = self.client_address[0]
                try:
                    for frame in frames(self.rfile):
                        if listener._stop.is_set():
                            return
                        if isinstance(frame, FramingError):
                            listener.reject(peer, str(frame))
                        else:
                            listener.receive(frame, peer)
                except (ssl.SSLError, OSError) as exc:  # a failed handshake or a dropped connection
                    logger.warning("soc listener connection from %s ended: %s", peer, type(exc).__name__)

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

            def get_request(self):
                sock, address = super().get_request()
                if tls is not None:
                    # The handshake runs in the connection's own thread (on its first read), so a
                    # slow or hostile client never holds up the accepting thread.
                    sock = tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
                return sock, address

        server = Server((host, port), Handler)
        self._servers.append(server)
        self._threads.append(threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                              name=name, daemon=True))
        return server.server_address[1]

    def start(self) -> Listener:
        for thread in self._threads:
            thread.start()
        return self

    def _udp_loop(self) -> None:
        """Wait (with a timeout, to notice ``stop``) for one datagram, then drain what else is queued
        without waiting (one system call each, no poll), and parse and queue them as one batch."""
        udp = self._udp
        while not self._stop.is_set():
            try:
                first = udp.recvfrom(MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError:
                return
            batch = [first]
            try:
                while len(batch) < UDP_BATCH:
                    batch.append(udp.recvfrom(MAX_DATAGRAM, socket.MSG_DONTWAIT))
            except (BlockingIOError, InterruptedError, TimeoutError):
                pass
            except OSError:
                self.receive_many([(data, peer[0]) for data, peer in batch])
                return
            self.receive_many([(data, peer[0]) for data, peer in batch])

    def reject(self, peer: str, reason: str) -> None:
        """Count a message that could not even be framed."""
        with self._lock:
            self._received += 1
            self._rejected.append({"line": 0, "peer": peer, "reason": reason})

    def receive(self, data: bytes, peer: str) -> None:
        """Parse one message and queue the alert (or the rejection)."""
        self.receive_many(((data, peer),))

    def receive_many(self, messages) -> None:
        """Parse (data, peer) messages and queue their alerts and rejections under one lock."""
        parse, ctx = formats.parse_message, self.ctx
        alerts, rejected = [], []
        for data, peer in messages:
            text = data.decode("utf-8", "replace").strip()
            if not text:
                continue
            try:
                alerts.append(parse(text, ctx))
            except BadRecord as exc:
                rejected.append({"line": 0, "peer": peer, "reason": str(exc)})
        if not alerts and not rejected:
            return
        with self._lock:
            self._received += len(alerts) + len(rejected)
            self._alerts.extend(alerts)
            self._rejected.extend(rejected)

    @property
    def received(self) -> int:
        with self._lock:
            return self._received

    def flush(self) -> tuple[int, int, int]:
        """Store the queued alerts: (created, duplicates, rejected)."""
        from citygov.soc.services import do_store_alerts

        with self._lock:
            alerts, rejected = self._alerts, self._rejected
            self._alerts, self._rejected = [], []
        if not alerts and not rejected:
            return 0, 0, 0
        created, duplicates = do_store_alerts(self.user, self.run.pk, alerts, rejected)
        if rejected:
            logger.warning("soc listener rejected %d messages (first from %s: %s)", len(rejected),
                           rejected[0]["peer"], rejected[0]["reason"])
        return created, duplicates, len(rejected)

    def stop(self) -> None:
        self._stop.set()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=2)
        if self._udp is not None:
            self._udp.close()
        self.flush()


def serve(user, *, host: str, udp_port: int | None, tcp_port: int | None, flush_seconds: float = 1.0,
          out=None, stop: threading.Event | None = None, tls_port: int | None = None,
          tls: ssl.SSLContext | None = None) -> None:
    """Run until interrupted (or ``stop`` is set), storing a batch every ``flush_seconds``."""
    listener = Listener(user, host=host, udp_port=udp_port, tcp_port=tcp_port, tls_port=tls_port, tls=tls).start()
    if out is not None:
        out.write(f"listening on {host} udp={listener.udp_port} tcp={listener.tcp_port} tls={listener.tls_port}")
        out.flush()
    stop = stop or threading.Event()
    try:
        while not stop.is_set():
            time.sleep(flush_seconds)
            listener.flush()
    except KeyboardInterrupt:
        pass
    finally:
        listener.stop()
