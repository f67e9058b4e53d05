"""Benchmark: what the live sharing-grant check and message-log time stamping cost a call through two
exchange gateways, against the same call without them and a direct call, all in the same run.

Processes: the provider's JSON echo service, a grant-status registry stub (signs answers with the
registry key exactly as ``/api/exchange/grant-status/`` does, without the database look-up), the city's
time-stamping authority (``citygov exchange tsa``) and two pairs of gateways (``citygov exchange
gateway``): a *plain* pair, and an *evidence* pair whose provider checks the grant on every call
(``--grant-check``) and both of which stamp their logs every second (``--tsa``).
Measures p50/p95 latency (sequential keep-alive calls) and requests/s with 32 clients for: direct, plain
gateways, evidence gateways, with the CPU time each gateway (and the registry stub) used per request during
the throughput run (from /proc, so it holds however busy the shared machine is); then the TSA's and the
log verifier's own speed in this process.
Targets (issue 9) still apply with the evidence on: overhead p50 < 5 ms, >= 300 requests/s.
Run: .venv/bin/python bench/exchange_evidence.py [--seconds 6] [--calls 600] [--grant-cache S]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("CITYGOV_VAR_DIR", tempfile.mkdtemp(prefix="exchange-bench-"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from exchange_gateway import BACKEND, latency, pct, throughput  # noqa: E402

from citygov.exchange.engine import ca  # noqa: E402
from citygov.exchange.engine.gateway import free_port  # noqa: E402
from citygov.exchange.engine.messagelog import Exchange, MessageLog, verify_log_detail  # noqa: E402
from citygov.exchange.engine.timestamp import TimeStampAuthority  # noqa: E402
from citygov.exchange.tests import support  # noqa: E402

REGISTRY_STUB = '''
import datetime as dt, sys, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from citygov.exchange.engine import ca
from citygov.exchange.engine.grants import sign_grant_status
key = ca.load_signing_key(open(sys.argv[2], "rb").read())
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def log_message(self, *a): pass
    def do_GET(self):
        q = {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).items()}
        out = sign_grant_status(key, {"service": q["service"], "client": q["client"], "grant": "DG-1",
                                      "current": True, "checked_at": dt.datetime.now(dt.UTC).isoformat(),
                                      "nonce": q["nonce"]})
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out))); self.end_headers(); self.wfile.write(out)
ThreadingHTTPServer.request_queue_size = 128
s = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H); s.daemon_threads = True
print("ready", flush=True); s.serve_forever()
'''


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured_throughput(target: tuple, seconds: float, pids: dict[str, int]) -> tuple[float, int, dict[str, float]]:
    """``throughput`` plus the CPU milliseconds per request each named process used meanwhile."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = time.perf_counter()
    rps, errors = throughput(*target, seconds)
    requests = rps * (time.perf_counter() - started)
    cpu = {name: (cpu_seconds(pid) - before[name]) * 1000 / max(requests, 1) for name, pid in pids.items()}
    return rps, errors, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--calls", type=int, default=600)
    parser.add_argument("--grant-cache", type=float, default=0.0, help="the provider gateway's --grant-cache")
    args = parser.parse_args()
    codes = ["A001", "A002", "B001", "B002"]  # A: plain pair; B: evidence pair (grant check + time stamps)
    rights = [{"service": "TYC/GOV/A002/HR/echo", "client": "TYC/GOV/A001/APP", "not_after": None, "grant": None},
              {"service": "TYC/GOV/B002/HR/echo", "client": "TYC/GOV/B001/APP", "not_after": None, "grant": "DG-1"}]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        world = support.make_world(root, codes, extra_services={"A002": ["echo"], "B002": ["echo"]}, rights=rights)
        (root / "registry.key.pem").write_bytes(world.registry_key_pem)
        backend_port, registry_port = free_port(), free_port()
        # 32 clients connect at once: a deeper listen queue than http.server's 5 (no resets).
        backend_code = BACKEND.replace("s = ThreadingHTTPServer", "ThreadingHTTPServer.request_queue_size = 128\n"
                                       "s = ThreadingHTTPServer")
        helpers = [subprocess.Popen([sys.executable, "-c", backend_code, str(backend_port)], stdout=subprocess.PIPE,
                                    text=True),
                   subprocess.Popen([sys.executable, "-c", REGISTRY_STUB, str(registry_port),
                                     str(root / "registry.key.pem")], stdout=subprocess.PIPE, text=True)]
        tsa, tsa_url = support.spawn_tsa(world, root / "var")
        evidence = ["--tsa", tsa_url, "--timestamp-interval", "1"]
        backend = [f"HR/echo=http://127.0.0.1:{backend_port}/echo"]
        gws = {
            "A002": support.spawn_gateway(world, "A002", env_dir=root / "var", backends=backend),
            "A001": support.spawn_gateway(world, "A001", env_dir=root / "var"),
            "B002": support.spawn_gateway(world, "B002", env_dir=root / "var", backends=backend, extra=evidence + [
                "--grant-check", f"http://127.0.0.1:{registry_port}/api/exchange/grant-status/",
                "--grant-cache", str(args.grant_cache)]),
            "B001": support.spawn_gateway(world, "B001", env_dir=root / "var", extra=evidence),
        }
        try:
            for helper in helpers:
                helper.stdout.readline()
            support.wait_ready(tsa)
            for proc, _port in gws.values():
                support.wait_ready(proc)
            json_headers = {"Content-Type": "application/json"}
            runs = {
                "direct": (backend_port, "/echo", json_headers),
                "plain gateways": (gws["A001"][1], "/r1/TYC/GOV/A002/HR/echo",
                                   {**json_headers, "X-Road-Client": "TYC/GOV/A001/APP"}),
                "grant check + time stamps": (gws["B001"][1], "/r1/TYC/GOV/B002/HR/echo",
                                              {**json_headers, "X-Road-Client": "TYC/GOV/B001/APP"}),
            }
            pids = {"direct": {"service": helpers[0].pid},
                    "plain gateways": {"consumer gw": gws["A001"][0].pid, "provider gw": gws["A002"][0].pid},
                    "grant check + time stamps": {"consumer gw": gws["B001"][0].pid,
                                                  "provider gw": gws["B002"][0].pid,
                                                  "registry stub": helpers[1].pid}}
            load_before = os.getloadavg()[0]
            lat = {name: latency(*target, args.calls) for name, target in runs.items()}
            measured = {name: measured_throughput(target, args.seconds, pids[name]) for name, target in runs.items()}
            rps = {name: m[:2] for name, m in measured.items()}
            load_after = os.getloadavg()[0]
            time.sleep(2.5)  # let the last time stamps land before the gateways stop
        finally:
            support.stop(*(proc for proc, _port in gws.values()), tsa, *helpers)
        # Verified once the gateway has stopped: a stamp written while the file is read would be a torn line.
        log = world.keys("B002") / "messages.jsonl"
        checked = verify_log_detail(log, ca.load_signing_key((world.keys("B002") / "sign.key.pem").read_bytes())
                                    .public_key(), tsa_ca_pem=world.ca.cert_pem)
        # The TSA and the verifier on their own, in this process.
        tsa_cert = ca.issue_tsa_certificate(world.ca.key_pem, world.ca.cert_pem, "bench TSA",
                                            now=dt.datetime.now(dt.UTC))
        authority = TimeStampAuthority(tsa_cert.key_pem, tsa_cert.cert_pem)
        started, n_tokens = time.perf_counter(), 2000
        for i in range(n_tokens):
            authority.stamp(f"{i:064x}", "bench-nonce")
        tokens_per_s = n_tokens / (time.perf_counter() - started)
        private, _public = ca.new_signing_key()
        key = ca.load_signing_key(private)
        big = MessageLog(root / "big.jsonl", key)
        now = dt.datetime.now(dt.UTC).isoformat()
        for i in range(20_000):
            big.append(Exchange(now, "provider", f"id-{i}", "TYC/GOV/A001/APP", "TYC/GOV/A002/HR/echo", "r", "s",
                                200, "", 1))
            if i % 1000 == 999:
                seq, head = big.unstamped_head()
                big.append_timestamp(seq, head, authority.stamp(head, "bench-nonce"))
        big.close()
        started = time.perf_counter()
        verify_log_detail(root / "big.jsonl", key.public_key())
        plain_s = time.perf_counter() - started
        started = time.perf_counter()
        stamped = verify_log_detail(root / "big.jsonl", key.public_key(), tsa_ca_pem=world.ca.cert_pem)
        stamped_s = time.perf_counter() - started
    print(f"machine: {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"load average {load_before:.2f} before / {load_after:.2f} after the calls (1 min); "
          f"--grant-cache {args.grant_cache:g} s")
    direct_p50 = statistics.median(lat["direct"]) * 1000
    for name in runs:
        overhead = statistics.median(lat[name]) * 1000 - direct_p50
        r, errors = rps[name]
        print(f"{name:26s} p50 {pct(lat[name], .5):6.2f} ms  p95 {pct(lat[name], .95):6.2f} ms  "
              f"overhead p50 {overhead:5.2f} ms  {r:6.0f} req/s ({errors} errors)  "
              f"ratio to direct {r / rps['direct'][0]:.2f}")
        print(" " * 27 + "CPU per request: " + ", ".join(f"{who} {ms:.2f} ms" for who, ms in measured[name][2].items()))
    cost = (statistics.median(lat["grant check + time stamps"]) - statistics.median(lat["plain gateways"])) * 1000
    ev_overhead = statistics.median(lat["grant check + time stamps"]) * 1000 - direct_p50
    print(f"evidence cost over plain gateways: p50 +{cost:.2f} ms, throughput ratio "
          f"{rps['grant check + time stamps'][0] / rps['plain gateways'][0]:.2f}")
    print(f"targets with evidence on: overhead p50 < 5 ms {'met' if ev_overhead < 5 else 'NOT met'}, "
          f">= 300 req/s {'met' if rps['grant check + time stamps'][0] >= 300 else 'NOT met'}")
    print(f"provider log: {checked.records} records, {checked.timestamps} time stamps, stamped through seq "
          f"{checked.stamped_through} of {checked.last_seq}, problems {len(checked.problems)}")
    for problem in checked.problems[:5]:
        print(f"  line {problem.line}: {problem.message}")
    print(f"TSA: {tokens_per_s:.0f} tokens/s; verify 20,000 records + 20 stamps: chain only {plain_s:.2f} s, "
          f"with stamps {stamped_s:.2f} s (ratio {stamped_s / plain_s:.2f}), problems {len(stamped.problems)}")


if __name__ == "__main__":
    main()
