"""Read-side helpers of the soc app: alert analytics over the database (the same figures as the
engine's file analysis), follow-up scorecards and overdue lists. Every read is scoped with
``for_agency(user)``."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from django.db.models import Count, Max, Min, Q, Sum
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


def _sees_every_agency(user) -> bool:
    from citygov.core.roles import Capability

    return user.has_capability(Capability.SOC_TRIAGE) or user.visible_agency_ids() is None


def _rollup(model, user, flt: AlertFilter, *, dated: bool):
    """Roll-up rows in ``user``'s scope (like ``Alert.objects.for_agency``) matching ``flt``."""
    rows = model.objects.all()
    if not _sees_every_agency(user):
        rows = rows.filter(agency_pk__in=user.visible_agency_ids())
    if flt.focus:
        rows = rows.filter(severity__in=("high", "medium"))
    if flt.agency_id:
        rows = rows.filter(agency_pk=flt.agency_id)
    if flt.category:
        rows = rows.filter(category=flt.category)
    if flt.severity:
        rows = rows.filter(severity=flt.severity)
    if dated and flt.since:
        rows = rows.filter(day__gte=flt.since)
    if dated and flt.until:
        rows = rows.filter(day__lte=flt.until)
    return rows.order_by()


def alert_figures(user, flt: AlertFilter | None = None) -> dict:
    """Counts and shares by category, severity, agency and month; category × severity; top
    signatures, families, sources and destinations; recurrence groups; the monthly trend; and the
    causes of medium and high alerts.

    Read from the roll-ups the importer maintains (thousands of rows, not every alert): the daily
    table for everything by day, the recurrence-group table for sources, destinations and groups.
    A date filter narrows the daily table; sources, destinations and groups then come from the
    alerts of those days."""
    from citygov.agencies.models import Agency
    from citygov.soc.models import AlertDaily

    flt = flt or AlertFilter()
    daily = _rollup(AlertDaily, user, flt, dated=True)
    total = daily.aggregate(n=Sum("count"))["n"] or 0

    def counts(*fields):
        return daily.values_list(*fields).annotate(n=Sum("count")).order_by()

    by_category = _shares(counts("category"), total, CATEGORIES, CATEGORIES)
    by_severity = _shares(counts("severity"), total, SEVERITIES, SEVERITIES)
    agency_counts = [(a or None, n) for a, n in counts("agency_pk")]
    names = dict(Agency.objects.filter(pk__in=[a for a, _ in agency_counts if a]).values_list("pk", "name_zh"))
    by_agency = [{"key": a, "label": names.get(a, "—"), "count": n, "share": round(100 * n / total, 2)}
                 for a, n in sorted(agency_counts, key=lambda kv: -kv[1])]
    months = Counter()
    for day, n in counts("day"):
        months[day.strftime("%Y-%m")] += n
    matrix = Counter({(c, sv): n for c, sv, n in counts("category", "severity")})
    top_signatures = [{"id": sid, "name": name, "count": n} for sid, name, n in counts(
        "signature_id", "signature").order_by("-n", "signature_id")[:TOP]]
    families = [{"family": f, "count": n} for f, n in counts("family").order_by("-n", "family")[:TOP]]
    if flt.since or flt.until:
        rows = alerts_for(user, flt)
        sources = [{"ip": ip, "count": n} for ip, n in rows.exclude(src_ip="").values_list("src_ip").annotate(
            n=Count("id")).order_by("-n", "src_ip")[:TOP]]
        destinations = [{"ip": ip, "count": n} for ip, n in rows.exclude(dest_ip="").values_list(
            "dest_ip").annotate(n=Count("id")).order_by("-n", "dest_ip")[:TOP]]
    else:
        from citygov.soc.models import AlertEndpointTotal

        ends = _rollup(AlertEndpointTotal, user, flt, dated=False)
        sources = [{"ip": ip, "count": n} for ip, n in ends.filter(role="src").values_list("ip").annotate(
            n=Sum("count")).order_by("-n", "ip")[:TOP]]
        destinations = [{"ip": ip, "count": n} for ip, n in ends.filter(role="dest").values_list("ip").annotate(
            n=Sum("count")).order_by("-n", "ip")[:TOP]]
    return {
        "total": total, "by_category": by_category, "by_severity": by_severity, "by_agency": by_agency,
        "by_month": [{"month": m, "count": months[m]} for m in sorted(months)],
        "category_severity": [{"category": c, "severity": sv, "count": matrix[(c, sv)]}
                              for c in CATEGORIES for sv in SEVERITIES if matrix.get((c, sv))],
        "top_signatures": top_signatures, "top_families": families, "top_sources": sources,
        "top_destinations": destinations, "repeat_groups": repeat_groups(user, flt),
        "trend": trend(months), "focus": focus_causes(user, flt),
    }


