"""Benchmark: overdue-update detection, catalogue import and search at data.gov.tw size (60,000 datasets).

The 1,444 real Taoyuan rows are repeated with new identifiers until the catalogue holds 60,000 rows
(same frequencies, dates and text), written as one city-portal CSV file. Measured:

- engine: read the file, normalise every frequency and judge every dataset (target < 2 s);
- import: the whole file through ``do_import_catalog`` into an empty database (target < 60 s);
- end to end with the database: ``queries.judge`` over the 60,000 stored rows (target < 10 s);
- catalogue search: ``queries.search`` for a two-character and a two-term query, first page and count
  (target < 200 ms);
- baseline: ``csv.reader`` over the same file (the floor any reader pays), for the ratio.

The database is a throw-away SQLite file under a temporary directory unless ``BENCH_DATABASE_URL`` is
set (e.g. ``postgres://postgres@127.0.0.1:5432/citygov_datagov_bench``; the database must exist and be
empty). Run: .venv/bin/python bench/datagov_freshness.py
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

ROWS = 60_000
SOURCE = Path(__file__).resolve().parents[1] / "citygov" / "datagov" / "data" / "taoyuan_tycg_catalog_2018-07-07.csv"


def build_file() -> bytes:
    with SOURCE.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for i in range(ROWS):
        row = list(body[i % len(body)])
        row[0] = str(i + 1)
        writer.writerow(row)
    return out.getvalue().encode("utf-8")


def timed(func, rounds: int = 3) -> tuple[float, float]:
    """Median wall-clock and CPU seconds (the machine is shared: CPU time shows the code's own cost)."""
    wall, cpu = [], []
    for _ in range(rounds):
        start, start_cpu = time.perf_counter(), time.process_time()
        func()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def show(label: str, figures: tuple[float, float], target: float | None = None, unit: str = "s") -> None:
    wall, cpu = figures
    scale = 1000 if unit == "ms" else 1
    verdict = "" if target is None else f"  target < {target * scale:g} {unit}: {'met' if wall < target else 'NOT met'}"
    print(f"{label:34s} wall {wall * scale:9.1f} {unit}  cpu {cpu * scale:9.1f} {unit}{verdict}")


def main() -> None:
    tmp = tempfile.mkdtemp(prefix="datagov-bench-")
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
    os.environ.setdefault("CITYGOV_VAR_DIR", tmp)
    os.environ["DJANGO_SETTINGS_MODULE"] = "citygov.settings"
    import django

    django.setup()
    from django.core.management import call_command

    from citygov.agencies.services import do_load_reference_data
    from citygov.datagov import queries
    from citygov.datagov.engine import catalog
    from citygov.datagov.engine import frequency as fq
    from citygov.datagov.engine import freshness as fr
    from citygov.datagov.models import Dataset
    from citygov.datagov.services import do_import_catalog

    data = build_file()
    as_of = dt.datetime(2018, 7, 8, tzinfo=catalog.TAIPEI)
    policy = fr.Policy()

    def baseline() -> None:
        for _row in csv.reader(io.StringIO(data.decode("utf-8"), newline="")):
            pass

    entries: list = []

    def read() -> None:
        entries[:] = [entry for entry, _error in catalog.CatalogReader(io.BytesIO(data))]

    def engine() -> None:
        cache: dict[str, fq.Frequency] = {}
        results = []
        for entry in entries:
            freq = cache.get(entry.frequency_text) or cache.setdefault(entry.frequency_text,
                                                                        fq.normalise(entry.frequency_text))
            results.append(fr.check(fr.Entry(entry.source_id, freq, entry.data_updated, entry.metadata_updated,
                                             entry.created), as_of, policy))
        assert len(results) == ROWS

    base = timed(baseline)
    read_s = timed(read)
    engine_s = timed(engine)
    call_command("migrate", verbosity=0)
    do_load_reference_data()
    runs: list = []
    import_s = timed(lambda: runs.append(do_import_catalog(None, io.BytesIO(data), "bench.csv")), rounds=1)
    assert runs[0].run.created == ROWS, runs[0].run
    reimport_s = timed(lambda: runs.append(do_import_catalog(None, io.BytesIO(data), "bench.csv")), rounds=1)
    assert runs[1].run.unchanged == ROWS
    judged: list = []
    e2e_s = timed(lambda: judged.append(queries.summary(queries.judge(Dataset.objects.all(), as_of, policy))))

    def search(text: str, indexed: bool = True):
        def run() -> None:
            if indexed:
                qs = queries.search(Dataset.objects.all(), text)
            else:  # the substring scan this index replaced: the baseline of the search ratio
                qs = Dataset.objects.all()
                for term in text.split():
                    qs = qs.filter(search_text__contains=term)
            list(qs.order_by("title", "id")[:50])
            qs.count()
        return run

    search_cases = ["停車", "桃園 地價", "登革熱", "公", "桃園"]
    search_figures = [(text, timed(search(text, False), rounds=5), timed(search(text), rounds=5),
                       queries.search(Dataset.objects.all(), text).count()) for text in search_cases]
    print(f"date {dt.date.today()}, {platform.machine()}, CPython {platform.python_version()}, "
          f"{os.cpu_count()} cores, database "
          f"{os.environ['DATABASE_URL'].split(':')[0]}")
    print(f"rows {ROWS:,}; file {len(data) / 1e6:.1f} MB; summary as of {as_of.date()}: {judged[0]}")
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f}")
    show("baseline csv.reader", base)
    show("engine: read the file", read_s)
    show("engine: normalise + judge", engine_s, 2.0)
    print(f"  (ratio read+judge / baseline: {(read_s[0] + engine_s[0]) / base[0]:.1f}x)")
    show("import (empty database)", import_s, 60.0)
    show("re-import (unchanged)", reimport_s)
    show("end to end judge (database)", e2e_s, 10.0)
    for text, scan, indexed, hits in search_figures:
        show(f"search scan    '{text}' ({hits:,} hits)", scan, None, "ms")
        show(f"search indexed '{text}' ({hits:,} hits)", indexed, 0.2, "ms")
        print(f"  (ratio indexed / scan: {indexed[0] / scan[0]:.2f}x wall, {indexed[1] / scan[1]:.2f}x cpu)")


if __name__ == "__main__":
    main()
