"""Benchmark: the SOC engine parsing and normalising Suricata EVE alerts on one core.

Builds an in-memory NDJSON stream of N alerts from the bundled suricata-verify sample (flow ids
rewritten so every alert is distinct), then times ``read_alerts`` (JSON decode, normalisation,
classification, CIDR lookup, dedup key). Baselines in the same run: the standard library's
``json.loads`` of the same lines and nothing else (what a plain reader pays to decode), and
``orjson.loads`` (the decoder the engine uses). Wall and CPU time of this process are both given: on
a shared machine the CPU time is the fairer figure for "one core". Target: >= 80,000 alerts/s. No
database is used.
Run: .venv/bin/python bench/soc_engine.py [N]
"""

from __future__ import annotations

import io
import json
import platform
import sys
import time
from pathlib import Path

from citygov.soc.engine import formats
from citygov.soc.engine.analyse import Analysis
from citygov.soc.engine.normalise import CidrTable

SAMPLE = Path(__file__).resolve().parents[1] / "citygov" / "soc" / "tests" / "data" / "eve-suricata-verify.ndjson"
TARGET = 80_000
ROUNDS = 3


def build(n: int) -> bytes:
    base = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    lines = []
    for i in range(n):
        record = dict(base[i % len(base)])
        record["flow_id"] = 10_000_000 + i
        lines.append(json.dumps(record, separators=(",", ":")))
    return ("\n".join(lines) + "\n").encode("utf-8")


def _timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    import orjson

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    data = build(n)
    lines = data.splitlines()
    cidr = CidrTable([(f"10.{i}.0.0/16", f"agency-{i}") for i in range(40)] + [("192.168.0.0/16", "lab")])
    runs: dict[str, list[tuple[float, float]]] = {"json": [], "orjson": [], "engine": [], "analysis": []}
    for _ in range(ROUNDS):
        runs["json"].append(_timed(lambda: [json.loads(line) for line in lines]))
        runs["orjson"].append(_timed(lambda: [orjson.loads(line) for line in lines]))
        ctx = formats.Context(cidr=cidr)
        counted = []
        runs["engine"].append(_timed(lambda ctx=ctx, counted=counted: counted.append(sum(
            1 for item in formats.read_alerts(io.BytesIO(data), ctx=ctx) if isinstance(item, formats.Alert)))))
        assert counted == [n], counted
        runs["analysis"].append(_timed(lambda ctx=ctx: Analysis().extend(
            a for a in formats.read_alerts(io.BytesIO(data), ctx=ctx) if isinstance(a, formats.Alert)).report()))
    best = {k: (min(w for w, _ in v), min(c for _, c in v)) for k, v in runs.items()}
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    print(f"alerts: {n:,} ({len(data) / n:.0f} bytes each); best of {ROUNDS}; rates as wall / CPU")
    for key, label in (("json", "json.loads only (baseline)"), ("orjson", "orjson.loads only"),
                       ("engine", "read_alerts (parse + normalise + classify + CIDR + key)"),
                       ("analysis", "read_alerts + Analysis + report")):
        wall, cpu = best[key]
        print(f"{label}: {n / wall:,.0f} / {n / cpu:,.0f} alerts/s")
    ratio = best["engine"][1] / best["json"][1]
    print(f"engine CPU time: {ratio:.2f}x the json.loads baseline's")
    rate = n / best["engine"][1]
    print(f"target >= {TARGET:,} alerts/s (CPU, one core): {'met' if rate >= TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
