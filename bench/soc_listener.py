"""Benchmark: the syslog listener of ``citygov soc listen`` at a steady message rate.

Starts the listener (UDP and TCP on free ports) in-process, sends CEF messages at RATE messages/s for
SECONDS seconds — half over UDP, half over one TCP connection — while the main thread flushes a batch
to the database every second, then compares count in with count stored. Target: 5,000 messages/s
without loss (count in = count stored). Baseline in the same run: the engine's ``parse_message``
alone on the same messages.

Uses a fresh SQLite database in a temporary directory (or ``BENCH_DATABASE_URL`` when set).
Run: .venv/bin/python bench/soc_listener.py [--rate 5000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import socket
import tempfile
import time

CEF = ("<134>May  2 14:03:09 fw01 CEF:0|Vendor|IPS|1.0|{sid}|Port scan|5|rt={rt} src=203.0.113.{h} spt={port} "
       "dst=10.1.{a}.{b} dpt=22 proto=TCP externalId=bench-{n}")


def message(n: int) -> str:
    return CEF.format(sid=100 + n % 50, rt=1714630989000 + n, h=n % 250, port=1024 + n % 60000, a=n % 250,
                      b=(n // 250) % 250, n=n)


def send(messages: list[str], udp_port: int, tcp_port: int, rate: int) -> None:
    """Send ``messages`` at ``rate`` per second, alternating UDP datagrams and TCP lines."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp = socket.create_connection(("127.0.0.1", tcp_port))
    began = time.perf_counter()
    for n, text in enumerate(messages):
        if n % 2:
            tcp.sendall(text.encode() + b"\n")
        else:
            udp.sendto(text.encode(), ("127.0.0.1", udp_port))
        if n % 100 == 99:  # pace to the rate, 100 messages at a time
            delay = began + (n + 1) / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
    tcp.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    os.environ.setdefault("CITYGOV_VAR_DIR", tempfile.mkdtemp(prefix="citygov-soc-listen-"))
    if os.environ.get("BENCH_DATABASE_URL"):
        os.environ["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]
    os.environ["DJANGO_SETTINGS_MODULE"] = "citygov.settings"
    import django

    django.setup()
    from django.core.management import call_command

    from citygov.core.models import User
    from citygov.core.roles import Role
    from citygov.soc.engine.formats import parse_message
    from citygov.soc.listener import Listener
    from citygov.soc.models import Alert

    call_command("migrate", verbosity=0)
    user = User.objects.create(username="bench-listener", role=Role.SECURITY_ANALYST)
    total = args.rate * args.seconds
    messages = [message(n) for n in range(total)]
    start = time.perf_counter()
    for text in messages[:20000]:
        parse_message(text)
    parse_rate = min(total, 20000) / (time.perf_counter() - start)

    listener = Listener(user, udp_port=0, tcp_port=0).start()
    # The sender is another process, as a real syslog source would be (no shared interpreter lock).
    sender = multiprocessing.get_context("fork").Process(
        target=send, args=(messages, listener.udp_port, listener.tcp_port, args.rate))
    began = time.perf_counter()
    sender.start()
    while sender.is_alive():
        time.sleep(1.0)
        listener.flush()
    sent_s = time.perf_counter() - began
    deadline = time.monotonic() + 10
    while listener.received < total and time.monotonic() < deadline:
        time.sleep(0.1)
    listener.stop()
    stored_rows = Alert.objects.count()
    print(f"machine: {platform.machine()} python {platform.python_version()}, database {django.db.connection.vendor}")
    print(f"parse_message only (baseline): {parse_rate:,.0f} messages/s")
    print(f"sent {total:,} messages in {sent_s:.1f} s ({total / sent_s:,.0f}/s; half UDP, half TCP)")
    print(f"received {listener.received:,}, stored {stored_rows:,}, lost {total - stored_rows:,}")
    print(f"target {args.rate:,}/s without loss: {'met' if stored_rows == total and total / sent_s >= args.rate * 0.98 else 'NOT met'}")


if __name__ == "__main__":
    main()
