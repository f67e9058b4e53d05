"""Benchmark: the SOC engine parsing and normalising Suricata EVE alerts on one core.

Builds an in-memory NDJSON stream of N alerts from the bundled suricata-verify sample (flow ids
rewritten so every alert is distinct), then times ``read_alerts`` (JSON decode, normalisation,
classification, CIDR lookup, dedup key). Baseline in the same run: ``json.loads`` of the same lines
and nothing else, the floor any reader pays. Target: >= 80,000 alerts/s. No database is used.
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


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    data = build(n)
    cidr = CidrTable([(f"10.{i}.0.0/16", f"agency-{i}") for i in range(40)] + [("192.168.0.0/16", "lab")])
    baseline, engine, analysed = [], [], []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for line in io.BytesIO(data):
            json.loads(line)
        baseline.append(time.perf_counter() - start)
        ctx = formats.Context(cidr=cidr)
        start = time.perf_counter()
        count = sum(1 for item in formats.read_alerts(io.BytesIO(data), ctx=ctx) if isinstance(item, formats.Alert))
        engine.append(time.perf_counter() - start)
        assert count == n, count
        start = time.perf_counter()
        analysis = Analysis().extend(a for a in formats.read_alerts(io.BytesIO(data), ctx=ctx)
                                     if isinstance(a, formats.Alert))
        analysis.report()
        analysed.append(time.perf_counter() - start)
    best, floor, full = min(engine), min(baseline), min(analysed)
    print(f"machine: {platform.machine()} {platform.processor() or ''} python {platform.python_version()}")
    print(f"alerts: {n:,} ({len(data) / n:.0f} bytes each)")
    print(f"json.loads only (baseline): {n / floor:,.0f} alerts/s")
    print(f"read_alerts (parse + normalise + classify + CIDR + key): {n / best:,.0f} alerts/s "
          f"({best / floor:.2f}x the baseline time)")
    print(f"read_alerts + Analysis + report: {n / full:,.0f} alerts/s")
    print(f"target >= {TARGET:,} alerts/s: {'met' if n / best >= TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
