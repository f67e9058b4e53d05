"""Benchmark: bulk issuance and lot expiry through the points services, on PostgreSQL.

Targets (issue "Points I"): bulk issuance ≥ 1,000 grants/s (360,000 grants in under 10 minutes) and
expiry of 200,000 lots in under 2 minutes. The baseline measured in the same run is a plain
``bulk_create`` of the same number of member rows (the floor for writing one row per grant).

Uses a throw-away database ``citygov_bench`` on the PostgreSQL at ``BENCH_DATABASE_URL`` (default
postgres://postgres@127.0.0.1:5432/citygov_bench); it is dropped and recreated each run.
Run: .venv/bin/python bench/points_ledger.py [--grants 360000] [--expire 200000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grants", type=int, default=360_000)
    parser.add_argument("--expire", type=int, default=200_000)
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/citygov_bench")
    prepare_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("CITYGOV_VAR_DIR", tempfile.mkdtemp(prefix="citygov-bench-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "citygov.settings"
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from citygov.agencies.models import Agency, AgencyKind
    from citygov.core.models import User
    from citygov.core.roles import Role
    from citygov.points.models import Lot, Member
    from citygov.points.queries import check_ledger
    from citygov.points.services import ledger

    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    agency = Agency.objects.create(code="bench", name_zh="基準局", kind=AgencyKind.DEPARTMENT)
    admin = User.objects.create_user("bench-admin", password="x" * 16, role=Role.CITY_ADMIN)
    total = args.grants * 100
    purchase = ledger.do_create_purchase(admin, agency_id=agency.pk, reference="PO-BENCH", points=total, now=t0)
    ledger.do_confirm_deposit(admin, purchase.pk, bank_reference="TRUST-BENCH", now=t0)
    campaign = ledger.do_create_campaign(admin, ledger.CampaignInput(
        agency_id=agency.pk, name="bench", budget=total, grant_points=100, per_member_limit=100,
        claim_start=t0, claim_end=t0 + dt.timedelta(days=30), lot_validity_days=30))
    campaign = ledger.do_approve_campaign(admin, campaign.pk, now=t0)

    cards = [f"B{n:09d}" for n in range(args.grants)]
    start = time.perf_counter()
    Member.objects.bulk_create([Member(card_number=c) for c in cards], batch_size=5000)
    baseline = time.perf_counter() - start

    start = time.perf_counter()
    report = ledger.do_bulk_grant(admin, campaign.pk, cards, now=t0 + dt.timedelta(hours=1))
    issuance = time.perf_counter() - start
    assert report.granted == args.grants, report.refused[:3]

    # Expire a subset: pull the first N lots' expiry forward so exactly N are due.
    due = list(Lot.objects.order_by("pk").values_list("pk", flat=True)[: args.expire])
    cut = t0 + dt.timedelta(days=10)
    Lot.objects.filter(pk__in=due).update(expires_at=cut)
    start = time.perf_counter()
    moved = ledger.do_expire_lots(now=cut)
    expiry = time.perf_counter() - start
    assert moved == len(due)

    start = time.perf_counter()
    health = check_ledger()
    audit = time.perf_counter() - start

    print(f"machine: {platform.machine()} {os.cpu_count()} cores, CPython {platform.python_version()}, PostgreSQL")
    print(f"baseline: bulk_create {args.grants:,} member rows in {baseline:.1f} s "
          f"({args.grants / baseline:,.0f} rows/s)")
    print(f"bulk issuance: {args.grants:,} grants in {issuance:.1f} s ({args.grants / issuance:,.0f} grants/s; "
          f"target ≥ 1,000/s, 360,000 in < 600 s); ratio to baseline {issuance / baseline:.1f}x")
    print(f"expiry: {moved:,} lots in {expiry:.1f} s ({moved / expiry:,.0f} lots/s; target 200,000 in < 120 s)")
    print(f"auditor: {health.transfers_checked:,} transfers, {health.accounts_checked:,} accounts checked in "
          f"{audit:.1f} s; invariant violations: {len(health.problems)}")


if __name__ == "__main__":
    main()
