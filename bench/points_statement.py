"""Benchmark: parse and match a trust-account statement (pure engines, no database).

Target (issue "Points II"): reconciliation of 5,000 statement lines in under 1 minute for the whole
import; this measures the engine part — reading the CSV (Big5 and UTF-8) and matching the debits to
1,300 instruction lines and the credits to purchase references — which should take a small fraction of it.
Baseline in the same run: ``csv.reader`` over the same decoded text (the floor for touching each row once).
Run: .venv/bin/python bench/points_statement.py [--lines 5000] [--merchants 1300] [--repeat 5]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import platform
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from citygov.points.engine.statement import (  # noqa: E402 - after the path tweak
    InstructionLineRef,
    StatementLine,
    match_deposits,
    match_payouts,
    read_statement,
)

HEADER = "交易日期,摘要,支出金額,存入金額,餘額,對方銀行代碼,對方帳號,備註\n"


def build(lines: int, merchants: int, seed: int = 7) -> tuple[str, list[InstructionLineRef], dict[str, int]]:
    """A statement of ``lines`` rows: payouts for every instruction line (some split in two) and deposits."""
    rng = random.Random(seed)
    refs = [InstructionLineRef("B-20261121", f"{10_000_000 + i:08d}", "0040012", f"{555_000_000 + i}",
                               rng.randint(100, 90_000)) for i in range(merchants)]
    rows: list[str] = []
    balance = 500_000_000
    for ref in refs:
        parts = [ref.amount] if rng.random() < 0.8 else [ref.amount // 2, ref.amount - ref.amount // 2]
        for part in parts:
            balance -= part
            rows.append(f"115/11/22,撥付,\"{part:,}\",,\"{balance:,}\",{ref.bank_code},{ref.bank_account},"
                        f"{ref.batch_id} {ref.merchant_code}\n")
    purchases: dict[str, int] = {}
    number = 0
    while len(rows) < lines:
        number += 1
        amount = rng.randint(1, 500) * 1000
        reference = f"PO-2026-{number:05d}"
        purchases[reference] = amount
        balance += amount
        rows.append(f"2026/11/22,機關存入,,\"{amount:,}\",\"{balance:,}\",0120001,777000{number:06d},{reference}\n")
    rows = rows[:lines]
    return "對帳單編號,TS-BENCH-1\n" + HEADER + "".join(rows), refs, purchases


def run(data: bytes, refs, purchases) -> tuple[float, float, int, int, int]:
    start = time.perf_counter()
    items = list(read_statement(io.BytesIO(data)))
    parsed = time.perf_counter()
    lines = [item for item in items if isinstance(item, StatementLine)]
    payouts = match_payouts(refs, lines)
    deposits, exceptions = match_deposits(purchases, lines)
    done = time.perf_counter()
    settled = sum(1 for line in payouts.lines if line.settled)
    return parsed - start, done - parsed, len(lines), settled, len(payouts.unmatched) + len(exceptions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=5_000)
    parser.add_argument("--merchants", type=int, default=1_300)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    text, refs, purchases = build(args.lines, args.merchants)
    print(f"date {dt.date.today()}  machine {platform.machine()} CPython {platform.python_version()}")
    print(f"statement: {args.lines:,} lines; instruction: {len(refs):,} lines; purchases: {len(purchases):,}")
    for encoding in ("utf-8", "cp950"):
        data = text.encode(encoding)
        best = min((run(data, refs, purchases) for _ in range(args.repeat)), key=lambda r: r[0] + r[1])
        parse_s, match_s, count, settled, unmatched = best
        decoded = data.decode(encoding)
        start = time.perf_counter()
        baseline_rows = sum(1 for _ in csv.reader(io.StringIO(decoded)))
        baseline = time.perf_counter() - start
        total = parse_s + match_s
        print(f"{encoding:6}: parse {parse_s * 1000:.1f} ms ({count / parse_s:,.0f} lines/s), match "
              f"{match_s * 1000:.1f} ms, total {total * 1000:.1f} ms; settled {settled:,}/{len(refs):,}, "
              f"unmatched {unmatched}; baseline csv.reader {baseline * 1000:.1f} ms for {baseline_rows:,} rows "
              f"(ratio {total / baseline:.1f}x); target < 60 s: {'met' if total < 60 else 'NOT met'}")
        assert settled == len(refs) and unmatched == 0 and count == args.lines


if __name__ == "__main__":
    main()
