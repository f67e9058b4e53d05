"""Benchmark: the points analytics pages and API over two years of data on PostgreSQL.

Target (issue "Points II"): the analytics pages over two years of ~1,000,000 transfers and 1,300
merchants answer in under 1 second. The data is written straight into the tables with
``generate_series`` (grants, redemptions, refunds and expiries spread over two years, the second
year at a tenth of the first, like the audit's collapse) — a read benchmark, so balances are not
maintained. The baseline measured in the same run is one ``SELECT count(*)`` over all transfers.

Uses the database at ``BENCH_DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/citygov_p4a_bench);
it is dropped and recreated each run.
Run: .venv/bin/python bench/points_analytics.py [--transfers 1000000] [--merchants 1300] [--repeat 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
from urllib.parse import urlparse


def prepare_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def populate(cursor, *, transfers: int, merchants: int, start: dt.datetime) -> dict:
    """Agencies, districts' merchants, campaigns, members, lots and ``transfers`` transfers over two years."""
    agencies, campaigns_per_agency, members = 10, 4, 20_000
    lots = transfers // 5  # one grant per lot
    redemptions = transfers * 3 // 5
    expiries = transfers // 10
    refunds = transfers - lots - redemptions - expiries
    params = {"start": start, "agencies": agencies, "cpa": campaigns_per_agency, "members": members, "lots": lots,
              "redemptions": redemptions, "expiries": expiries, "refunds": refunds, "merchants": merchants}
    sql = [
        "INSERT INTO points_account (kind, balance, created_at) VALUES ('mint', 0, now())",
        "INSERT INTO points_account (kind, agency_id, balance, created_at)"
        " SELECT k, a.id, 0, now() FROM agencies_agency a CROSS JOIN unnest(ARRAY['agency_funded', 'expired']) k"
        " WHERE a.code LIKE 'bench-%%'",
        "INSERT INTO points_campaign (agency_id, name, budget, grant_points, per_member_limit, claim_start, claim_end,"
        " lot_validity_days, status, created_at)"
        " SELECT a.id, a.name_zh || '活動' || c, 100000000, 500, 100000, %(start)s, %(start)s + interval '800 days',"
        " 90, 'approved', now() FROM agencies_agency a, generate_series(1, %(cpa)s) c"
        " WHERE a.code LIKE 'bench-%%'",
        "INSERT INTO points_account (kind, agency_id, balance, created_at)"
        " SELECT 'campaign', agency_id, 0, now() FROM points_campaign ORDER BY id",
        "UPDATE points_campaign c SET account_id = x.account_id FROM (SELECT c2.id, a.id AS account_id FROM"
        " (SELECT id, row_number() OVER (ORDER BY id) n FROM points_campaign) c2 JOIN"
        " (SELECT id, row_number() OVER (ORDER BY id) n FROM points_account WHERE kind = 'campaign') a"
        " ON a.n = c2.n) x WHERE x.id = c.id",
        "INSERT INTO points_member (card_number, national_id_hash, name, phone, email, consent, created_at)"
        " SELECT 'BENCH' || lpad(g::text, 8, '0'), '', '', '', '', false, now() FROM generate_series(1, %(members)s) g",
        "INSERT INTO points_merchant (tax_id, name, category, address, district_id, status, points_enabled, lon, lat,"
        " bank_code, bank_account, created_at)"
        " SELECT lpad((10000000 + g)::text, 8, '0'), '基準商店' || g, '零售', '', d.id,"
        " (ARRAY['active','active','active','active','active','active','suspended','closed','applied','not_renewed'])"
        "[1 + g %% 10], g %% 20 < 11, d.centroid_lon + (g %% 7) * 0.001, d.centroid_lat + (g %% 5) * 0.001,"
        " '004', '000000000000', now()"
        " FROM generate_series(1, %(merchants)s) g"
        " JOIN (SELECT id, centroid_lon, centroid_lat, row_number() OVER (ORDER BY code) - 1 AS n"
        " FROM agencies_district) d ON d.n = g %% 13",
        "INSERT INTO points_account (kind, merchant_id, balance, created_at)"
        " SELECT 'merchant_payable', id, 0, now() FROM points_merchant",
        "INSERT INTO points_account (kind, agency_id, balance, created_at)"
        " SELECT 'lot', NULL, 0, now() FROM generate_series(1, %(lots)s)",
        # Lots: the first 80% in the busy first year, the rest in the second.
        "INSERT INTO points_lot (member_id, campaign_id, agency_id, points, expires_at, account_id, created_at)"
        " SELECT m.id, c.id, c.agency_id, 500, t + interval '90 days', a.id, t FROM"
        " (SELECT id, row_number() OVER (ORDER BY id) n FROM points_account WHERE kind = 'lot') a"
        " CROSS JOIN LATERAL (SELECT CASE WHEN a.n %% 10 < 8 THEN %(start)s + (a.n %% 100000) * interval '315 seconds'"
        " ELSE %(start)s + interval '365 days' + (a.n %% 100000) * interval '315 seconds' END AS t) tt"
        " JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM points_member) m"
        " ON m.n = a.n %% %(members)s"
        " JOIN (SELECT id, agency_id, row_number() OVER (ORDER BY id) - 1 AS n FROM points_campaign) c"
        " ON c.n = a.n %% (%(agencies)s * %(cpa)s)",
        "INSERT INTO points_transfer (kind, amount, debit_id, credit_id, agency_id, created_at, campaign_id, lot_id)"
        " SELECT 'grant', 500, c.account_id, l.account_id, l.agency_id, l.created_at, l.campaign_id, l.id"
        " FROM points_lot l JOIN points_campaign c ON c.id = l.campaign_id",
        # Redemptions: 90% in the first year (the collapse), each from one lot at one merchant.
        "CREATE TEMP TABLE bench_r AS SELECT g, l.id AS lot_id, l.member_id, l.account_id AS lot_account,"
        " l.agency_id, mp.merchant_id, mp.id AS payable,"
        " CASE WHEN g %% 10 < 9 THEN %(start)s + (g %% 100000) * interval '315 seconds'"
        " ELSE %(start)s + interval '365 days' + (g %% 100000) * interval '315 seconds' END AS t,"
        " 20 + (g %% 9) * 10 AS amount"
        " FROM generate_series(1, %(redemptions)s) g"
        " JOIN (SELECT id, member_id, account_id, agency_id, row_number() OVER (ORDER BY id) - 1 AS n"
        " FROM points_lot) l ON l.n = g %% %(lots)s"
        " JOIN (SELECT id, merchant_id, row_number() OVER (ORDER BY id) - 1 AS n FROM points_account"
        " WHERE kind = 'merchant_payable') mp ON mp.n = g %% %(merchants)s",
        "INSERT INTO points_redemption (id, merchant_id, member_id, amount, refunded, created_at, reference)"
        " SELECT g, merchant_id, member_id, amount, 0, t, '' FROM bench_r",
        "INSERT INTO points_transfer (kind, amount, debit_id, credit_id, agency_id, created_at, lot_id, redemption_id,"
        " merchant_id) SELECT 'redeem', amount, lot_account, payable, agency_id, t, lot_id, g, merchant_id"
        " FROM bench_r",
        "INSERT INTO points_transfer (kind, amount, debit_id, credit_id, agency_id, created_at, lot_id, redemption_id,"
        " merchant_id) SELECT 'refund', 10, payable, lot_account, agency_id, t + interval '1 hour', lot_id, g,"
        " merchant_id FROM bench_r WHERE g <= %(refunds)s",
        "INSERT INTO points_transfer (kind, amount, debit_id, credit_id, agency_id, created_at, lot_id)"
        " SELECT 'expire', 300, l.account_id, e.id, l.agency_id, l.expires_at, l.id"
        " FROM (SELECT * FROM points_lot ORDER BY id LIMIT %(expiries)s) l"
        " JOIN points_account e ON e.kind = 'expired' AND e.agency_id = l.agency_id",
        "SELECT setval(pg_get_serial_sequence('points_redemption', 'id'), (SELECT max(id) FROM points_redemption))",
        "ANALYZE",
    ]
    for statement in sql:
        cursor.execute(statement, params)
    cursor.execute("SELECT count(*) FROM points_transfer")
    return {"transfers": cursor.fetchone()[0], **params}


