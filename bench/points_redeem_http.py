"""Benchmark: redemptions through the merchant-terminal HTTP API, on PostgreSQL with Redis.

Targets (issue "Points I"): sustained redemptions with 32 concurrent clients for 5 minutes at
≥ 200/s with p99 < 250 ms and zero invariant violations; a 60-second burst offered at 1,000
requests/s, where shedding with 429 is allowed but lost or duplicated transfers are not.

The server is gunicorn (``citygov.wsgi``, threaded workers) on loopback against a throw-away
database ``citygov_bench_http``. The load generator is light so that it measures the server, not
itself: one asyncio process, raw HTTP/1.1 keep-alive connections, and requests signed before the
phase starts (HMAC as a terminal signs, one timestamp inside the server's ±300 s window for the
whole phase; a retry is signed afresh). Sustained: 32 connections, each sending its next request as
soon as it has an answer (closed loop). Burst: requests offered at their scheduled instants whatever
the answers (open loop, up to 800 connections); latency counts from the scheduled instant.

Every request has its own idempotency key; a timeout, a dropped connection, a retriable 409 or a
429 is retried with the same key, so each redemption the client believes in is counted once. At the
end the redemption ids the clients were told are compared with the redemptions, REDEEM transfers and
stored idempotency answers in the database (lost / duplicated), and ``citygov points verify`` (the
ledger auditor) runs. The 1-minute load average is sampled during the run: the machine is shared.

Run: .venv/bin/python bench/points_redeem_http.py [--seconds 300] [--burst-seconds 60]
     [--workers 2] [--threads 4] [--terminal-rate 10/s]
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
from dataclasses import dataclass
from urllib.parse import urlparse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORT = 18731
MERCHANTS = 40
MEMBERS = 3200
# A fresh terminal secret per run (the bench database is thrown away; setup and client share this process).
SECRET = secrets.token_hex(32)
WORKERS = 2
THREADS = 4
TERMINAL_RATE = "10/s"


def environment() -> dict:
    env = dict(os.environ)
    env["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/citygov_bench_http")
    env["CITYGOV_REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    env.setdefault("CITYGOV_VAR_DIR", tempfile.mkdtemp(prefix="citygov-bench-http-"))
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


# --- the load generator: one asyncio process, raw HTTP/1.1 keep-alive connections -----------------

PATH = "/api/points/terminal/redeem/"
TIMEOUT = 10.0
BURST_TIMEOUT = 30.0
SIGNATURE_REUSE_SECONDS = 240  # the server accepts ±300 s


def signed_bytes(terminal: str, card: str, key: str, timestamp: int) -> bytes:
    """One complete signed request (headers and body) as it goes on the wire."""
    from citygov.points.engine.signing import sign

    body = b'{"card_number":"%s","amount":1}' % card.encode()
    nonce = secrets.token_hex(12)
    signature = sign(SECRET, "POST", PATH, str(timestamp), nonce, body)
    return (f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-Terminal-Id: {terminal}\r\nX-Timestamp: {timestamp}\r\n"
            f"X-Nonce: {nonce}\r\nX-Signature: {signature}\r\nIdempotency-Key: {key}\r\n\r\n").encode() + body


@dataclass(slots=True)
class Job:
    """One redemption the client wants: its key and what it is for, its answers and latency."""

    key: str
    terminal: str
    card: str
    wire: bytes
    signed_at: int
    scheduled: float = 0.0
    status: object = None
    latency: float = 0.0
    redemption_id: int | None = None
    replayed: bool = False
    attempts: int = 0


def make_jobs(tag: str, count: int, timestamp: int, offset: int) -> list[Job]:
    """``count`` pre-signed requests; consecutive ones go to different members and terminals."""
    jobs = []
    for n in range(count):
        card, terminal, key = f"H{(offset + n) % MEMBERS:06d}", f"BT-{(offset + n) % MERCHANTS:03d}", f"{tag}-{n}"
        jobs.append(Job(key, terminal, card, signed_bytes(terminal, card, key, timestamp), timestamp))
    return jobs


class Connection:
    """A keep-alive HTTP/1.1 connection that sends one request and reads one response at a time."""

    def __init__(self):
        self.reader = self.writer = None

    async def exchange(self, wire: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", PORT)
        self.writer.write(wire)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        body = await self.reader.readexactly(length) if length else b""
        if b"connection: close" in head.lower():
            self.close()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def perform(conn: Connection, job: Job, give_up_at: float | None = None, timeout: float = TIMEOUT) -> None:
    """Send ``job`` until it has a final answer (retrying with the same key, freshly signed, after a
    timeout, a dropped connection, a retriable 409 or a 429, with a pause), or ``give_up_at`` passes."""
    while True:
        # The pre-signed request goes out once; every retry needs a new nonce, so it is signed again.
        # A pre-signed request that waited long for a connection (an overloaded burst) is signed
        # again too, so its timestamp stays inside the server's window.
        fresh = job.attempts == 0 and time.time() - job.signed_at < SIGNATURE_REUSE_SECONDS
        wire = job.wire if fresh else signed_bytes(job.terminal, job.card, job.key, int(time.time()))
        job.attempts += 1
        try:
            status, body = await asyncio.wait_for(conn.exchange(wire), timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            conn.close()
            status, body = "error", b""
        job.status = status
        if status == 201:
            answer = json.loads(body)
            job.redemption_id, job.replayed = answer["id"], answer.get("replayed", False)
            break
        final = isinstance(status, int) and status not in (409, 429, 502, 503)
        if status == 409 and b"idempotency_conflict" in body:
            final = True
        if final or (give_up_at is not None and time.monotonic() >= give_up_at):
            break
        await asyncio.sleep(1.0 if status in (409, 429) else 0.2)  # Retry-After is 1 s
    job.latency = time.monotonic() - job.scheduled


async def closed_loop(jobs: list[Job], clients: int, seconds: float) -> list[Job]:
    """``clients`` connections, each sending its next request as soon as it has an answer."""
    done: list[Job] = []
    queue = iter(jobs)
    deadline = time.monotonic() + seconds

    async def client():
        conn = Connection()
        while time.monotonic() < deadline:
            job = next(queue, None)
            if job is None:
                raise SystemExit("ran out of pre-signed requests; raise the estimate")
            job.scheduled = time.monotonic()
            await perform(conn, job)
            done.append(job)
        conn.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return done


async def open_loop(jobs: list[Job], rate: float, seconds: float, connections: int) -> list[Job]:
    """Offer ``rate`` requests/s for ``seconds`` whatever the answers: each request goes out at its
    instant on an idle keep-alive connection, or a new one (up to ``connections``; beyond that it
    waits for one). Latency counts from the scheduled instant, so any wait is included."""
    count = int(rate * seconds)
    idle: list[Connection] = []
    opened = 0
    freed = asyncio.Condition()
    done: list[Job] = []
    start = time.monotonic()

    give_up_at = start + seconds + 120

    async def one(job: Job):
        nonlocal opened
        async with freed:
            while not idle and opened >= connections:
                await freed.wait()
                if time.monotonic() >= give_up_at:
                    # Every connection stayed busy until long after the phase: never sent, no effect.
                    job.status, job.latency = "unsent", time.monotonic() - job.scheduled
                    done.append(job)
                    freed.notify()
                    return
            if idle:
                conn = idle.pop()
            else:
                opened += 1
                conn = Connection()
        await perform(conn, job, give_up_at=give_up_at, timeout=BURST_TIMEOUT)
        done.append(job)
        async with freed:
            idle.append(conn)
            freed.notify()

    tasks = []
    for n, job in enumerate(jobs[:count]):
        job.scheduled = start + n / rate
        delay = job.scheduled - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(job)))
    await asyncio.gather(*tasks)
    for conn in idle:
        conn.close()
    return done


async def settle(jobs: list[Job], connections: int = 32) -> None:
    """Give every request still without a final answer more goes with its key (no lost answers)."""
    open_jobs = iter([job for job in jobs if job.redemption_id is None
                      and job.status in (None, "error", 409, 429, 502, 503)])

    async def client():
        conn = Connection()
        for job in open_jobs:
            job.scheduled = time.monotonic()
            await perform(conn, job, give_up_at=time.monotonic() + 60, timeout=BURST_TIMEOUT)
        conn.close()

    await asyncio.gather(*(client() for _ in range(connections)))


def summarise(name: str, jobs: list[Job], elapsed: float) -> dict:
    created = [job for job in jobs if job.status == 201 and not job.replayed]
    statuses: dict = {}
    for job in jobs:
        statuses[str(job.status)] = statuses.get(str(job.status), 0) + 1
    latencies = sorted(job.latency for job in jobs)
    ok = sorted(job.latency for job in jobs if job.status == 201)

    def pct(values, q):
        return round(values[min(len(values) - 1, int(len(values) * q))] * 1000, 1) if values else None

    return {"phase": name, "seconds": round(elapsed, 1), "requests": len(jobs), "created": len(created),
            "replayed": sum(1 for job in jobs if job.status == 201 and job.replayed),
            "retries": sum(max(0, job.attempts - 1) for job in jobs), "throughput": round(len(created) / elapsed, 1),
            "statuses": statuses, "p50_ms": pct(latencies, 0.5), "p99_ms": pct(latencies, 0.99),
            "created_p50_ms": pct(ok, 0.5), "created_p99_ms": pct(ok, 0.99)}


def cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU time (user + system) so far of the server (gunicorn master and workers), PostgreSQL,
    Redis and this client process, read from /proc: where a request's work goes."""
    tick = os.sysconf("SC_CLK_TCK")
    totals = {"server": 0.0, "postgres": 0.0, "redis": 0.0, "client": 0.0}
    server_pids = {server_pid}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                raw = handle.read().decode("latin-1")
            with open(f"/proc/{entry}/comm", encoding="latin-1") as handle:
                comm = handle.read().strip()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2:].split()
        ppid, seconds = int(fields[1]), (int(fields[11]) + int(fields[12])) / tick
        pid = int(entry)
        if pid in server_pids or ppid == server_pid:
            totals["server"] += seconds
        elif comm.startswith("postgres"):
            totals["postgres"] += seconds
        elif comm.startswith("redis"):
            totals["redis"] += seconds
        elif pid == os.getpid():
            totals["client"] += seconds
    return totals


