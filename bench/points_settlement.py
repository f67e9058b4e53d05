"""Benchmark: the daily settlement batch and statement reconciliation, on PostgreSQL.

Targets (issue "Points II"): the daily batch for 1,300 merchants over 1,000,000 transfers in under
5 minutes; reconciliation of 5,000 statement lines in under 1 minute.

Setup writes the day's capture transfers straight into the ledger tables with ``COPY`` (this measures
the batch build, not issuance; the issuance path has its own benchmark), spread over 1,300 merchants
and two agencies. The baseline measured in the same run is one ``SELECT count(*), sum(amount)`` over
the day's transfers — the floor for reading them once.

Reconciliation: every line of the batch is paid by the bank in 4 debits (5,200 statement lines),
so each line is matched by several debits and settled, which posts the ``settle`` transfers.

Uses a throw-away database ``citygov_bench_settle`` at ``BENCH_DATABASE_URL`` (dropped and recreated).
Run: .venv/bin/python bench/points_settlement.py [--transfers 1000000] [--merchants 1300]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
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
    parser.add_argument("--transfers", type=int, default=1_000_000)
    parser.add_argument("--merchants", type=int, default=1_300)
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/citygov_bench_settle")
    prepare_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("CITYGOV_VAR_DIR", tempfile.mkdtemp(prefix="citygov-bench-"))
    os.environ["CITYGOV_POINTS_SIGNING_KEY_FILE"] = os.path.join(os.environ["CITYGOV_VAR_DIR"], "none.pem")
    os.environ["DJANGO_SETTINGS_MODULE"] = "citygov.settings"
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from citygov.agencies.models import Agency, AgencyKind
    from citygov.core.models import User
    from citygov.core.roles import Role
    from citygov.points.models import Account, AccountKind, Merchant, SettlementPosition, Transfer
    from citygov.points.services import reconciliation, settlement
    from citygov.points.services.posting import singleton_account

    tz = dt.timezone(dt.timedelta(hours=8))
    day = dt.date(2026, 3, 1)
    operator = User.objects.create_user("bench-operator", password="x" * 20, role=Role.POINTS_OPERATOR)  # noqa: S106
    agencies = [Agency.objects.create(code=f"bench-{n}", name_zh=f"基準局{n}", kind=AgencyKind.DEPARTMENT)
                for n in range(2)]
    merchants = Merchant.objects.bulk_create([
        Merchant(tax_id=f"{10_000_000 + n:08d}", name=f"基準商店{n}", status="active", points_enabled=True,
                 bank_code="0040000", bank_account=f"{n + 1:012d}") for n in range(args.merchants)])
    payables = [singleton_account(AccountKind.MERCHANT_PAYABLE, merchant_id=m.pk) for m in merchants]
    # One lot account per agency stands in for the members' lots: the batch reads only the payable side.
    lots = [Account.objects.create(kind=AccountKind.LOT, balance=10**12) for _ in agencies]

    print(f"setup: writing {args.transfers:,} capture transfers for {args.merchants:,} merchants …", flush=True)
    started = time.perf_counter()
    start = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    span = 86_399
    totals: dict[int, int] = {}
    buffer = io.StringIO()
    table = Transfer._meta.db_table
    for n in range(args.transfers):
        merchant = n % args.merchants
        agency = n % 2
        amount = 50 + (n * 7) % 200
        when = start + dt.timedelta(seconds=(n * span) // args.transfers)
        buffer.write(f"redeem\t{amount}\t{lots[agency].pk}\t{payables[merchant].pk}\t{agencies[agency].pk}\t"
                     f"{when.isoformat()}\t{merchants[merchant].pk}\n")
        totals[payables[merchant].pk] = totals.get(payables[merchant].pk, 0) + amount
    buffer.seek(0)
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE points_transfer DISABLE TRIGGER USER")
        with cursor.cursor.copy(f"COPY {table} (kind, amount, debit_id, credit_id, agency_id, created_at, "
                                "merchant_id) FROM STDIN") as copy:
            while chunk := buffer.read(1 << 20):
                copy.write(chunk)
        cursor.execute("ALTER TABLE points_transfer ENABLE TRIGGER USER")
        for pk, total in totals.items():
            cursor.execute("UPDATE points_account SET balance = balance + %s WHERE id = %s", [total, pk])
        cursor.execute("ANALYZE")
    print(f"setup done in {time.perf_counter() - started:.1f} s", flush=True)

    t = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), sum(amount) FROM points_transfer WHERE created_at >= %s AND created_at < %s",
                       [start, start + dt.timedelta(days=1)])
        count, total = cursor.fetchone()
    baseline = time.perf_counter() - t

    t = time.perf_counter()
    result = settlement.do_build_batches_through(operator, day, now=start + dt.timedelta(days=1, minutes=6))
    build = time.perf_counter() - t
    batch = result.batches[-1]
    assert batch.transfer_count == args.transfers == count, (batch.transfer_count, count)
    assert batch.total_amount == total and batch.line_count == args.merchants

    rows = ["對帳單編號,TS-BENCH", "交易日期,摘要,支出金額,存入金額,餘額,對方銀行代碼,對方帳號,備註"]
    for line in SettlementPosition.objects.filter(batch=batch).order_by("pk"):
        parts = [line.amount // 4] * 3 + [line.amount - 3 * (line.amount // 4)]
        rows += [f"2026/03/02,撥付,{p},,,{line.bank_code},{line.bank_account},{batch.batch_id}" for p in parts]
    data = ("\n".join(rows) + "\n").encode()
    lines = len(rows) - 2
    t = time.perf_counter()
    report = reconciliation.do_import_statement(operator, io.BytesIO(data), now=start + dt.timedelta(days=1, hours=9))
    reconcile = time.perf_counter() - t
    problems = reconciliation.check_trust() + settlement.check_settlement().problems

    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, PostgreSQL")
    print(f"baseline: one pass over the day's {count:,} transfers: {baseline:.2f} s")
    print(f"daily batch: {args.transfers:,} transfers, {args.merchants:,} merchants → {batch.line_count:,} lines, "
          f"NT${batch.total_amount:,}: {build:.1f} s ({build / baseline:.1f}× the baseline) — target < 300 s: "
          f"{'met' if build < 300 else 'NOT met'}")
    print(f"reconciliation: {lines:,} statement lines, {report.matched_payouts:,} matched, "
          f"{report.settled_lines:,} lines settled, {report.exceptions} exceptions: {reconcile:.1f} s — "
          f"target < 60 s: {'met' if reconcile < 60 else 'NOT met'}")
    print(f"identities: {problems or 'ok'}")


if __name__ == "__main__":
    main()
