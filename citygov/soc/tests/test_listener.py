"""The syslog listener over real UDP and TCP sockets on free ports: count in = count stored."""

from __future__ import annotations

import socket
import time

import pytest

from citygov.soc.listener import Listener
from citygov.soc.models import Alert, AlertImport

CEF = ("<134>May  2 14:03:09 fw01 CEF:0|Vendor|IPS|1.0|{sid}|Port scan {n}|5|rt={rt} src=203.0.113.{h} "
       "spt={port} dst=10.1.0.5 dpt=22 proto=TCP externalId=evt-{n}")


def _wait_for(listener: Listener, count: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while listener.received < count and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
def test_udp_and_tcp_messages_are_stored(analyst, networks):
    listener = Listener(analyst, udp_port=0, tcp_port=0).start()
    try:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for n in range(50):
            udp.sendto(CEF.format(sid=100, n=n, rt=1714630989000 + n, h=n % 5, port=40000 + n).encode(),
                       ("127.0.0.1", listener.udp_port))
        udp.sendto(b"<134>garbage that is not an alert", ("127.0.0.1", listener.udp_port))
        with socket.create_connection(("127.0.0.1", listener.tcp_port)) as tcp:
            payload = "".join(CEF.format(sid=200, n=1000 + n, rt=1714631989000 + n, h=7, port=50000 + n) + "\n"
                              for n in range(50))
            tcp.sendall(payload.encode())
        _wait_for(listener, 101)
        created, duplicates, rejected = listener.flush()
    finally:
        listener.stop()
    assert (created, duplicates, rejected) == (100, 0, 1)
    assert Alert.objects.count() == 100
    run = AlertImport.objects.get()
    assert (run.records, run.created, run.rejected) == (101, 100, 1)
    assert run.rejected_lines[0]["reason"] == "neither CEF, LEEF nor JSON"
    assert Alert.objects.filter(agency__isnull=False).count() == 100
