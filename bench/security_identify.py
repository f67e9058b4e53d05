"""Benchmark: inventory identification (accuracy, speed, memory) and vulnerability matching.

Targets (issue 5): vendor:product right for ≥ 95% of rows that have a CPE and ≥ 90% of no-CPE rows left
unidentified, on the ≥ 400-row Taiwanese inventory in citygov/security/tests/data/inventory_tw.csv;
≥ 2,000 rows/s on one core after the index is loaded; index load < 3 s; resident memory < 500 MB;
20,000 distinct (CPE, version) pairs matched against CVEs in < 30 s.

The baseline measured in the same run is a plain fuzzy match of the name against the NVD dictionary
titles (word-overlap candidates, then difflib's ratio), the approach of the open-source name → CPE
searchers. ``--big`` also streams a ~200 MB CSV through ``citygov security identify`` and reports the
peak memory of that process.

Run: .venv/bin/python bench/security_identify.py [--rows 20000] [--pairs 20000] [--big]
"""

from __future__ import annotations

import argparse
import csv
import difflib
import os
import platform
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "citygov" / "security" / "tests" / "data" / "inventory_tw.csv"
# Held out: assembled after the rules, labelled only against the NVD dictionary, never used to write rules.
HELDOUT = ROOT / "citygov" / "security" / "tests" / "data" / "inventory_tw_heldout.csv"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class FuzzyBaseline:
    """Plain fuzzy matching of a display name against NVD titles ("vendor product" when no title)."""

    def __init__(self, products) -> None:
        self.titles = []
        self.by_word: dict[str, list[int]] = {}
        for entry in products.values():
            title = (entry.title or f"{entry.vendor} {entry.product}").lower().replace("_", " ")
            title = re.sub(r"\s+\d[\w.]*$", "", title)
            index = len(self.titles)
            self.titles.append((title, entry.vendor, entry.product))
            for word in set(re.findall(r"[a-z0-9+]{2,}", title)):
                self.by_word.setdefault(word, []).append(index)

    def match(self, name: str) -> str:
        query = re.sub(r"[\d.]+", " ", name.lower()).strip()
        scores: dict[int, int] = {}
        for word in set(re.findall(r"[a-z0-9+]{2,}", query)):
            for index in self.by_word.get(word, ())[:5000]:
                scores[index] = scores.get(index, 0) + 1
        if not scores:
            return ""
        top = sorted(scores, key=lambda i: -scores[i])[:50]
        best = max(top, key=lambda i: difflib.SequenceMatcher(None, query, self.titles[i][0]).ratio())
        ratio = difflib.SequenceMatcher(None, query, self.titles[best][0]).ratio()
        return f"{self.titles[best][1]}:{self.titles[best][2]}" if ratio >= 0.5 else ""


