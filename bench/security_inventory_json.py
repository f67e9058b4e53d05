"""Benchmark: streaming JSON / osquery inventories versus the CSV reader on the same rows.

Writes the same synthetic inventory (Windows programs and Debian packages, with zh-TW names) as CSV and
as an osquery-style JSON array, reads both with ``citygov.security.engine.inventory.iter_rows`` and
prints rows/s, the JSON/CSV time ratio and the peak resident memory (which must not grow with the file).
No database needed.

Run: .venv/bin/python bench/security_inventory_json.py [--mb 200]
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from citygov.security.engine.inventory import COLUMNS, iter_rows  # noqa: E402

PROGRAMS = (("Microsoft Office 專業增強版 2019 - zh-tw", "16.0.10416.20058", "Microsoft Corporation"),
            ("7-Zip 24.08 (x64)", "24.08", "Igor Pavlov"), ("電子公文製作系統", "5.2.3", "凌網科技"),
            ("openssl", "3.0.15-1~deb12u1", "Debian OpenSSL Team"), ("Google Chrome", "131.0.6778.140", "Google LLC"))


def rss_mb() -> float:
    """Peak resident memory of this process in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write(folder: Path, megabytes: int) -> tuple[Path, Path, int]:
    """The same rows as CSV and as a JSON array, until the JSON file reaches ``megabytes``."""
    csv_path, json_path = folder / "inventory.csv", folder / "inventory.json"
    rows = 0
    with csv_path.open("w", encoding="utf-8", newline="") as c, json_path.open("w", encoding="utf-8") as j:
        out = csv.writer(c)
        out.writerow(["name", "version", "publisher", "install_location"])
        j.write("[\n")
        while j.tell() < megabytes * 1024 * 1024:
            name, version, publisher = PROGRAMS[rows % len(PROGRAMS)]
            location = f"C:\\Program Files\\App{rows}\\"
            out.writerow([f"{name} {rows}", version, publisher, location])
            j.write(("," if rows else "") + json.dumps({"name": f"{name} {rows}", "version": version,
                                                        "publisher": publisher, "install_location": location},
                                                       ensure_ascii=False) + "\n")
            rows += 1
        j.write("]\n")
    return csv_path, json_path, rows


def read(path: Path) -> tuple[int, float]:
    """Rows read and seconds taken."""
    start = time.perf_counter()
    count = sum(1 for _ in iter_rows(path, COLUMNS))
    return count, time.perf_counter() - start


def main() -> None:
    """Write, read and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="size of the JSON file in MB (default 200)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv_path, json_path, rows = write(Path(tmp), args.mb)
        before = rss_mb()
        json_rows, json_seconds = read(json_path)
        csv_rows, csv_seconds = read(csv_path)
        assert json_rows == csv_rows == rows, (json_rows, csv_rows, rows)
        print(f"rows: {rows:,}; JSON {json_path.stat().st_size / 1e6:.0f} MB, CSV {csv_path.stat().st_size / 1e6:.0f} MB")
        print(f"JSON array (osquery programs shape): {json_seconds:.1f} s, {rows / json_seconds:,.0f} rows/s")
        print(f"CSV, same rows (baseline):           {csv_seconds:.1f} s, {rows / csv_seconds:,.0f} rows/s")
        print(f"JSON / CSV time: {json_seconds / csv_seconds:.2f}x")
        print(f"peak RSS: {rss_mb():.0f} MB (before reading: {before:.0f} MB)")


if __name__ == "__main__":
    main()
