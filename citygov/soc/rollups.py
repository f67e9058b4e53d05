"""Maintenance of the analytics roll-ups (:mod:`citygov.soc.models.rollups`): the importer adds the
alerts it has just stored; ``rebuild`` recomputes both tables from the alert table with two GROUP BY
queries (after a bulk load that bypassed the importer, or to check them).

Both work on the stored values (``StoredAlert``: truncated as in the alert table), so a row's key
is the same whichever way it was computed. The upserts are one multi-row ``INSERT … ON CONFLICT
(key) DO UPDATE`` per chunk, valid on SQLite (≥ 3.24) and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import NamedTuple

from django.db import connection, transaction

from citygov.soc.engine.normalise import TAIPEI
from citygov.soc.models import Alert, AlertDaily, AlertEndpointTotal, AlertGroupTotal

ROWS_PER_STATEMENT = 300  # x 11 columns: far below SQLite's parameter limit


class StoredAlert(NamedTuple):
    """The values of one stored alert that the roll-ups group by."""

    time: dt.datetime  # aware
    agency_pk: int  # 0: no agency
    category: str
    severity: str
    signature_id: str
    signature: str
    family: str
    src_ip: str
    dest_ip: str


def _key(*parts: object) -> str:
    return hashlib.sha1("\x1f".join(str(p) for p in parts).encode("utf-8", "surrogatepass"),
                        usedforsecurity=False).hexdigest()


def _aggregate(alerts: Iterable[StoredAlert]) -> tuple[dict, dict, dict]:
    daily: dict[tuple, int] = {}
    groups: dict[tuple, list] = {}
    endpoints: dict[tuple, int] = {}
    for a in alerts:
        if a.src_ip:
            e = (a.agency_pk, a.category, a.severity, "src", a.src_ip)
            endpoints[e] = endpoints.get(e, 0) + 1
        if a.dest_ip:
            e = (a.agency_pk, a.category, a.severity, "dest", a.dest_ip)
            endpoints[e] = endpoints.get(e, 0) + 1
        day = a.time.astimezone(TAIPEI).date()
        d = (day, a.agency_pk, a.category, a.severity, a.signature_id, a.signature, a.family)
        daily[d] = daily.get(d, 0) + 1
        g = (a.agency_pk, a.category, a.severity, a.signature_id, a.signature, a.src_ip, a.dest_ip)
        seen = groups.get(g)
        if seen is None:
            groups[g] = [1, a.time, a.time]
        else:
            seen[0] += 1
            if a.time < seen[1]:
                seen[1] = a.time
            if a.time > seen[2]:
                seen[2] = a.time
    return daily, groups, endpoints


def _upsert(model, columns: tuple[str, ...], rows: list[tuple], update: str) -> None:
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    marks = "(" + ", ".join(["%s"] * len(columns)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[start:start + ROWS_PER_STATEMENT]
            # Table and column names come from the model, never from input.
            cursor.execute(f"INSERT INTO {table} AS t ({names}) VALUES {', '.join([marks] * len(chunk))} "  # noqa: S608
                           f"ON CONFLICT (key) DO UPDATE SET {update}", [v for row in chunk for v in row])


_DAILY_COLUMNS = ("key", "day", "agency_pk", "category", "severity", "signature_id", "signature", "family", "count")
_GROUP_COLUMNS = ("key", "agency_pk", "category", "severity", "signature_id", "signature", "src_ip", "dest_ip",
                  "count", "first_seen", "last_seen")
_ENDPOINT_COLUMNS = ("key", "agency_pk", "category", "severity", "role", "ip", "count")
_COUNT_UPDATE = "count = t.count + excluded.count"
_GROUP_UPDATE = ("count = t.count + excluded.count, "
                 "first_seen = CASE WHEN excluded.first_seen < t.first_seen THEN excluded.first_seen "
                 "ELSE t.first_seen END, "
                 "last_seen = CASE WHEN excluded.last_seen > t.last_seen THEN excluded.last_seen ELSE t.last_seen END")


def add(alerts: Iterable[StoredAlert], daily_model=AlertDaily, group_model=AlertGroupTotal,
        endpoint_model=AlertEndpointTotal) -> None:
    """Add newly stored alerts to the roll-ups (call inside the transaction that stored them)."""
    daily, groups, endpoints = _aggregate(alerts)
    if not daily:
        return
    adapt_day = connection.ops.adapt_datefield_value
    adapt_time = connection.ops.adapt_datetimefield_value  # what the ORM stores (UTC text on SQLite)
    _upsert(daily_model, _DAILY_COLUMNS, [(_key(*d), adapt_day(d[0]), *d[1:], n) for d, n in daily.items()],
            _COUNT_UPDATE)
    _upsert(group_model, _GROUP_COLUMNS,
            [(_key(*g), *g, n, adapt_time(first), adapt_time(last)) for g, (n, first, last) in groups.items()],
            _GROUP_UPDATE)
    _upsert(endpoint_model, _ENDPOINT_COLUMNS, [(_key(*e), *e, n) for e, n in endpoints.items()], _COUNT_UPDATE)


def stored(alert: Alert) -> StoredAlert:
    """The roll-up values of an alert row."""
    return StoredAlert(alert.time, alert.agency_id or 0, alert.category, alert.severity, alert.signature_id,
                       alert.signature, alert.family, alert.src_ip, alert.dest_ip)


def rebuild(chunk: int = 5_000, alert_model=Alert, daily_model=AlertDaily, group_model=AlertGroupTotal,
            endpoint_model=AlertEndpointTotal) -> tuple[int, int, int]:
    """Recompute the roll-ups from the alert table (the database groups; Python only computes the
    keys of the grouped rows); returns (daily rows, group rows, address rows)."""
    from django.db.models import Count, Max, Min
    from django.db.models.functions import TruncDate

    adapt_day = connection.ops.adapt_datefield_value
    adapt_time = connection.ops.adapt_datetimefield_value
    alerts = alert_model.objects.order_by()
    with transaction.atomic():
        daily_model.objects.all().delete()
        group_model.objects.all().delete()
        endpoint_model.objects.all().delete()
        days = alerts.annotate(day=TruncDate("time", tzinfo=TAIPEI)).values_list(
            "day", "agency_id", "category", "severity", "signature_id", "signature", "family").annotate(n=Count("id"))
        rows = []
        for day, agency, *rest, n in days.iterator(chunk_size=chunk):
            d = (day, agency or 0, *rest)
            rows.append((_key(*d), adapt_day(day), *d[1:], n))
            if len(rows) >= chunk:
                _upsert(daily_model, _DAILY_COLUMNS, rows, _COUNT_UPDATE)
                rows = []
        _upsert(daily_model, _DAILY_COLUMNS, rows, _COUNT_UPDATE)
        groups = alerts.values_list("agency_id", "category", "severity", "signature_id", "signature", "src_ip",
                                    "dest_ip").annotate(n=Count("id"), first=Min("time"), last=Max("time"))
        rows = []
        for agency, *rest, n, first, last in groups.iterator(chunk_size=chunk):
            g = (agency or 0, *rest)
            rows.append((_key(*g), *g, n, adapt_time(first), adapt_time(last)))
            if len(rows) >= chunk:
                _upsert(group_model, _GROUP_COLUMNS, rows, _GROUP_UPDATE)
                rows = []
        _upsert(group_model, _GROUP_COLUMNS, rows, _GROUP_UPDATE)
        for role, field in (("src", "src_ip"), ("dest", "dest_ip")):
            rows = []
            for agency, category, severity, ip, n in alerts.exclude(**{field: ""}).values_list(
                    "agency_id", "category", "severity", field).annotate(n=Count("id")).iterator(chunk_size=chunk):
                e = (agency or 0, category, severity, role, ip)
                rows.append((_key(*e), *e, n))
                if len(rows) >= chunk:
                    _upsert(endpoint_model, _ENDPOINT_COLUMNS, rows, _COUNT_UPDATE)
                    rows = []
            _upsert(endpoint_model, _ENDPOINT_COLUMNS, rows, _COUNT_UPDATE)
    return daily_model.objects.count(), group_model.objects.count(), endpoint_model.objects.count()
