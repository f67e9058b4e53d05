"""Profile: where a gateway's CPU goes per call (cProfile with ``time.process_time``), both sides.

Processes: the provider's JSON echo service, a grant-status registry stub (as in
``bench/exchange_evidence.py``), and the consumer's and the provider's gateways, each a separate process
started from this file in ``--serve`` mode: the engine's ``Gateway`` with every connection handler run
under its own ``cProfile.Profile(time.process_time)``; the profiles are merged when the process ends.
The calls are sequential (one keep-alive client), so in each gateway one handler thread at a time uses
the CPU and the process clock is that thread's CPU time. Prints CPU ms per call of each gateway and its
top functions by own time (``--top``), and keeps the ``.pstats`` files with ``--keep DIR``.
Run: .venv/bin/python bench/exchange_profile.py [--calls 2000] [--grant-cache 0] [--top 25]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("CITYGOV_VAR_DIR", tempfile.mkdtemp(prefix="exchange-bench-"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from exchange_evidence import REGISTRY_STUB  # noqa: E402
from exchange_gateway import BACKEND, one_client  # noqa: E402

from citygov.exchange.engine import gateway as gw  # noqa: E402
from citygov.exchange.engine.conf import load_public_key  # noqa: E402
from citygov.exchange.engine.gateway import free_port  # noqa: E402
from citygov.exchange.engine.grants import RegistryGrantChecker  # noqa: E402
from citygov.exchange.engine.identifiers import MemberId  # noqa: E402
from citygov.exchange.tests import support  # noqa: E402


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / os.sysconf("SC_CLK_TCK"), int(fields[12]) / os.sysconf("SC_CLK_TCK")


def serve(spec: dict) -> None:
    """One gateway with profiled connection handlers; dumps merged stats to spec["out"] on SIGTERM."""
    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()
    original = gw._Handler.handle

    def handle(self) -> None:
        profile = cProfile.Profile(time.process_time)
        with lock:
            profiles.append(profile)
        profile.enable()
        try:
            original(self)
        finally:
            profile.disable()

    if spec.get("profile", True):
        gw._Handler.handle = handle
    anchor = Path(spec["anchor"]).read_bytes()
    keys = Path(spec["keys"])
    checker = (RegistryGrantChecker(spec["grant_check"], load_public_key(anchor), cache_seconds=spec["grant_cache"])
               if spec.get("grant_check") else None)
    settings = gw.GatewaySettings(
        member=MemberId.parse(spec["member"]), listen=("127.0.0.1", spec["listen"]),
        listen_tls=("127.0.0.1", spec["listen_tls"]), conf_source=spec["conf"], anchor_pem=anchor,
        cert_pem=(keys / "cert.pem").read_bytes(), key_pem=(keys / "key.pem").read_bytes(),
        signing_key_pem=(keys / "sign.key.pem").read_bytes(), log_path=keys / "messages.jsonl",
        backends=spec.get("backends", {}), grant_is_current=checker)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    gateway = gw.Gateway(settings)
    gateway.start()
    print(json.dumps({"ready": True}), flush=True)
    stop.wait()
    gateway.stop()
    with lock:
        stats = pstats.Stats(profiles[0]) if profiles else None
        for profile in profiles[1:]:
            stats.add(profile)
    if stats is not None:
        stats.dump_stats(spec["out"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--grant-cache", type=float, default=0.0)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--keep", help="directory for the .pstats files")
    parser.add_argument("--cpu-only", action="store_true", help="no profiler: only CPU ms per call of each gateway")
    args = parser.parse_args()
    if args.serve:
        serve(json.loads(args.serve))
        return
    out_dir = Path(args.keep or tempfile.mkdtemp(prefix="exchange-profile-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        world = support.make_world(root, ["A001", "A002"], extra_services={"A002": ["echo"]}, rights=[
            {"service": "TYC/GOV/A002/HR/echo", "client": "TYC/GOV/A001/APP", "not_after": None, "grant": "DG-1"}])
        (root / "registry.key.pem").write_bytes(world.registry_key_pem)
        backend_port, registry_port = free_port(), free_port()
        helpers = [subprocess.Popen([sys.executable, "-c", BACKEND, str(backend_port)], stdout=subprocess.PIPE,
                                    text=True),
                   subprocess.Popen([sys.executable, "-c", REGISTRY_STUB, str(registry_port),
                                     str(root / "registry.key.pem")], stdout=subprocess.PIPE, text=True)]
        consumer_port = free_port()
        specs = {
            "provider": {"member": "TYC/GOV/A002", "listen": free_port(), "listen_tls": world.members["A002"]["port"],
                         "backends": {"HR/echo": f"http://127.0.0.1:{backend_port}/echo"},
                         "grant_check": f"http://127.0.0.1:{registry_port}/api/exchange/grant-status/",
                         "grant_cache": args.grant_cache, "keys": str(world.keys("A002"))},
            "consumer": {"member": "TYC/GOV/A001", "listen": consumer_port, "listen_tls": world.members["A001"]["port"],
                         "keys": str(world.keys("A001"))},
        }
        procs = {}
        for side, spec in specs.items():
            spec.update(conf=str(world.conf), anchor=str(world.anchor), out=str(out_dir / f"{side}.pstats"),
                        profile=not args.cpu_only)
            procs[side] = subprocess.Popen([sys.executable, __file__, "--serve", json.dumps(spec)],
                                           stdout=subprocess.PIPE, text=True)
        try:
            for helper in helpers:
                helper.stdout.readline()
            for proc in procs.values():
                support.wait_ready(proc)
            headers = {"Content-Type": "application/json", "X-Road-Client": "TYC/GOV/A001/APP"}
            path = "/r1/TYC/GOV/A002/HR/echo"
            errors: list[int] = []
            one_client(consumer_port, path, headers, 50, None, [], errors)
            cpu_before = {side: _cpu_seconds(p.pid) for side, p in procs.items()}
            latencies: list[float] = []
            started = time.perf_counter()
            one_client(consumer_port, path, headers, args.calls, None, latencies, errors)
            wall = time.perf_counter() - started
            cpu = {}
            for side, p in procs.items():
                after = _cpu_seconds(p.pid)
                cpu[side] = tuple((a - b) * 1000 / args.calls for a, b in zip(after, cpu_before[side], strict=True))
            assert not errors, errors[:5]
        finally:
            support.stop(*procs.values(), *helpers)
    print(f"{args.calls} sequential calls in {wall:.2f} s; load average {os.getloadavg()[0]:.2f} (1 min); "
          f"--grant-cache {args.grant_cache:g}")
    for side in specs:
        print(f"\n=== {side} gateway: {sum(cpu[side]):.3f} ms CPU per call (user {cpu[side][0]:.3f} + system "
              f"{cpu[side][1]:.3f}; process, whole run"
              f"{'' if args.cpu_only else ', profiler on'}) ===")
        if args.cpu_only:
            continue
        text = io.StringIO()
        stats = pstats.Stats(str(out_dir / f"{side}.pstats"), stream=text)
        stats.sort_stats("tottime").print_stats(args.top)
        print("\n".join(line for line in text.getvalue().splitlines()[6:] if line.strip()))
    if not args.cpu_only:
        print(f"\nprofiles: {out_dir}")


if __name__ == "__main__":
    main()
