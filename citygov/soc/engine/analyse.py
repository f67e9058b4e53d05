"""Alert analytics in one pass and constant memory per distinct key: counts and shares by category,
severity, agency and month, category × severity, top signatures/families/sources/destinations,
recurrence groups (same signature + source + destination) and monthly trends with the months that
deviate. Duplicate alerts (same dedup key) are counted once."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from citygov.soc.engine.normalise import TAIPEI, Alert
from citygov.soc.engine.taxonomy import CATEGORIES, SEVERITIES

# A month deviates when its count is further than this many standard deviations from the mean of all
# months, or when it moved by more than DEVIATION_CHANGE (fraction) against the previous month.
DEVIATION_SIGMA = 2.0
DEVIATION_CHANGE = 1.0
DEVIATION_MIN_COUNT = 10


@dataclass
class RepeatGroup:
    """Alerts of one signature between one source and one destination."""

    signature_id: str
    signature: str
    src_ip: str
    dest_ip: str
    category: str
    severity: str
    count: int
    first_seen: dt.datetime
    last_seen: dt.datetime

    def as_dict(self) -> dict:
        return {"signature_id": self.signature_id, "signature": self.signature, "src_ip": self.src_ip,
                "dest_ip": self.dest_ip, "category": self.category, "severity": self.severity, "count": self.count,
                "first_seen": self.first_seen.astimezone(TAIPEI).isoformat(),
                "last_seen": self.last_seen.astimezone(TAIPEI).isoformat()}


def recurrence_key(alert: Alert) -> tuple[str, str, str]:
    """What makes alerts one recurrence group: the signature (id, or text when there is no id), the
    source and the destination."""
    return (alert.signature_id or alert.signature, alert.src_ip, alert.dest_ip)


@dataclass
class Analysis:
    """The accumulator: ``add`` alerts, then read ``report()``."""

    total: int = 0
    duplicates: int = 0
    by_category: Counter = field(default_factory=Counter)
    by_severity: Counter = field(default_factory=Counter)
    by_source_category: Counter = field(default_factory=Counter)
    by_source_severity: Counter = field(default_factory=Counter)
    by_agency: Counter = field(default_factory=Counter)
    by_month: Counter = field(default_factory=Counter)
    by_format: Counter = field(default_factory=Counter)
    category_severity: Counter = field(default_factory=Counter)
    signatures: Counter = field(default_factory=Counter)
    signature_names: dict = field(default_factory=dict)
    families: Counter = field(default_factory=Counter)
    sources: Counter = field(default_factory=Counter)
    destinations: Counter = field(default_factory=Counter)
    groups: dict = field(default_factory=dict)
    causes: Counter = field(default_factory=Counter)  # (category, signature) of medium and high alerts
    _seen: set = field(default_factory=set)

    def add(self, alert: Alert) -> bool:
        """Count one alert; ``False`` (and counted as a duplicate) when its dedup key was seen."""
        if alert.dedup_key in self._seen:
            self.duplicates += 1
            return False
        self._seen.add(alert.dedup_key)
        self.total += 1
        self.by_category[alert.category] += 1
        self.by_severity[alert.severity] += 1
        self.by_source_category[alert.source_category] += 1
        self.by_source_severity[alert.source_severity] += 1
        self.by_agency[alert.agency] += 1
        self.by_month[alert.month] += 1
        self.by_format[alert.source_format] += 1
        self.category_severity[(alert.category, alert.severity)] += 1
        sig = alert.signature_id or alert.signature
        self.signatures[sig] += 1
        self.signature_names.setdefault(sig, alert.signature)
        self.families[alert.family] += 1
        if alert.src_ip:
            self.sources[alert.src_ip] += 1
        if alert.dest_ip:
            self.destinations[alert.dest_ip] += 1
        if alert.severity in ("high", "medium"):
            self.causes[(alert.severity, alert.category, sig)] += 1
        key = recurrence_key(alert)
        group = self.groups.get(key)
        if group is None:
            self.groups[key] = RepeatGroup(alert.signature_id, alert.signature, alert.src_ip, alert.dest_ip,
                                           alert.category, alert.severity, 1, alert.time, alert.time)
        else:
            group.count += 1
            group.first_seen = min(group.first_seen, alert.time)
            group.last_seen = max(group.last_seen, alert.time)
        return True

    def extend(self, alerts: Iterable[Alert]) -> Analysis:
        for alert in alerts:
            self.add(alert)
        return self

    def repeat_groups(self, minimum: int = 2) -> list[RepeatGroup]:
        """Groups with at least ``minimum`` alerts, largest first."""
        groups = [g for g in self.groups.values() if g.count >= minimum]
        groups.sort(key=lambda g: (-g.count, g.first_seen, g.signature_id, g.src_ip, g.dest_ip))
        return groups

    def report(self, *, top: int = 10, rejected: list | None = None) -> dict:
        """The JSON document of ``citygov soc analyse`` (see docs/soc.md)."""
        def shares(counter: Counter, order: Iterable[str] | None = None) -> list[dict]:
            keys = list(order) if order is not None else [k for k, _ in sorted(counter.items(),
                                                                                key=lambda kv: (-kv[1], str(kv[0])))]
            return [{"key": k, "count": counter[k], "share": _share(counter[k], self.total)} for k in keys
                    if counter.get(k)]

        by_category = shares(self.by_category, CATEGORIES)
        for row in by_category:
            row["label"] = CATEGORIES[row["key"]][0]
        by_severity = shares(self.by_severity, SEVERITIES)
        for row in by_severity:
            row["label"] = SEVERITIES[row["key"]][0]
        repeat = self.repeat_groups()
        return {
            "total": self.total,
            "duplicates": self.duplicates,
            "by_format": dict(sorted(self.by_format.items())),
            "by_category": by_category,
            "by_severity": by_severity,
            "by_source_category": shares(self.by_source_category),
            "by_source_severity": shares(self.by_source_severity),
            "by_agency": shares(self.by_agency),
            "by_month": [{"month": m, "count": self.by_month[m]} for m in sorted(self.by_month)],
            "category_severity": [{"category": c, "severity": s, "count": n}
                                  for (c, s), n in sorted(self.category_severity.items())],
            "top_signatures": [{"id": s, "name": self.signature_names[s], "count": n}
                               for s, n in _top(self.signatures, top)],
            "top_families": [{"family": f, "count": n} for f, n in _top(self.families, top)],
            "top_sources": [{"ip": ip, "count": n} for ip, n in _top(self.sources, top)],
            "top_destinations": [{"ip": ip, "count": n} for ip, n in _top(self.destinations, top)],
            "repeat_groups": {"count": len(repeat), "alerts": sum(g.count for g in repeat),
                              "groups": [g.as_dict() for g in repeat[:max(top, 50)]]},
            "trend": trend(self.by_month),
            "focus": [{"severity": s, "category": c, "signature": self.signature_names[sig], "count": n}
                      for (s, c, sig), n in sorted(self.causes.items(), key=lambda kv: (kv[0][0] != "high", -kv[1],
                                                                                       kv[0][2]))[:top]],
            "rejected_lines": [{"file": r[0], "line": r[1], "reason": r[2]} for r in (rejected or [])],
        }


def _share(count: int, total: int) -> float:
    return round(100 * count / total, 2) if total else 0.0


def _top(counter: Counter, n: int) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))[:n]


def _month_add(month: str, delta: int) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    index = year * 12 + mon - 1 + delta
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def trend(by_month: Counter) -> list[dict]:
    """Per month from the first to the last (gaps filled with 0): count, change against the previous
    month and the same month a year before (percent, ``None`` when that month had none) and whether
    the month deviates."""
    if not by_month:
        return []
    months = sorted(by_month)
    series, month = [], months[0]
    while month <= months[-1]:
        series.append(month)
        month = _month_add(month, 1)
    counts = [by_month.get(m, 0) for m in series]
    mean = statistics.fmean(counts)
    sigma = statistics.pstdev(counts) if len(counts) > 2 else 0.0
    rows = []
    for i, month in enumerate(series):
        count = counts[i]
        prev = counts[i - 1] if i else None
        year_ago = by_month.get(_month_add(month, -12))
        mom = round(100 * (count - prev) / prev, 1) if prev else None
        yoy = round(100 * (count - year_ago) / year_ago, 1) if year_ago else None
        deviates = bool(sigma and abs(count - mean) > DEVIATION_SIGMA * sigma) or bool(
            prev is not None and max(prev, count) >= DEVIATION_MIN_COUNT
            and abs(count - prev) > DEVIATION_CHANGE * max(prev, 1))
        rows.append({"month": month, "count": count, "mom_change": mom, "yoy_change": yoy, "deviates": deviates})
    return rows