def timed(call, repeat: int) -> tuple[float, float, float]:
    """(first, median, max) seconds of ``repeat`` calls; the first is the cold one."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times[0], statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=1_000_000)
    parser.add_argument("--merchants", type=int, default=1_300)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="time the data a previous run left (no reload)")
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/citygov_p4a_bench")
    if not args.reuse:
        prepare_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("CITYGOV_VAR_DIR", tempfile.mkdtemp(prefix="citygov-bench-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "citygov.settings"
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    settings.ALLOWED_HOSTS = ["testserver", *settings.ALLOWED_HOSTS]
    call_command("migrate", verbosity=0)
    from citygov.agencies.models import Agency, AgencyKind, Membership
    from citygov.agencies.services import do_load_reference_data
    from citygov.core.models import User
    from citygov.core.roles import Role
    from citygov.points.models import Lot, Redemption

    began = time.perf_counter()
    if not args.reuse:
        do_load_reference_data()
        Agency.objects.bulk_create([Agency(code=f"bench-{n}", name_zh=f"基準局{n}", name_en=f"Bench {n}",
                                           kind=AgencyKind.DEPARTMENT) for n in range(1, 11)])
        with connection.cursor() as cursor:
            figures = populate(cursor, transfers=args.transfers, merchants=args.merchants,
                               start=dt.datetime(2024, 11, 22, tzinfo=dt.UTC))
        User.objects.create_user("bench-operator", password="x" * 16, role=Role.POINTS_OPERATOR)
        agency_admin = User.objects.create_user("bench-agency", password="x" * 16, role=Role.AGENCY_ADMIN)
        Membership.objects.create(user=agency_admin, agency=Agency.objects.filter(code="bench-1").get())
    else:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM points_transfer")
            figures = {"transfers": cursor.fetchone()[0], "lots": Lot.objects.count(),
                       "redemptions": Redemption.objects.count()}
    load_seconds = time.perf_counter() - began
    operator = User.objects.get(username="bench-operator")
    agency_admin = User.objects.get(username="bench-agency")
    with connection.cursor() as cursor:
        baseline = timed(lambda: (cursor.execute("SELECT count(*) FROM points_transfer"), cursor.fetchone()),
                         args.repeat)

    year = 2025
    targets = [
        ("page: analytics", f"/points/analytics/?year={year}"),
        ("page: district map", "/points/analytics/map/"),
        ("map data (signed in)", "/points/analytics/map/data.json"),
        ("api: monthly", f"/api/points/analytics/monthly/?year={year}"),
        ("api: daily (90 days)", "/api/points/analytics/daily/?first=2025-09-01&last=2025-11-29"),
        ("api: daily (2 years)", "/api/points/analytics/daily/?first=2024-11-22&last=2026-11-21"),
        ("api: yoy", f"/api/points/analytics/yoy/?year={year}"),
        ("api: campaigns", "/api/points/analytics/campaigns/"),
        ("api: agencies", "/api/points/analytics/agencies/"),
        ("api: districts", "/api/points/analytics/districts/"),
        ("api: public merchant map", "/api/points/public/merchant-map/"),
        ("export: monthly xlsx", f"/points/analytics/export/monthly.xlsx?year={year}"),
        ("export: daily csv (year)", f"/points/analytics/export/daily.csv?year={year}"),
    ]
    print(f"# points analytics benchmark — {dt.date.today()}, {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {connection.vendor} {connection.pg_version // 10000}")
    print(f"data: {figures['transfers']:,} transfers, {args.merchants:,} merchants, {figures['lots']:,} lots, "
          f"{figures['redemptions']:,} redemptions over two years; {'reused' if args.reuse else 'loaded'} in {load_seconds:.1f} s")
    print(f"baseline (count of all transfers): median {1000 * baseline[1]:.0f} ms")
    print("| what | as | first (ms) | median (ms) | max (ms) | ratio to baseline | < 1 s |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    worst = 0.0
    for user, label in ((operator, "operator"), (agency_admin, "agency admin")):
        client = Client()
        client.force_login(user)
        for name, path in targets:
            if user is agency_admin and not name.startswith(("page: analytics", "api: monthly", "api: yoy")):
                continue
            if name == "api: public merchant map":
                client = Client()

            def get(path=path, client=client):
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)
                return response

            first, median, most = timed(get, args.repeat)
            worst = max(worst, median)
            print(f"| {name} | {label} | {1000 * first:.0f} | {1000 * median:.0f} | {1000 * most:.0f} | "
                  f"{median / baseline[1]:.1f}× | {'yes' if median < 1 else 'NO'} |")
            if name == "api: public merchant map":
                client = Client()
                client.force_login(user)
    print(f"slowest median: {1000 * worst:.0f} ms — target < 1 s {'met' if worst < 1 else 'NOT met'}")


if __name__ == "__main__":
    main()
