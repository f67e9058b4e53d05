"""Benchmark: a call through two exchange gateways (consumer → mutual TLS → provider → service) against
a direct call to the same service, in the same run.

Three processes besides this one: the provider's local service (a small JSON echo server) and two
gateways started with ``citygov exchange gateway`` (certificates from a throw-away CA, a signed
configuration). Measures
  1. latency: sequential keep-alive calls, p50/p95 direct and through the gateways; overhead = p50 difference
  2. throughput: 32 client threads with keep-alive connections for a fixed time, requests/s both ways.
Targets (issue 9): overhead p50 < 5 ms; >= 300 requests/s with 32 concurrent clients.
Run: .venv/bin/python bench/exchange_gateway.py [--seconds 8] [--calls 1000]
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("CITYGOV_VAR_DIR", tempfile.mkdtemp(prefix="exchange-bench-"))

from citygov.exchange.engine.gateway import free_port  # noqa: E402
from citygov.exchange.tests import support  # noqa: E402

BODY = b'{"village": "\xe4\xb8\xad\xe5\xa3\xa2\xe9\x87\x8c", "limit": 10}'
BACKEND = '''
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def log_message(self, *a): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        out = json.dumps({"ok": True, "echo": len(body)}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out))); self.end_headers(); self.wfile.write(out)
s = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H); s.daemon_threads = True
print("ready", flush=True); s.serve_forever()
'''


def one_client(port: int, path: str, headers: dict, count: int | None, until: float | None,
               latencies: list[float], errors: list[int]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    n = 0
    while (count is not None and n < count) or (until is not None and time.perf_counter() < until):
        started = time.perf_counter()
        conn.request("POST", path, body=BODY, headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        if response.status != 200:
            errors.append(response.status)
        n += 1
    conn.close()


def latency(port, path, headers, calls) -> list[float]:
    lat: list[float] = []
    errs: list[int] = []
    one_client(port, path, headers, 50, None, [], errs)  # warm-up
    one_client(port, path, headers, calls, None, lat, errs)
    assert not errs, errs
    return sorted(lat)


def throughput(port, path, headers, seconds, clients=32) -> tuple[float, int]:
    lat: list[float] = []
    errs: list[int] = []
    until = time.perf_counter() + seconds
    threads = [threading.Thread(target=one_client, args=(port, path, headers, None, until, lat, errs))
               for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(lat) / (time.perf_counter() - started), len(errs)


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        world = support.make_world(root, ["A001", "A002"], extra_services={"A002": ["echo"]}, rights=[
            {"service": "TYC/GOV/A002/HR/echo", "client": "TYC/GOV/A001/APP", "not_after": None, "grant": None}])
        backend_port = free_port()
        backend = subprocess.Popen([sys.executable, "-c", BACKEND, str(backend_port)], stdout=subprocess.PIPE,
                                   text=True)
        backend.stdout.readline()
        provider = support.spawn_gateway(world, "A002", env_dir=root / "var",
                                         backends=[f"HR/echo=http://127.0.0.1:{backend_port}/echo"])
        consumer = support.spawn_gateway(world, "A001", env_dir=root / "var")
        try:
            support.wait_ready(provider[0])
            support.wait_ready(consumer[0])
            direct = (backend_port, "/echo", {"Content-Type": "application/json"})
            gateway = (consumer[1], "/r1/TYC/GOV/A002/HR/echo",
                       {"Content-Type": "application/json", "X-Road-Client": "TYC/GOV/A001/APP"})
            d_lat = latency(*direct, args.calls)
            g_lat = latency(*gateway, args.calls)
            d_rps, d_err = throughput(*direct, args.seconds)
            g_rps, g_err = throughput(*gateway, args.seconds)
        finally:
            support.stop(provider[0], consumer[0], backend)
    overhead = statistics.median(g_lat) * 1000 - statistics.median(d_lat) * 1000
    print(f"machine: {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"payload: {len(BODY)} bytes JSON; latency: {args.calls} sequential keep-alive calls each")
    print(f"direct       p50 {pct(d_lat, .5):6.2f} ms  p95 {pct(d_lat, .95):6.2f} ms")
    print(f"via gateways p50 {pct(g_lat, .5):6.2f} ms  p95 {pct(g_lat, .95):6.2f} ms")
    print(f"overhead p50 {overhead:.2f} ms (target < 5 ms: {'met' if overhead < 5 else 'NOT met'})")
    print(f"throughput, 32 clients, {args.seconds:g} s: direct {d_rps:.0f} req/s ({d_err} errors), "
          f"via gateways {g_rps:.0f} req/s ({g_err} errors), ratio {g_rps / d_rps:.2f} "
          f"(target >= 300 req/s: {'met' if g_rps >= 300 else 'NOT met'})")


if __name__ == "__main__":
    main()
