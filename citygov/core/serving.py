"""gunicorn's threaded worker with load shedding in front of the application.

A gunicorn ``gthread`` worker hands each request that arrives to a pool of threads; when requests
come faster than the threads finish them, they wait in the pool's queue, and anything the
application does to refuse work (a rate limit, say) happens only after that wait. Under a burst
the queue grows, every answer comes late, and clients time out and retry into the same queue.

:class:`SheddingThreadWorker` notes when each request arrives. When a thread takes a request whose
path starts with one of the shed prefixes (default: the merchant-terminal API) after it has already
waited longer than the limit, the worker answers ``429 Too Many Requests`` with ``Retry-After: 1``
itself — the application never runs, so the answer costs a fraction of a millisecond and the queue
drains — instead of doing work whose answer would arrive too late to be useful. Terminals resend with
the same ``Idempotency-Key``, so a shed request is never lost and never done twice. Other paths
(pages, the rest of the API) are never shed.

Settings (environment, validated by :mod:`citygov.config`):

* ``CITYGOV_SHED_AFTER_MS`` — the longest a request may wait for a thread (default 1000; 0 turns
  shedding off). Keep it above the queueing of a normal busy minute (a few hundred milliseconds on
  the benchmark machine) and below what terminals wait before they give up: a request shed after a
  long wait is one whose answer would have come too late anyway, while a low limit under a flood of
  retries spends the threads on 429s (measured: with 200 ms, a 1,000/s burst from 800 connections
  retrying every second completed 55 redemptions/s instead of 98/s).
* ``CITYGOV_SHED_PATHS`` — comma-separated path prefixes that may be shed
  (default ``/api/points/terminal/``).

Used by ``citygov serve --prod`` (``--worker-class citygov.core.serving.SheddingThreadWorker``).
"""

from __future__ import annotations

import json
import time

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

from citygov.config import environment

DEFAULT_SHED_AFTER_MS = 1000
DEFAULT_SHED_PATHS = "/api/points/terminal/"
WORKER_CLASS = "citygov.core.serving.SheddingThreadWorker"

SHED_BODY = json.dumps({
    "type": "about:blank",
    "title": "Server busy",
    "status": 429,
    "code": "overloaded",
    "detail": "伺服器忙碌，請於 1 秒後以相同的 Idempotency-Key 重送。 / The server is busy: resend after 1 second "
              "with the same Idempotency-Key.",
}, ensure_ascii=False).encode("utf-8")


def shed_settings(values=None) -> tuple[float, tuple[str, ...]]:
    """(seconds a request may wait, path prefixes that may be shed) from the environment."""
    env = environment(values)
    after_ms = env.integer("CITYGOV_SHED_AFTER_MS", DEFAULT_SHED_AFTER_MS, minimum=0)
    prefixes = tuple(part.strip() for part in env.text("CITYGOV_SHED_PATHS", DEFAULT_SHED_PATHS).split(",")
                     if part.strip())
    return after_ms / 1000, prefixes


def shed_response(keep_alive: bool) -> bytes:
    """The complete 429 answer, as it goes on the wire."""
    head = ("HTTP/1.1 429 Too Many Requests\r\n"
            "Content-Type: application/problem+json\r\n"
            "Retry-After: 1\r\n"
            f"Content-Length: {len(SHED_BODY)}\r\n"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n")
    return head.encode("ascii") + SHED_BODY


class SheddingThreadWorker(ThreadWorker):
    """gunicorn's ``gthread`` worker that sheds requests which waited too long for a thread."""

    def init_process(self):
        self.shed_after, self.shed_prefixes = shed_settings()
        self.shed_count = 0
        super().init_process()

    def enqueue_req(self, conn):
        # Called on the main thread when a request arrives (a new connection, or a kept-alive one
        # becoming readable), just before it joins the thread pool's queue.
        conn.citygov_arrived = time.monotonic()
        super().enqueue_req(conn)

    def handle_request(self, req, conn):
        arrived = getattr(conn, "citygov_arrived", None)
        if (self.shed_after and arrived is not None and self.shed_prefixes
                and time.monotonic() - arrived > self.shed_after and req.path.startswith(self.shed_prefixes)):
            keep_alive = bool(self.alive and self.cfg.keepalive and not req.should_close())
            util.write(conn.sock, shed_response(keep_alive))
            self.shed_count += 1
            if self.shed_count % 1000 == 1:
                self.log.warning("overloaded: %d requests shed with 429 so far (waited > %d ms)",
                                 self.shed_count, int(self.shed_after * 1000))
            return keep_alive
        return super().handle_request(req, conn)
