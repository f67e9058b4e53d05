"""Benchmark: the address → district parser on the 220 sample addresses.

Prints addresses per second, the per-address mean, and the ratio to a baseline measured in the same
run (plain NFKC normalisation of the same strings, the floor any parser pays). No database is used.
Run: .venv/bin/python bench/agencies_address.py
"""

from __future__ import annotations

import platform
import statistics
import time
import unicodedata
from pathlib import Path

from citygov.agencies.engine.address import locate_district

SAMPLES = Path(__file__).resolve().parents[1] / "tests" / "data" / "address-samples.txt"
ROUNDS = 7
REPEAT = 50


def load() -> list[tuple[str, str]]:
    rows = []
    for line in SAMPLES.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            address, expected, _category = line.split("\t")
            rows.append((address, expected))
    return rows


def timed(func, addresses: list[str]) -> float:
    best = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(REPEAT):
            for address in addresses:
                func(address)
        best.append(time.perf_counter() - start)
    return statistics.median(best)


def main() -> None:
    rows = load()
    addresses = [a for a, _ in rows]
    correct = sum(locate_district(a).district == expected for a, expected in rows)
    n = len(addresses) * REPEAT
    parser = timed(locate_district, addresses)
    baseline = timed(lambda s: unicodedata.normalize("NFKC", s), addresses)
    print(f"machine: {platform.machine()} {platform.python_implementation()} {platform.python_version()}")
    print(f"addresses: {len(addresses)} samples x {REPEAT} repeats, median of {ROUNDS} rounds")
    print(f"accuracy: {correct}/{len(rows)} placed in the expected district")
    print(f"parser: {n / parser:,.0f} addresses/s ({parser / n * 1e6:.1f} µs each)")
    print(f"baseline (NFKC only): {n / baseline:,.0f} strings/s ({baseline / n * 1e6:.2f} µs each)")
    print(f"ratio parser/baseline: {parser / baseline:.1f}x")


if __name__ == "__main__":
    main()
