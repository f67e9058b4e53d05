"""Overdue-update detection (資料逾期更新檢測): a catalogue entry against its declared frequency. Pure Python.

As of a moment, a periodic dataset is *overdue* when ``as_of > last_updated + interval + grace``
(calendar months for month, quarter and year intervals). Continuous (即時) datasets use a configurable
interval (one day by default). Ended series are evaluated only before their end; never-updated and
unknown ones are not evaluated; unreadable frequencies are their own status (review queue).
Irregular (不定期) datasets untouched for longer than ``stale_after_months`` are *stale*, a separate bucket.

The timestamp used is said in ``basis``: the data-updated time when known, else the metadata-updated
time, else the created time.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from citygov.datagov.engine import frequency as fq

ON_TIME = "on_time"
OVERDUE = "overdue"
STALE = "stale"
NOT_EVALUATED = "not_evaluated"
UNREADABLE = "unreadable"
STATUSES = (OVERDUE, ON_TIME, STALE, NOT_EVALUATED, UNREADABLE)

BASIS_DATA = "data_updated"
BASIS_METADATA = "metadata_updated"
BASIS_CREATED = "created"
BASIS_NONE = ""


@dataclass(frozen=True)
class Policy:
    """How strictly to judge. ``grace`` maps a frequency class (periodic, continuous, ended) to extra time.

    ``stale_after_months`` None turns the stale bucket off (irregular datasets are then not evaluated).
    """

    grace: Mapping[str, dt.timedelta] = field(default_factory=dict)
    continuous_interval: fq.Interval = fq.Interval(seconds=86400)
    stale_after_months: int | None = 12


@dataclass(frozen=True)
class Entry:
    """What the check needs of one dataset (times are timezone-aware)."""

    id: str
    frequency: fq.Frequency
    data_updated: dt.datetime | None = None
    metadata_updated: dt.datetime | None = None
    created: dt.datetime | None = None


@dataclass(frozen=True)
class Result:
    """The verdict for one dataset: status, the timestamp used and why, the due moment, days overdue."""

    id: str
    status: str
    basis: str
    last_updated: dt.datetime | None
    due: dt.datetime | None
    days_overdue: int
    reason: str = ""


def _basis(entry: Entry) -> tuple[str, dt.datetime | None]:
    if entry.data_updated is not None:
        return BASIS_DATA, entry.data_updated
    if entry.metadata_updated is not None:
        return BASIS_METADATA, entry.metadata_updated
    if entry.created is not None:
        return BASIS_CREATED, entry.created
    return BASIS_NONE, None


def _days_late(as_of: dt.datetime, due: dt.datetime) -> int:
    return max(1, math.floor((as_of - due).total_seconds() / 86400))


def check(entry: Entry, as_of: dt.datetime, policy: Policy | None = None) -> Result:
    """Judge one dataset as of ``as_of`` (timezone-aware)."""
    policy = policy or Policy()
    freq = entry.frequency
    basis, last = _basis(entry)
    if freq.kind == fq.UNKNOWN:
        if not freq.recognised:
            return Result(entry.id, UNREADABLE, basis, last, None, 0, "frequency not understood")
        return Result(entry.id, NOT_EVALUATED, basis, last, None, 0, freq.note or "frequency unknown")
    if freq.kind == fq.NEVER:
        return Result(entry.id, NOT_EVALUATED, basis, last, None, 0, "never updated by design")
    interval = freq.interval
    if freq.kind == fq.ENDED:
        if interval is None or freq.ends is None or as_of.date() >= freq.ends:
            return Result(entry.id, NOT_EVALUATED, basis, last, None, 0, "series ended")
    elif freq.kind == fq.CONTINUOUS:
        interval = policy.continuous_interval
    elif freq.kind == fq.IRREGULAR:
        if policy.stale_after_months is None or last is None:
            return Result(entry.id, NOT_EVALUATED, basis, last, None, 0, "irregular")
        limit = fq.add_months(last, policy.stale_after_months)
        if as_of > limit:
            return Result(entry.id, STALE, basis, last, limit, _days_late(as_of, limit), "irregular, untouched")
        return Result(entry.id, NOT_EVALUATED, basis, last, limit, 0, "irregular")
    if last is None:
        return Result(entry.id, NOT_EVALUATED, basis, None, None, 0, "no timestamp")
    due = interval.after(last) + policy.grace.get(freq.kind, dt.timedelta(0))
    if as_of > due:
        return Result(entry.id, OVERDUE, basis, last, due, _days_late(as_of, due))
    return Result(entry.id, ON_TIME, basis, last, due, 0)


def check_all(entries: Iterable[Entry], as_of: dt.datetime, policy: Policy | None = None) -> list[Result]:
    """Judge every entry (same policy and moment)."""
    policy = policy or Policy()
    return [check(entry, as_of, policy) for entry in entries]


def summarise(results: Iterable[Result]) -> dict[str, int]:
    """Counts per status, every status present (zero when none)."""
    counts = Counter(result.status for result in results)
    return {status: counts.get(status, 0) for status in STATUSES}