def accuracy(rows, predict):
    with_cpe = [r for r in rows if r["expected"]]
    local = [r for r in rows if not r["expected"]]
    right = sum(1 for r in with_cpe if predict(r) & set(r["expected"].split("|")))
    left = sum(1 for r in local if not predict(r))
    return right, len(with_cpe), left, len(local)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--pairs", type=int, default=20_000, help="distinct (CPE, version) pairs to match")
    parser.add_argument("--baseline-pairs", type=int, default=1_000, help="pairs the matching baseline runs on")
    parser.add_argument("--big", action="store_true", help="also stream a ~200 MB CSV through the command")
    args = parser.parse_args()

    started = time.perf_counter()
    from citygov.security.engine.bundle import load_products, load_vulns
    from citygov.security.engine.identify import UNIDENTIFIED, Identifier, InventoryRow, Tables, load_tables
    from citygov.security.engine.pipeline import installed_cpes

    tables = load_tables()
    products = load_products()
    identifier = Identifier(tables, products)
    load_identify = time.perf_counter() - started
    started = time.perf_counter()
    vulns = load_vulns()
    load_vulns_s = time.perf_counter() - started

    with DATA.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))

    def ours(r):
        result = identifier.identify(InventoryRow(r["display_name"], r["display_version"], r["publisher"]))
        return set() if result.status == UNIDENTIFIED else set(result.keys())

    no_rules = Identifier(Tables(tables.terms, tables.publishers, [], tables.local), products)

    def dictionary_only(r):
        result = no_rules.identify(InventoryRow(r["display_name"], r["display_version"], r["publisher"]))
        return set() if result.status == UNIDENTIFIED else set(result.keys())

    baseline = FuzzyBaseline(products)
    started = time.perf_counter()
    base_acc = accuracy(rows, lambda r: {baseline.match(r["display_name"])} - {""})
    base_ms = (time.perf_counter() - started) / len(rows) * 1000
    our_acc = accuracy(rows, ours)
    dict_acc = accuracy(rows, dictionary_only)
    with HELDOUT.open(encoding="utf-8") as handle:
        heldout = list(csv.DictReader(handle))
    held = {"citygov": accuracy(heldout, ours), "rules off": accuracy(heldout, dictionary_only),
            "baseline": accuracy(heldout, lambda r: {baseline.match(r["display_name"])} - {""})}
    misses = [r["display_name"] for r in heldout if r["expected"] and not ours(r) & set(r["expected"].split("|"))]
    wrongly = [r["display_name"] for r in heldout if not r["expected"] and ours(r)]

    # Speed: distinct rows (the cache never helps), built from the inventory with varied versions.
    rng = random.Random(5)
    distinct = []
    for n in range(args.rows):
        r = rows[n % len(rows)]
        version = f"{rng.randint(1, 200)}.{rng.randint(0, 99)}.{n}"
        distinct.append(InventoryRow(f"{r['display_name']} {n % 7 or ''}".strip(), version, r["publisher"]))
    fresh = Identifier(tables, products)
    started = time.process_time()
    results = [fresh.identify(row) for row in distinct]
    cpu = time.process_time() - started
    per_second = len(distinct) / cpu

    # Matching: exactly --pairs distinct (CPE, version) pairs; more distinct rows are identified (untimed)
    # when the rows above give fewer.
    pairs = {c for result in results for c in installed_cpes(result)}
    n = args.rows
    while len(pairs) < args.pairs:
        r = rows[n % len(rows)]
        row = InventoryRow(r["display_name"], f"{rng.randint(1, 200)}.{rng.randint(0, 99)}.{n}", r["publisher"])
        pairs.update(installed_cpes(fresh.identify(row)))
        n += 1
    pairs = sorted(pairs, key=lambda c: c.formatted())[: args.pairs]
    started = time.process_time()
    matched = sum(len(vulns.match(cpe)) for cpe in pairs)
    match_s = time.process_time() - started
    # Baseline, same run: every configuration of every record of the product evaluated per pair (the
    # straightforward reading of NVD's rules), on an evenly spread sample; its answers must agree.
    from citygov.security.engine.matching import configuration_matches

    sample = pairs[:: max(1, len(pairs) // args.baseline_pairs)][: args.baseline_pairs]
    started = time.process_time()
    reference = []
    for cpe in sample:
        ids = vulns.by_product.get(cpe.key, ())
        reference.append({i for i in ids if any(configuration_matches(c, cpe) for c in vulns.record(i).configurations)})
    base_match_s = (time.process_time() - started) / len(sample) * len(pairs)
    agree = sum(1 for cpe, ref in zip(sample, reference, strict=True) if {h.cve_id for h in vulns.match(cpe)} == ref)

    print(f"date {time.strftime('%Y-%m-%d')}  machine {os.cpu_count()}-core {platform.machine()}, "
          f"CPython {platform.python_version()}")
    print(f"index load: identifier {load_identify:.2f} s, CVE index {load_vulns_s:.2f} s ({len(vulns)} CVEs)")
    print(f"accuracy (rows with a CPE / no-CPE rows left unidentified) on {len(rows)} rows:")
    print(f"  citygov      {our_acc[0]}/{our_acc[1]} = {our_acc[0] / our_acc[1]:.1%}   "
          f"{our_acc[2]}/{our_acc[3]} = {our_acc[2] / our_acc[3]:.1%}")
    print(f"  rules off    {dict_acc[0]}/{dict_acc[1]} = {dict_acc[0] / dict_acc[1]:.1%}   "
          f"{dict_acc[2]}/{dict_acc[3]} = {dict_acc[2] / dict_acc[3]:.1%}  (dictionary layer alone)")
    print(f"  baseline     {base_acc[0]}/{base_acc[1]} = {base_acc[0] / base_acc[1]:.1%}   "
          f"{base_acc[2]}/{base_acc[3]} = {base_acc[2] / base_acc[3]:.1%}  ({base_ms:.1f} ms/row)")
    print(f"held-out set ({len(heldout)} rows, not used while writing rules):")
    for name, acc in held.items():
        print(f"  {name:<12} {acc[0]}/{acc[1]} = {acc[0] / acc[1]:.1%}   {acc[2]}/{acc[3]} = {acc[2] / acc[3]:.1%}")
    print(f"  missed: {'; '.join(misses) or '-'}")
    print(f"  no-CPE rows wrongly identified: {'; '.join(wrongly) or '-'}")
    print(f"speed: {len(distinct)} distinct rows in {cpu:.2f} s CPU = {per_second:,.0f} rows/s "
          f"({1000 / per_second:.3f} ms/row; baseline {base_ms:.1f} ms/row, {base_ms / (1000 / per_second):.0f}× slower)")
    print(f"vulnerability matching: {len(pairs)} distinct (CPE, version) pairs in {match_s:.2f} s CPU, "
          f"{matched} CVE matches; baseline (every configuration evaluated) {base_match_s:.1f} s CPU "
          f"extrapolated from {len(sample)} pairs ({base_match_s / match_s:.1f}× slower), "
          f"same CVEs for {agree}/{len(sample)} sampled pairs")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"peak resident memory: {rss_mb():.0f} MB")

    if args.big:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "big.csv"
            with path.open("w", encoding="utf-8") as handle:
                handle.write("display_name,display_version,publisher,hostname,install_date\n")
                n = 0
                while handle.tell() < 200 * 1024 * 1024:
                    r = rows[n % len(rows)]
                    handle.write(f"\"{r['display_name']}\",{r['display_version']},\"{r['publisher']}\","
                                 f"PC-{n % 30000:05d},2025-01-{n % 28 + 1:02d}\n")
                    n += 1
            size = path.stat().st_size
            started = time.perf_counter()
            with open(os.devnull, "w") as sink:
                code = subprocess.call([str(Path(sys.executable).with_name("citygov")), "security", "identify",
                                        str(path), "--format", "jsonl"], stdout=sink,
                                       env={**os.environ, "CITYGOV_VAR_DIR": tmp})
            elapsed = time.perf_counter() - started
            child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            print(f"200 MB file: {size / 1e6:.0f} MB, {n:,} rows, exit {code}, {elapsed:.1f} s "
                  f"({n / elapsed:,.0f} rows/s), peak memory of the command {child:.0f} MB")


if __name__ == "__main__":
    main()
