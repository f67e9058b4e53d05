"""Load shedding in front of the application: the gunicorn worker of ``citygov serve --prod``.

A real gunicorn with :class:`citygov.core.serving.SheddingThreadWorker` and one thread serves a tiny
WSGI application on loopback; requests that waited for the thread longer than the limit on a shed
path get a 429 from the worker, others are served however long they waited.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from citygov.config import ConfigError
from citygov.core.serving import DEFAULT_SHED_AFTER_MS, WORKER_CLASS, shed_response, shed_settings

APP = textwrap.dedent('''
    import time

    def app(environ, start_response):
        if environ["PATH_INFO"].startswith(("/slow", "/other")):
            time.sleep(0.5)
        body = environ["PATH_INFO"].encode()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
''')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    (tmp_path / "shed_app.py").write_text(APP)
    port = _free_port()
    env = dict(os.environ, CITYGOV_SHED_AFTER_MS="100", CITYGOV_SHED_PATHS="/slow, /api/points/terminal/")
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    process = subprocess.Popen([gunicorn, "shed_app:app", "--chdir", str(tmp_path), "--bind", f"127.0.0.1:{port}",
                                "--workers", "1", "--threads", "1", "--worker-class", WORKER_CLASS,
                                "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("gunicorn did not start: " + process.stderr.read().decode(errors="replace"))
    yield port
    process.terminate()
    process.wait(timeout=30)


def _get(port: int, path: str) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_requests_that_waited_too_long_on_a_shed_path_get_429_the_rest_are_served(server):
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        # One thread, four requests of 0.5 s each: at least the last two wait > 100 ms for it.
        slow = [pool.submit(_get, server, "/slow") for _ in range(4)]
        answers = [future.result() for future in slow]
    statuses = sorted(status for status, _, _ in answers)
    assert statuses.count(200) >= 1 and statuses.count(429) >= 2, statuses
    for status, headers, body in answers:
        if status == 429:
            assert headers["Retry-After"] == "1"
            assert headers["Content-Type"] == "application/problem+json"
            problem = json.loads(body)
            assert problem["code"] == "overloaded" and "Idempotency-Key" in problem["detail"]
    # Paths that are not shed wait their turn and are served.
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        others = [future.result() for future in [pool.submit(_get, server, "/other") for _ in range(3)]]
    assert [status for status, _, _ in others] == [200, 200, 200]


def test_a_shed_answer_keeps_the_connection_alive(server):
    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=30)
    blocker = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        for _ in range(5):  # the blocker normally takes the thread first; on a busy machine, try again
            busy = blocker.submit(_get, server, "/slow")
            time.sleep(0.2)  # the blocker holds the only thread for 0.5 s; this request waits behind it
            conn.request("GET", "/slow")
            first = conn.getresponse()
            first.read()
            busy.result()
            if first.status == 429:
                break
        assert first.status == 429
        conn.request("GET", "/fast")  # the same connection, the thread free now
        second = conn.getresponse()
        assert (second.status, second.read()) == (200, b"/fast")
    finally:
        conn.close()
        blocker.shutdown()


def test_settings_and_the_answer_on_the_wire():
    assert shed_settings({}) == (DEFAULT_SHED_AFTER_MS / 1000, ("/api/points/terminal/",))
    assert shed_settings({"CITYGOV_SHED_AFTER_MS": "0"})[0] == 0
    assert shed_settings({"CITYGOV_SHED_PATHS": "/a/, ,/b/"})[1] == ("/a/", "/b/")
    with pytest.raises(ConfigError, match="CITYGOV_SHED_AFTER_MS"):
        shed_settings({"CITYGOV_SHED_AFTER_MS": "soon"})
    wire = shed_response(keep_alive=False)
    head, body = wire.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 429 ") and b"Connection: close" in head
    assert f"Content-Length: {len(body)}".encode() in head
