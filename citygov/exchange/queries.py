"""Read side of the exchange: the registry as a user may see it, traffic statistics, log search.

Everything is scoped with ``for_agency(user)``: an agency sees its own members' subsystems and services,
the access rights on its services (its consumers), the rights its subsystems hold on other agencies'
services, and the transfer records its own gateways logged. City administrators and auditors see all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string

from citygov.exchange.models import AccessRight, Member, Service, TransferRecord


def pending_sharing_grants(user, limit: int = 50) -> list:
    """The pending sharing requests (data governance) the user may see: those its agencies sent or must
    decide. Read through the callable named by ``CITYGOV_EXCHANGE_SHARING_REQUESTS`` (default
    ``citygov.datagov.queries.sharing_for``, which scopes by agency), so this app imports nothing from
    data governance; rows are shown by their ``dataset``, ``agency``, ``requesting_agency``,
    ``period_start`` and ``period_end``. Empty when the setting is ``none``."""
    name = settings.EXCHANGE.sharing_requests
    if not name:
        return []
    rows = import_string(name)(user)
    if hasattr(rows, "filter"):
        return list(rows.filter(status="pending")[:limit])
    return [r for r in rows if getattr(r, "status", "") == "pending"][:limit]


def members_for(user) -> QuerySet[Member]:
    """Members the user may see, with their subsystems and gateways."""
    return Member.objects.for_agency(user).select_related("agency").prefetch_related("subsystems", "gateways")


def services_for(user) -> QuerySet[Service]:
    """Services provided by the user's agencies."""
    return Service.objects.for_agency(user).select_related("subsystem__member")


def access_rights_for(user) -> QuerySet[AccessRight]:
    """Access rights on the user's services (consumers) or held by the user's subsystems."""
    qs = AccessRight.objects.select_related("service__subsystem__member", "client__member")
    ids = user.visible_agency_ids() if user.is_authenticated else set()
    if ids is None:
        return qs
    return qs.filter(Q(service__subsystem__member__agency_id__in=ids) | Q(client__member__agency_id__in=ids))


@dataclass(frozen=True)
class ServiceStats:
    """Traffic of one service seen by one side of the exchange."""

    service: str
    side: str
    count: int
    errors: int
    p50_ms: int
    p95_ms: int


def _percentile(sorted_values: list[int], fraction: float) -> int:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_values:
        return 0
    rank = max(1, int(-(-fraction * len(sorted_values) // 1)))  # ceil
    return sorted_values[rank - 1]


def traffic_stats(user, *, days: int = 30, now: dt.datetime | None = None) -> list[ServiceStats]:
    """Per service and side: count, errors, p50/p95 duration over the last ``days`` days."""
    since = (now or timezone.now()) - dt.timedelta(days=days)
    groups: dict[tuple[str, str], list[tuple[int, bool]]] = {}
    rows = (TransferRecord.objects.for_agency(user).filter(time__gte=since)
            .values_list("service", "side", "duration_ms", "status", "error"))
    for service, side, duration, status, error in rows.iterator(chunk_size=5000):
        groups.setdefault((service, side), []).append((duration, bool(error) or status >= 400))
    result = []
    for (service, side), items in sorted(groups.items()):
        durations = sorted(d for d, _ in items)
        result.append(ServiceStats(service, side, len(items), sum(1 for _, failed in items if failed),
                                   _percentile(durations, 0.50), _percentile(durations, 0.95)))
    return result


def find_transfers(user, x_road_id: str) -> QuerySet[TransferRecord]:
    """Transfer records with this X-Road-Id among those the user may see."""
    return TransferRecord.objects.for_agency(user).filter(x_road_id=x_road_id.strip()).select_related("member")