def repeat_groups(user, flt: AlertFilter | None = None, limit: int = GROUPS_SHOWN) -> dict:
    """Recurrence groups (same signature, source and destination, two alerts or more): how many, how
    many alerts they hold, and the largest ``limit`` with first and last seen, open alerts and one
    alert to open. From the group roll-up; from the alerts when a date filter applies."""
    from citygov.soc.models import AlertGroupTotal

    flt = flt or AlertFilter()
    dated = bool(flt.since or flt.until)
    if dated:
        grouped = alerts_for(user, flt).values("signature_id", "signature", "src_ip", "dest_ip").annotate(
            count=Count("id")).filter(count__gte=2).order_by()
        top = list(grouped.annotate(first_seen=Min("time"), last_seen=Max("time")).order_by(
            "-count", "first_seen", "signature_id", "src_ip", "dest_ip")[:limit])
        totals = grouped.aggregate(groups=Count("*"), alerts=Sum("count"))  # one query over the grouped rows
    else:
        # A roll-up row is a recurrence group (see citygov.soc.models.rollups): no GROUP BY needed,
        # and the partial index on count (>= 2) serves both queries.
        grouped = _rollup(AlertGroupTotal, user, flt, dated=False).filter(count__gte=2)
        top = list(grouped.values("signature_id", "signature", "src_ip", "dest_ip", "count", "first_seen",
                                  "last_seen").order_by("-count", "first_seen", "signature_id", "src_ip",
                                                        "dest_ip")[:limit])
        totals = grouped.aggregate(groups=Count("id"), alerts=Sum("count"))
    count, alerts = totals["groups"] or 0, totals["alerts"] or 0
    # Open alerts and a sample alert of the groups shown: a few indexed look-ups (recurrence index).
    scoped = alerts_for(user, flt)
    for group in top:
        members = scoped.filter(signature_id=group["signature_id"], signature=group["signature"],
                                src_ip=group["src_ip"], dest_ip=group["dest_ip"])
        extra = members.aggregate(open=Count("id", filter=Q(status__in=("new", "acknowledged"))), sample=Min("id"))
        group.update(extra)
    return {"count": count, "alerts": alerts, "groups": top}


def focus_causes(user, flt: AlertFilter | None = None) -> list[dict]:
    """Medium and high alerts by severity, category and signature: the causes the audit asked for."""
    from citygov.soc.models import AlertDaily

    rows = _rollup(AlertDaily, user, flt or AlertFilter(), dated=True).filter(
        severity__in=("high", "medium")).values("severity", "category", "signature").annotate(count=Sum("count"))
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


# --- incidents ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class IncidentRow:
    """An incident with its clocks at one moment and the worst of their states."""

    incident: object
    clocks: tuple
    state: str


def incidents_for(user):
    """Incidents ``user`` may see (their agencies'; the bureau sees all)."""
    from citygov.soc.models import Incident

    return Incident.objects.for_agency(user).select_related("agency", "policy", "case")


def incident_rows(user, now: dt.datetime | None = None, *, state: str = "", open_only: bool = False) -> list[IncidentRow]:
    """Incidents with their clocks; ``state`` keeps those whose worst clock is in that state."""
    from citygov.soc.engine.clocks import worst

    now = now or timezone.now()
    rows = incidents_for(user)
    if open_only or state in ("on_time", "due_soon", "overdue"):
        rows = rows.filter(reported_at__isnull=True)
    result = []
    for incident in rows.order_by("-aware_at", "-id"):
        clocks = incident.clocks(now)
        row = IncidentRow(incident, clocks, worst([c.state for c in clocks]))
        if not state or row.state == state:
            result.append(row)
    return result