def cpu_per_request(before: dict[str, float], after: dict[str, float], requests: int) -> dict[str, float]:
    """Milliseconds of CPU per request, by component, between two :func:`cpu_seconds` readings."""
    return {name: round((after[name] - before[name]) * 1000 / max(requests, 1), 2) for name in after}


class LoadSampler(threading.Thread):
    """Samples the 1-minute load average every 5 s while the phases run (the machine is shared)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(5):
            self.samples.append(os.getloadavg()[0])


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
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--burst-rate", type=float, default=1000)
    parser.add_argument("--burst-connections", type=int, default=800)
    parser.add_argument("--workers", type=int, default=WORKERS)
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--terminal-rate", default=TERMINAL_RATE,
                        help="per-terminal rate limit of the server (CITYGOV_TERMINAL_RATE)")
    args = parser.parse_args()
    env = environment()
    env["CITYGOV_TERMINAL_RATE"] = args.terminal_rate
    setup(env)
    # Pre-signed with one timestamp inside the server's ±300 s window for the whole phase (the
    # middle of a phase of up to 500 s); retries are signed afresh.
    sustained_ts = int(time.time() + min(args.seconds / 2, 200))
    sustained_jobs = make_jobs("s", int(args.seconds * 500) + 1000, sustained_ts, 0)
    server = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "gunicorn"), "citygov.wsgi:application", "--bind",
         f"127.0.0.1:{PORT}", "--workers", str(args.workers), "--threads", str(args.threads), "--worker-class",
         "citygov.core.serving.SheddingThreadWorker", "--worker-connections", "1000", "--backlog", "2048",
         "--keep-alive", "75",
         "--log-level", "warning"], cwd=ROOT, env=env)
    sampler = LoadSampler()
    phases = []
    all_jobs: list[Job] = []
    try:
        wait_for_server()
        sampler.start()
        started, cpu_before = time.monotonic(), cpu_seconds(server.pid)
        done = asyncio.run(closed_loop(sustained_jobs, args.clients, args.seconds))
        phases.append(summarise(f"sustained, {args.clients} clients", done, time.monotonic() - started))
        phases[-1]["cpu_ms_per_request"] = cpu_per_request(cpu_before, cpu_seconds(server.pid), len(done))
        all_jobs += done
        del sustained_jobs
        if args.burst_seconds:
            burst_jobs = make_jobs("b", int(args.burst_rate * args.burst_seconds), int(time.time() + 30), 17)
            started = time.monotonic()
            done = asyncio.run(open_loop(burst_jobs, args.burst_rate, args.burst_seconds, args.burst_connections))
            phases.append(summarise(f"burst offered at {args.burst_rate:,.0f}/s", done, time.monotonic() - started))
            all_jobs += done
        asyncio.run(settle(all_jobs))
        sampler.stop.set()
        uptime = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    report(args, env, phases, all_jobs, sampler.samples, uptime)


def report(args, env: dict, phases: list[dict], jobs: list[Job], load: list[float], uptime: str) -> None:
    """Print the figures, then compare what the clients were told with what the database holds."""
    from citygov.points.models import IdempotencyRecord, Redemption, Transfer, TransferKind

    told = {job.key: job.redemption_id for job in jobs if job.redemption_id is not None}
    in_db = set(Redemption.objects.values_list("pk", flat=True))
    stored = {key: (response or {}).get("id") for key, response in IdempotencyRecord.objects.filter(
        scope__startswith="terminal:BT-", status_code=201).values_list("key", "response")}
    redeem_transfers = Transfer.objects.filter(kind=TransferKind.REDEEM).count()
    lost = sorted(key for key, rid in told.items() if rid not in in_db or stored.get(key) != rid)
    duplicated = len(in_db) - len(set(stored.values())) + (redeem_transfers - len(in_db))
    unanswered = sum(1 for job in jobs if job.redemption_id is None and job.status not in (400, 404, 409, "unsent"))
    verify = subprocess.run([os.path.join(os.path.dirname(sys.executable), "citygov"), "points", "verify"],
                            capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, CPython {platform.python_version()}; "
          f"gunicorn {args.workers} workers x {args.threads} threads (gthread); terminal rate limit "
          f"{args.terminal_rate}; PostgreSQL + Redis on loopback; one asyncio client process")
    for phase in phases:
        print(json.dumps(phase, ensure_ascii=False))
    if load:
        print(f"load average (1 min) during the run: mean {statistics.mean(load):.2f}, max {max(load):.2f}; "
              f"at the end: {uptime}")
    print(f"redemptions answered 201: {len(told)}; in the database: {len(in_db)}; REDEEM transfers: "
          f"{redeem_transfers}; lost: {len(lost)}; duplicated: {duplicated}; without a final answer: {unanswered}")
    print(f"auditor (citygov points verify): exit {verify.returncode}; {verify.stdout.strip().splitlines()[-1:]}")


if __name__ == "__main__":
    main()
