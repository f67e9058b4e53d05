"""Fixtures of the soc tests: an analyst (the bureau's SOC), agency networks, and a helper that
imports bytes through the service. Setup only: plain ORM here; the code under test uses services."""

from __future__ import annotations

import io

import pytest

from citygov.core.roles import Role
from citygov.soc.models import AgencyNetwork


@pytest.fixture
def analyst(make_user, make_agency):
    """A security analyst of the bureau (monitors every agency)."""
    bureau = make_agency("sccdc-test", "智慧城鄉發展委員會")
    return make_user("soc-analyst", Role.SECURITY_ANALYST, [bureau])


@pytest.fixture
def networks(db, agency_a, agency_b):
    """agency_a owns 10.1.0.0/16, agency_b owns 10.2.0.0/16."""
    AgencyNetwork.objects.create(agency=agency_a, cidr="10.1.0.0/16")
    AgencyNetwork.objects.create(agency=agency_b, cidr="10.2.0.0/16")


@pytest.fixture
def import_bytes(analyst):
    """Import ``data`` as the analyst; returns the import row."""
    from citygov.soc.services import do_import_alerts

    def run(data: bytes, name: str = "alerts.json", fmt: str = "auto", user=None):
        return do_import_alerts(user or analyst, io.BytesIO(data), name, fmt)

    return run


def eve(n: int, *, src: str = "203.0.113.9", dest: str = "10.1.0.5", sid: int = 2001219,
        signature: str = "ET SCAN Potential SSH Scan", severity: int = 2, day: int = 1, flow: int = 0) -> str:
    """One Suricata EVE alert line."""
    import json

    return json.dumps({"timestamp": f"2024-05-{day:02d}T10:00:{n % 60:02d}.000000+0800", "flow_id": flow or 1000 + n,
                       "event_type": "alert", "src_ip": src, "src_port": 40000 + n, "dest_ip": dest, "dest_port": 22,
                       "proto": "TCP", "alert": {"action": "allowed", "gid": 1, "signature_id": sid, "rev": 1,
                                                 "signature": signature, "category": "Attempted Information Leak",
                                                 "severity": severity}})
