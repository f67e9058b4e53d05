"""The syslog listener of ``citygov soc listen``: UDP datagrams (one message each) and TCP streams
(newline-framed, RFC 6587 non-transparent framing) carrying CEF, LEEF or JSON alerts.

Receiving threads only parse and queue; the flushing thread stores each batch through
:func:`citygov.soc.services.do_store_alerts`. Bad messages are counted and kept (peer and reason,
never the message text, which may carry personal data) on the session's import row.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
import time

from citygov.soc.engine import formats
from citygov.soc.engine.normalise import BadRecord

logger = logging.getLogger(__name__)
MAX_DATAGRAM = 65535
MAX_LINE = 1 << 20


class Listener:
    """Sockets and the queue; ``flush()`` stores what arrived (call it from a thread that may use the
    database)."""

    def __init__(self, user, *, host: str = "127.0.0.1", udp_port: int | None = None,
                 tcp_port: int | None = None) -> None:
        from citygov.soc.services import do_start_listener_run, engine_context

        self.user = user
        self.ctx = engine_context()
        self.run = do_start_listener_run(user, f"syslog {host} udp={udp_port} tcp={tcp_port}")
        self._lock = threading.Lock()
        self._alerts: list = []
        self._rejected: list[dict] = []
        self._received = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.udp_port = self.tcp_port = None
        self._udp = self._tcp = None
        if udp_port is not None:
            self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            self._udp.bind((host, udp_port))
            self._udp.settimeout(0.2)
            self.udp_port = self._udp.getsockname()[1]
            self._threads.append(threading.Thread(target=self._udp_loop, name="soc-udp", daemon=True))
        if tcp_port is not None:
            listener = self

            class Handler(socketserver.StreamRequestHandler):
                def handle(self) -> None:
                    peer = self.client_address[0]
                    for raw in self.rfile:
                        if listener._stop.is_set():
                            return
                        listener.receive(raw[:MAX_LINE], peer)

            socketserver.ThreadingTCPServer.allow_reuse_address = True
            self._tcp = socketserver.ThreadingTCPServer((host, tcp_port), Handler)
            self._tcp.daemon_threads = True
            self.tcp_port = self._tcp.server_address[1]
            self._threads.append(threading.Thread(target=self._tcp.serve_forever, kwargs={"poll_interval": 0.2},
                                                  name="soc-tcp", daemon=True))

    def start(self) -> Listener:
        for thread in self._threads:
            thread.start()
        return self

    def _udp_loop(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._udp.recvfrom(MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError:
                return
            self.receive(data, peer[0])

    def receive(self, data: bytes, peer: str) -> None:
        """Parse one message and queue the alert (or the rejection)."""
        text = data.decode("utf-8", "replace").strip()
        if not text:
            return
        try:
            alert = formats.parse_message(text, self.ctx)
            rejected = None
        except BadRecord as exc:
            alert, rejected = None, {"line": 0, "peer": peer, "reason": str(exc)}
        with self._lock:
            self._received += 1
            if alert is not None:
                self._alerts.append(alert)
            else:
                self._rejected.append(rejected)

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
        if self._tcp is not None:
            self._tcp.shutdown()
            self._tcp.server_close()
        for thread in self._threads:
            thread.join(timeout=2)
        if self._udp is not None:
            self._udp.close()
        self.flush()


def serve(user, *, host: str, udp_port: int | None, tcp_port: int | None, flush_seconds: float = 1.0,
          out=None, stop: threading.Event | None = None) -> None:
    """Run until interrupted (or ``stop`` is set), storing a batch every ``flush_seconds``."""
    listener = Listener(user, host=host, udp_port=udp_port, tcp_port=tcp_port).start()
    if out is not None:
        out.write(f"listening on {host} udp={listener.udp_port} tcp={listener.tcp_port}")
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
