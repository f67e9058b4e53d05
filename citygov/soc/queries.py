"""Read-side helpers of the soc app: alert analytics over the database (the same figures as the
engine's file analysis), follow-up scorecards and overdue lists. Every read is scoped with
``for_agency(user)``."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from django.db.models import Count, Max, Min, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone

from citygov.soc.engine.analyse import trend
from citygov.soc.engine.normalise import TAIPEI
from citygov.soc.engine.taxonomy import CATEGORIES, SEVERITIES
from citygov.soc.models import ActionStatus, Alert, FollowUpAction, ForensicCase
from citygov.soc.models.cases import OPEN_STATES

TOP = 10
GROUPS_SHOWN = 50


@dataclass(frozen=True)
class AlertFilter:
    """Filters of the analytics page and the alert list."""

    focus: bool = False  # medium and high only
    agency_id: int | None = None
    category: str = ""
    severity: str = ""
    since: dt.date | None = None
    until: dt.date | None = None  # inclusive


def alerts_for(user, flt: AlertFilter | None = None):
    """The alerts ``user`` may see, filtered."""
    rows = Alert.objects.for_agency(user)
    if flt is None:
        return rows
    if flt.focus:
        rows = rows.filter(severity__in=("high", "medium"))
    if flt.agency_id:
        rows = rows.filter(agency_id=flt.agency_id)
    if flt.category:
        rows = rows.filter(category=flt.category)
    if flt.severity:
        rows = rows.filter(severity=flt.severity)
    if flt.since:
        rows = rows.filter(time__gte=dt.datetime.combine(flt.since, dt.time(), TAIPEI))
    if flt.until:
        rows = rows.filter(time__lt=dt.datetime.combine(flt.until + dt.timedelta(days=1), dt.time(), TAIPEI))
    return rows


def _shares(rows, total: int, labels: dict | None = None, order=None) -> list[dict]:
    counts = dict(rows)
    keys = list(order) if order is not None else sorted(counts, key=lambda k: (-counts[k], str(k)))
    result = []
    for key in keys:
        if not counts.get(key):
            continue
        row = {"key": key, "count": counts[key], "share": round(100 * counts[key] / total, 2) if total else 0.0}
        if labels is not None:
            row["label"] = labels[key][0] if key in labels else str(key)
        result.append(row)
    return result


def alert_figures(user, flt: AlertFilter | None = None) -> dict:
    """Counts and shares by category, severity, agency and month; category × severity; top
    signatures, families, sources and destinations; recurrence groups; the monthly trend; and the
    causes of medium and high alerts."""
    from citygov.agencies.models import Agency

    rows = alerts_for(user, flt or AlertFilter())
    total = rows.count()
    by_category = _shares(rows.values_list("category").annotate(n=Count("id")).order_by(), total, CATEGORIES,
                          CATEGORIES)
    by_severity = _shares(rows.values_list("severity").annotate(n=Count("id")).order_by(), total, SEVERITIES,
                          SEVERITIES)
    agency_counts = list(rows.values_list("agency_id").annotate(n=Count("id")).order_by())
    names = dict(Agency.objects.filter(pk__in=[a for a, _ in agency_counts if a]).values_list("pk", "name_zh"))
    by_agency = [{"key": a, "label": names.get(a, "—"), "count": n, "share": round(100 * n / total, 2)}
                 for a, n in sorted(agency_counts, key=lambda kv: -kv[1])]
    months = Counter()
    for month, n in rows.annotate(m=TruncMonth("time", tzinfo=TAIPEI)).values_list("m").annotate(
            n=Count("id")).order_by():
        months[month.astimezone(TAIPEI).strftime("%Y-%m")] += n
    matrix = Counter({(c, s): n for c, s, n in rows.values_list("category", "severity").annotate(
        n=Count("id")).order_by()})
    top_signatures = [{"id": sid, "name": name, "count": n} for sid, name, n in rows.values_list(
        "signature_id", "signature").annotate(n=Count("id")).order_by("-n", "signature_id")[:TOP]]
    families = [{"family": f, "count": n} for f, n in rows.values_list("family").annotate(
        n=Count("id")).order_by("-n", "family")[:TOP]]
    sources = [{"ip": ip, "count": n} for ip, n in rows.exclude(src_ip="").values_list("src_ip").annotate(
        n=Count("id")).order_by("-n", "src_ip")[:TOP]]
    destinations = [{"ip": ip, "count": n} for ip, n in rows.exclude(dest_ip="").values_list("dest_ip").annotate(
        n=Count("id")).order_by("-n", "dest_ip")[:TOP]]
    return {
        "total": total, "by_category": by_category, "by_severity": by_severity, "by_agency": by_agency,
        "by_month": [{"month": m, "count": months[m]} for m in sorted(months)],
        "category_severity": [{"category": c, "severity": s, "count": matrix[(c, s)]}
                              for c in CATEGORIES for s in SEVERITIES if matrix.get((c, s))],
        "top_signatures": top_signatures, "top_families": families, "top_sources": sources,
        "top_destinations": destinations, "repeat_groups": repeat_groups(user, flt),
        "trend": trend(months), "focus": focus_causes(user, flt),
    }


def repeat_groups(user, flt: AlertFilter | None = None, limit: int = GROUPS_SHOWN) -> dict:
    """Recurrence groups (same signature, source and destination, two alerts or more): how many, how
    many alerts they hold, and the largest ``limit`` with first and last seen."""
    grouped = alerts_for(user, flt or AlertFilter()).values("signature_id", "signature", "src_ip", "dest_ip").annotate(
        count=Count("id")).filter(count__gte=2).order_by()
    top = list(grouped.annotate(first_seen=Min("time"), last_seen=Max("time"), open=Count(
        "id", filter=Q(status__in=("new", "acknowledged"))), sample=Min("id")).order_by(
        "-count", "first_seen", "signature_id", "src_ip", "dest_ip")[:limit])
    count = alerts = 0
    for row in grouped.values_list("count", flat=True).iterator(chunk_size=5000):
        count, alerts = count + 1, alerts + row
    return {"count": count, "alerts": alerts, "groups": top}


def focus_causes(user, flt: AlertFilter | None = None) -> list[dict]:
    """Medium and high alerts by severity, category and signature: the causes the audit asked for."""
    base = flt or AlertFilter()
    rows = alerts_for(user, base).filter(severity__in=("high", "medium")).values(
        "severity", "category", "signature").annotate(count=Count("id")).order_by()
    result = sorted(rows, key=lambda r: (r["severity"] != "high", -r["count"], r["signature"]))[:TOP]
    for row in result:
        row["category_label"] = CATEGORIES[row["category"]][0]
        row["severity_label"] = SEVERITIES[row["severity"]][0]
    return result


def similar_alerts(user, alert: Alert, limit: int = 20):
    """Open alerts like ``alert`` outside its recurrence group: the same signature from or to other
    hosts, most recent first (suggestions for merging into one case)."""
    rows = Alert.objects.for_agency(user).filter(status__in=("new", "acknowledged")).exclude(pk=alert.pk)
    rows = rows.filter(signature_id=alert.signature_id) if alert.signature_id else rows.filter(
        signature=alert.signature)
    return rows.exclude(src_ip=alert.src_ip, dest_ip=alert.dest_ip).select_related("agency")[:limit]


# --- follow-up ------------------------------------------------------------------------------------

def actions_for(user):
    """Follow-up actions ``user`` may see (their agencies' actions; the bureau sees all)."""
    return FollowUpAction.objects.for_agency(user).select_related("agency", "case")


def overdue_actions(user, today: dt.date | None = None):
    """Open or in-progress actions past their due date."""
    today = today or timezone.localdate()
    return actions_for(user).filter(status__in=OPEN_STATES, due_date__lt=today)


def scorecards(user, today: dt.date | None = None) -> list[dict]:
    """Per owning agency: actions in total, open, overdue, done awaiting verification, verified,
    waived, and the share closed on time (verified with completion on or before the due date)."""
    today = today or timezone.localdate()
    rows = actions_for(user).values("agency_id", "agency__name_zh").annotate(
        total=Count("id"),
        open=Count("id", filter=Q(status__in=OPEN_STATES)),
        overdue=Count("id", filter=Q(status__in=OPEN_STATES, due_date__lt=today)),
        done=Count("id", filter=Q(status=ActionStatus.DONE)),
        verified=Count("id", filter=Q(status=ActionStatus.VERIFIED)),
        waived=Count("id", filter=Q(status=ActionStatus.WAIVED)),
    ).order_by("-overdue", "agency__name_zh")
    result = []
    for row in rows:
        on_time = actions_for(user).filter(agency_id=row["agency_id"], status=ActionStatus.VERIFIED).filter(
            completed_at__isnull=False).count()
        late = [a for a in actions_for(user).filter(agency_id=row["agency_id"], status=ActionStatus.VERIFIED)
                if a.completed_at and timezone.localdate(a.completed_at) > a.due_date]
        row["on_time_share"] = round(100 * (on_time - len(late)) / row["verified"], 1) if row["verified"] else None
        result.append(row)
    return result


def cases_for(user):
    """Forensic cases ``user`` may see, with action counts."""
    today = timezone.localdate()
    return ForensicCase.objects.for_agency(user).select_related("agency").annotate(
        action_count=Count("actions", distinct=True),
        overdue_count=Count("actions", filter=Q(actions__status__in=OPEN_STATES, actions__due_date__lt=today),
                            distinct=True))
