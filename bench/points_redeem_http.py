"""Benchmark: redemptions through the merchant-terminal HTTP API, on PostgreSQL with Redis.

Targets (issue "Points I"): sustained redemptions with 32 concurrent clients for 5 minutes at
≥ 200/s with p99 < 250 ms and zero invariant violations; a 60-second burst offered at 1,000
requests/s, where shedding with 429 is allowed but lost or duplicated transfers are not.

The server is gunicorn (``citygov.wsgi``) on loopback against a throw-away database
``citygov_bench_http``; clients are separate processes signing real requests. Every request has its
own idempotency key; a request that times out is retried with the same key, so each redemption the
client believes in is counted once. Afterwards the count and sum of 201 answers are compared with
the redemptions and transfers in the database, and the ledger auditor runs.

Run: .venv/bin/python bench/points_redeem_http.py [--seconds 300] [--burst-seconds 60]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from urllib.parse import urlparse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORT = 18731
MERCHANTS = 40
MEMBERS = 3200
SECRET = "bench-secret-" + "x" * 20


def environment() -> dict:
    env = dict(os.environ)
    env["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/citygov_bench_http")
    env["CITYGOV_REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    env.setdefault("CITYGOV_VAR_DIR", tempfile.mkdtemp(prefix="citygov-bench-http-"))
    env["CITYGOV_TERMINAL_RATE"] = "100000/min"
    env["DJANGO_SETTINGS_MODULE"] = "citygov.settings"
    return env


def setup(env: dict) -> None:
    """Fresh database; an agency, a big campaign, members with one large lot each, merchants with terminals."""
    import psycopg

    parsed = urlparse(env["DATABASE_URL"])
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.path.lstrip("/")}"')
        conn.execute(f'CREATE DATABASE "{parsed.path.lstrip("/")}"')
    os.environ.update(env)
    sys.path.insert(0, ROOT)
    import django

    django.setup()
    import datetime as dt

    from django.core.cache import cache
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    cache.clear()
    from citygov.agencies.models import Agency, AgencyKind
    from citygov.core.models import User
    from citygov.core.roles import Role
    from citygov.points.models import Member, Merchant, MerchantStatus, Terminal
    from citygov.points.services import ledger

    now = timezone.now()
    agency = Agency.objects.create(code="bench", name_zh="基準局", kind=AgencyKind.DEPARTMENT)
    admin = User.objects.create_user("bench-admin", password="x" * 16, role=Role.CITY_ADMIN)
    grant = 100_000
    po = ledger.do_create_purchase(admin, agency_id=agency.pk, reference="PO", points=grant * MEMBERS)
    ledger.do_confirm_deposit(admin, po.pk, bank_reference="TRUST")
    campaign = ledger.do_create_campaign(admin, ledger.CampaignInput(
        agency_id=agency.pk, name="bench", budget=grant * MEMBERS, grant_points=grant, per_member_limit=grant,
        claim_start=now - dt.timedelta(days=1), claim_end=now + dt.timedelta(days=1), lot_validity_days=30))
    ledger.do_approve_campaign(admin, campaign.pk)
    Member.objects.bulk_create([Member(card_number=f"H{n:06d}") for n in range(MEMBERS)])
    ledger.do_bulk_grant(admin, campaign.pk, [f"H{n:06d}" for n in range(MEMBERS)])
    for n in range(MERCHANTS):
        merchant = Merchant.objects.create(tax_id=f"9{n:07d}", name=f"shop {n}", status=MerchantStatus.ACTIVE,
                                           points_enabled=True)
        Terminal.objects.create(merchant=merchant, terminal_id=f"BT-{n:03d}", secret=SECRET)


def signed_request(conn, terminal: str, card: str, key: str, timeout: float):
    from citygov.points.engine.signing import sign

    path = "/api/points/terminal/redeem/"
    body = json.dumps({"card_number": card, "amount": 1}).encode()
    timestamp, nonce = str(int(time.time())), secrets.token_hex(12)
    headers = {"Content-Type": "application/json", "X-Terminal-Id": terminal, "X-Timestamp": timestamp,
               "X-Nonce": nonce, "X-Signature": sign(SECRET, "POST", path, timestamp, nonce, body),
               "Idempotency-Key": key}
    conn.timeout = timeout
    conn.request("POST", path, body=body, headers=headers)
    response = conn.getresponse()
    payload = response.read()
    return response.status, payload


def client_process(phase: str, index: int, threads: int, seconds: float, rate: float | None, queue) -> None:
    """Run ``threads`` client loops; each owns distinct members. ``rate`` = requests/s per thread (open loop)."""
    sys.path.insert(0, ROOT)
    results = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def loop(slot: int):
        conn = http.client.HTTPConnection("127.0.0.1", PORT)
        member_base = (index * threads + slot) * (MEMBERS // 64)
        n = 0
        next_at = time.monotonic()
        local = []
        while time.monotonic() < deadline:
            if rate:
                next_at += 1 / rate
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            card = f"H{member_base + n % (MEMBERS // 64):06d}"
            terminal = f"BT-{(index * threads + slot + n) % MERCHANTS:03d}"
            key = f"{phase}-{index}-{slot}-{n}"
            n += 1
            started = time.monotonic()
            status = None
            for _attempt in range(4):
                try:
                    status, payload = signed_request(conn, terminal, card, key, 10)
                    if status == 409 and b"idempotency_in_flight" in payload:
                        time.sleep(0.05)
                        continue
                    break
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", PORT)
                    status = "error"
            local.append((status, time.monotonic() - started, payload if status == 201 else b""))
        with lock:
            results.extend((s, lat, json.loads(p).get("replayed", False) if p else False) for s, lat, p in local)

    workers = [threading.Thread(target=loop, args=(slot,)) for slot in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    queue.put(results)


def run_phase(name: str, seconds: float, processes: int, threads: int, rate_total: float | None) -> dict:
    queue = multiprocessing.Queue()
    per_thread = rate_total / (processes * threads) if rate_total else None
    tag = "".join(ch for ch in name if ch.isalnum())[:12]
    procs = [multiprocessing.Process(target=client_process, args=(tag, i, threads, seconds, per_thread, queue))
             for i in range(processes)]
    started = time.monotonic()
    for proc in procs:
        proc.start()
    results = []
    for _ in procs:
        results.extend(queue.get())
    for proc in procs:
        proc.join()
    elapsed = time.monotonic() - started
    ok = [lat for status, lat, replayed in results if status == 201 and not replayed]
    statuses: dict = {}
    for status, _, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    latencies = sorted(lat for _, lat, _ in results)
    return {
        "phase": name, "seconds": round(elapsed, 1), "requests": len(results), "created": len(ok),
        "replayed": sum(1 for status, _, replayed in results if status == 201 and replayed),
        "throughput": round(len(ok) / elapsed, 1), "statuses": statuses,
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1) if latencies else None,
        "created_p99_ms": round(sorted(ok)[int(len(ok) * 0.99) - 1] * 1000, 1) if ok else None,
    }


def wait_for_server(timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=2):  # noqa: S310
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--burst-seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    env = environment()
    setup(env)
    server = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "gunicorn"), "citygov.wsgi:application", "--bind",
         f"127.0.0.1:{PORT}", "--workers", str(args.workers), "--threads", "4", "--worker-class", "gthread",
         "--backlog", "2048", "--log-level", "warning"], cwd=ROOT, env=env)
    try:
        wait_for_server()
        phases = [run_phase("sustained, 32 clients", args.seconds, 4, 8, None)]
        if args.burst_seconds:
            phases.append(run_phase("burst offered at 1,000/s", args.burst_seconds, 4, 16, 1000))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    from django.db.models import Sum

    from citygov.points.models import Redemption, Transfer, TransferKind
    from citygov.points.queries import check_ledger

    created = sum(p["created"] for p in phases)
    redemptions = Redemption.objects.count()
    points = Transfer.objects.filter(kind=TransferKind.REDEEM).aggregate(t=Sum("amount"))["t"] or 0
    health = check_ledger()
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, CPython {platform.python_version()}; "
          f"gunicorn {args.workers} workers x 4 threads; PostgreSQL + Redis on loopback")
    for phase in phases:
        print(json.dumps(phase, ensure_ascii=False))
    print(f"201 answers: {created}; redemptions in the database: {redemptions}; points redeemed: {points} "
          f"(lost or duplicated: {redemptions - created})")
    print(f"auditor: {health.transfers_checked} transfers, violations: {len(health.problems)}")


if __name__ == "__main__":
    main()
