"""Benchmark: SOC alert ingestion into PostgreSQL and the analytics figures over ~1,000,000 alerts.

1. Ingestion: ``do_import_alerts`` on an in-memory NDJSON stream of N distinct Suricata EVE alerts
   (the service path a file upload takes: parse, normalise, classify, CIDR, dedup, bulk insert).
   Target >= 10,000 alerts/s. Baseline in the same run: the engine alone on the same stream.
2. Analytics: the table is grown to M alerts with ``INSERT ... SELECT`` over ``generate_series``
   (times spread over two years), the roll-ups are rebuilt (the growth bypassed the importer that
   maintains them), then ``alert_figures`` (everything the analytics page shows) and a GET of the
   page are timed. Target < 1 s. Baseline: one ``SELECT count(*)`` over the table.

Uses ``BENCH_DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/citygov_soc_bench), dropped
and recreated each run.
Run: .venv/bin/python bench/soc_ingest.py [--ingest 100000] [--total 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))


def prepare_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ingest", type=int, default=100_000)
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/citygov_soc_bench")
    prepare_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("CITYGOV_VAR_DIR", tempfile.mkdtemp(prefix="citygov-soc-bench-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "citygov.settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from soc_engine import build

    from citygov.core.models import User
    from citygov.core.roles import Role
    from citygov.soc import queries, services
    from citygov.soc.engine import formats

    call_command("migrate", verbosity=0)
    analyst = User.objects.create(username="bench-analyst", role=Role.SECURITY_ANALYST)
    data = build(args.ingest)

    say = print
    say(f"machine: {platform.machine()} python {platform.python_version()}, PostgreSQL via {urlparse(url).hostname}",
        flush=True)
    start = time.perf_counter()
    engine_count = sum(1 for i in formats.read_alerts(io.BytesIO(data)) if isinstance(i, formats.Alert))
    engine_s = time.perf_counter() - start
    say(f"engine only: {args.ingest / engine_s:,.0f} alerts/s (baseline)", flush=True)
    start = time.perf_counter()
    run = services.do_import_alerts(analyst, io.BytesIO(data), "bench.ndjson")
    ingest_s = time.perf_counter() - start
    assert run.created == engine_count == args.ingest, (run.created, engine_count)
    say(f"ingest via do_import_alerts: {args.ingest / ingest_s:,.0f} alerts/s "
        f"({ingest_s / engine_s:.2f}x the engine time); target >= 10,000: "
        f"{'met' if args.ingest / ingest_s >= 10_000 else 'NOT met'}", flush=True)
    start = time.perf_counter()
    again = services.do_import_alerts(analyst, io.BytesIO(data), "bench.ndjson")
    reimport_s = time.perf_counter() - start
    assert again.created == 0
    say(f"re-import of the same {args.ingest:,} alerts: {reimport_s:.2f} s, created 0", flush=True)

    copies = max(0, args.total // args.ingest - 1)
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO soc_alert (agency_id, dedup_key, source_format, time, src_ip, src_port, dest_ip, dest_port,
                protocol, signature_id, signature, family, source_category, source_severity, category, severity,
                rule, sensor, action, status, status_reason, case_id, imported_id)
            SELECT agency_id, substr(md5(dedup_key || g::text), 1, 40), source_format,
                   timestamp '2024-01-01' + (random() * interval '730 days'), src_ip, src_port,
                   '10.' || mod(g, 40)::text || '.' || mod(id, 250)::text || '.' || mod(g, 250)::text, dest_port,
                   protocol, signature_id, signature, family, source_category, source_severity, category, severity,
                   rule, sensor, action, status, status_reason, case_id, imported_id
            FROM soc_alert, generate_series(1, %s) AS g""", [copies])
        cursor.execute("ANALYZE soc_alert")
        cursor.execute("SELECT count(*) FROM soc_alert")
        total = cursor.fetchone()[0]
    say(f"alerts in the table: {total:,}", flush=True)
    # The growth above bypassed the importer, so the roll-ups are rebuilt from the table (the
    # importer keeps them current itself); timed, it is what the migration does on an old database.
    from citygov.soc import rollups

    start = time.perf_counter()
    daily_rows, group_rows, address_rows = rollups.rebuild()
    say(f"roll-up rebuild over {total:,} alerts: {time.perf_counter() - start:.1f} s "
        f"({daily_rows:,} daily rows, {group_rows:,} group rows, {address_rows:,} address rows)", flush=True)
    with connection.cursor() as cursor:
        for table in ("soc_alertdaily", "soc_alertgrouptotal", "soc_alertendpointtotal"):
            cursor.execute(f"ANALYZE {table}")

    def timed(fn) -> float:
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    def count_all():
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM soc_alert")
            cursor.fetchone()

    say(f"SELECT count(*) (baseline): {timed(count_all) * 1000:.0f} ms", flush=True)
    figures = timed(lambda: queries.alert_figures(analyst))
    focus = timed(lambda: queries.alert_figures(analyst, queries.AlertFilter(focus=True)))
    say(f"alert_figures (all): {figures * 1000:.0f} ms; focus (medium+high): {focus * 1000:.0f} ms", flush=True)
    client = Client(HTTP_HOST="localhost")
    client.force_login(analyst)

    def page_get():
        response = client.get("/soc/")
        assert response.status_code == 200, response.status_code

    page = timed(page_get) if figures < 5 else (lambda t0: (page_get(), time.perf_counter() - t0)[1])(
        time.perf_counter())  # one GET when the figures alone take seconds
    say(f"GET /soc/: {page * 1000:.0f} ms; target < 1000 ms: {'met' if page < 1 else 'NOT met'}", flush=True)


if __name__ == "__main__":
    main()
