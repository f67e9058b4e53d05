"""The analytics roll-ups: maintained exactly by the importer (and the listener's batches), equal to
a rebuild from the alert table, scoped like the alerts, and giving the same figures as counting the
alerts one by one."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
from django.db.models import Sum

from citygov.soc import queries, rollups
from citygov.soc.engine.normalise import TAIPEI
from citygov.soc.models import Alert, AlertDaily, AlertEndpointTotal, AlertGroupTotal
from citygov.soc.tests.conftest import eve

DATA = Path(__file__).parent / "data"
pytestmark = pytest.mark.django_db


def _table():
    return (sorted(AlertDaily.objects.values_list("key", "count")),
            sorted(AlertGroupTotal.objects.values_list("key", "count", "first_seen", "last_seen")),
            sorted(AlertEndpointTotal.objects.values_list("key", "count")))


def test_rollups_follow_imports_and_equal_a_rebuild(import_bytes, networks, analyst, admin_a):
    import_bytes((DATA / "eve-suricata-verify.ndjson").read_bytes(), "verify.ndjson")
    import_bytes((DATA / "honeypot-2018-alerts.json").read_bytes(), "honeypot.json")
    mine = [eve(i, dest="10.1.0.5", day=1 + i % 3) for i in range(6)] + [eve(9, dest="10.2.0.7", severity=1)]
    import_bytes("\n".join(mine).encode())
    import_bytes("\n".join(mine).encode())  # a re-import adds nothing to the roll-ups either
    assert AlertDaily.objects.aggregate(n=Sum("count"))["n"] == Alert.objects.count() == 256 + 44 + 7
    incremental = _table()
    rollups.rebuild()
    assert _table() == incremental

    # Figures from the roll-ups equal plain counts over the alerts the user can see.
    for user in (analyst, admin_a):
        seen = list(Alert.objects.for_agency(user))
        figures = queries.alert_figures(user)
        assert figures["total"] == len(seen)
        assert {r["key"]: r["count"] for r in figures["by_category"]} == Counter(a.category for a in seen)
        assert {r["month"]: r["count"] for r in figures["by_month"]} == Counter(
            a.time.astimezone(TAIPEI).strftime("%Y-%m") for a in seen)
        for role, field in (("top_sources", "src_ip"), ("top_destinations", "dest_ip")):
            ends = Counter(getattr(a, field) for a in seen if getattr(a, field))
            assert [(r["ip"], r["count"]) for r in figures[role]] == sorted(
                ends.items(), key=lambda kv: (-kv[1], kv[0]))[:queries.TOP]
        groups = Counter((a.signature_id, a.signature, a.src_ip, a.dest_ip) for a in seen)
        repeats = {k: n for k, n in groups.items() if n >= 2}
        assert (figures["repeat_groups"]["count"], figures["repeat_groups"]["alerts"]) == (
            len(repeats), sum(repeats.values()))
        shown = figures["repeat_groups"]["groups"]
        if shown:
            first = shown[0]
            members = [a for a in seen if (a.signature_id, a.signature, a.src_ip, a.dest_ip) == (
                first["signature_id"], first["signature"], first["src_ip"], first["dest_ip"])]
            assert (first["count"], first["first_seen"], first["last_seen"], first["open"]) == (
                len(members), min(a.time for a in members), max(a.time for a in members), len(members))
    assert queries.alert_figures(admin_a)["total"] == 6


def test_date_filtered_figures_match_the_alerts(import_bytes, networks, analyst):
    import_bytes("\n".join(eve(i, dest="10.1.0.5", day=1 + i % 5) for i in range(20)).encode())
    flt = queries.AlertFilter(since=dt.date(2024, 5, 2), until=dt.date(2024, 5, 3), focus=True)
    figures = queries.alert_figures(analyst, flt)
    expected = queries.alerts_for(analyst, flt)
    assert figures["total"] == expected.count() == 8
    assert figures["top_destinations"] == [{"ip": "10.1.0.5", "count": 8}]
    assert figures["repeat_groups"]["alerts"] == 8


def test_awkward_text_survives_the_bulk_insert(import_bytes):
    """Tabs, newlines, backslashes and CJK in a signature (COPY's text format on PostgreSQL)."""
    odd = "ET WEB 植入\t廣告\\連結\r\n第二行 \\N"
    run = import_bytes(eve(1, signature=odd).encode() + b"\n" + eve(2).encode())
    assert (run.created, run.duplicates) == (2, 0)
    assert Alert.objects.get(signature_id="2001219", src_port=40001).signature == odd
    assert AlertGroupTotal.objects.filter(signature=odd).get().count == 1
    assert import_bytes(eve(1, signature=odd).encode()).duplicates == 1
