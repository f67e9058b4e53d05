"""The legal clocks of an information-security incident (資安事件), computed from a dated policy.

Pure Python: the deadlines are values of a :class:`Policy` (the database keeps one per version of
the regulation, each with the date it took effect), never constants in code. The defaults below are
the 2021 text of 資通安全事件通報及應變辦法 (arts. 4–6), which the 2026 amendment renamed
資通安全事件通報應變及演練辦法:

* **notify** — report the incident within 1 hour of becoming aware of it;
* **review** — the supervising authority reviews the level within 8 hours (levels 1–2) or 2 hours
  (levels 3–4) of the notification (of the notification deadline while none is recorded);
* **recover** — damage control or recovery within 72 hours (levels 1–2) or 36 hours (levels 3–4) of
  becoming aware;
* **report** — the investigation, handling and improvement report (root cause) within one month of
  completing damage control or recovery (of the recovery deadline while not recovered).

A clock is *done* (on time or late) once its milestone is recorded; otherwise it is *on time*,
*due soon* (less than ``due_soon_percent`` of its span left) or *overdue*.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

LEVELS = (1, 2, 3, 4)
CLOCKS = ("notify", "review", "recover", "report")
CLOCK_LABELS = {  # (zh-Hant, English)
    "notify": ("通報", "Notification"),
    "review": ("審核級別", "Level review"),
    "recover": ("損害控制或復原", "Damage control or recovery"),
    "report": ("調查、處理及改善報告", "Investigation and improvement report"),
}
# Clock states, from best to worst.
DONE, DONE_LATE, ON_TIME, DUE_SOON, OVERDUE = "done", "done_late", "on_time", "due_soon", "overdue"
STATES = (DONE, DONE_LATE, ON_TIME, DUE_SOON, OVERDUE)


@dataclass(frozen=True)
class Policy:
    """One version of the deadlines. Hours are whole or fractional hours; ``report_months`` are
    calendar months (the same day of the month, or the month's last day)."""

    name: str = "資通安全事件通報及應變辦法 (2021-08-23)"
    effective_from: dt.date = dt.date(2021, 8, 23)
    notify_hours: float = 1
    review_hours_low: float = 8  # levels 1-2
    review_hours_high: float = 2  # levels 3-4
    recover_hours_low: float = 72
    recover_hours_high: float = 36
    report_months: int = 1
    due_soon_percent: int = 25

    def __post_init__(self) -> None:
        for field in ("notify_hours", "review_hours_low", "review_hours_high", "recover_hours_low",
                      "recover_hours_high"):
            if not getattr(self, field) > 0:
                raise ValueError(f"{field} must be above zero")
        if self.report_months < 1:
            raise ValueError("report_months must be at least 1")
        if not 0 <= self.due_soon_percent < 100:
            raise ValueError("due_soon_percent must be between 0 and 99")


DEFAULT_POLICY = Policy()


@dataclass(frozen=True)
class Milestones:
    """When each milestone was recorded (aware datetimes), or None."""

    notified_at: dt.datetime | None = None
    reviewed_at: dt.datetime | None = None
    recovered_at: dt.datetime | None = None
    reported_at: dt.datetime | None = None


@dataclass(frozen=True)
class Clock:
    """One deadline: when it started, when it is due, when it was met, and its state at ``now``."""

    key: str
    start: dt.datetime
    due: dt.datetime
    done_at: dt.datetime | None
    state: str

    @property
    def label_zh(self) -> str:
        return CLOCK_LABELS[self.key][0]

    @property
    def is_open(self) -> bool:
        return self.state in (ON_TIME, DUE_SOON, OVERDUE)

    def remaining(self, now: dt.datetime) -> dt.timedelta:
        """Time left until the deadline (negative when overdue)."""
        return self.due - now


def add_months(when: dt.datetime, months: int) -> dt.datetime:
    """The same day and time ``months`` calendar months later (the month's last day if shorter)."""
    month0 = when.month - 1 + months
    year, month = when.year + month0 // 12, month0 % 12 + 1
    day = min(when.day, calendar.monthrange(year, month)[1])
    return when.replace(year=year, month=month, day=day)


def policy_for(policies: list[Policy] | tuple[Policy, ...], day: dt.date) -> Policy:
    """The policy in force on ``day``: the latest that took effect on or before it (the earliest
    one for a day before all of them; the default when there are none)."""
    ordered = sorted(policies, key=lambda p: p.effective_from)
    if not ordered:
        return DEFAULT_POLICY
    chosen = ordered[0]
    for policy in ordered:
        if policy.effective_from <= day:
            chosen = policy
    return chosen


def _state(start: dt.datetime, due: dt.datetime, done_at: dt.datetime | None, now: dt.datetime,
           due_soon_percent: int) -> str:
    if done_at is not None:
        return DONE if done_at <= due else DONE_LATE
    if now > due:
        return OVERDUE
    span = (due - start).total_seconds()
    if span > 0 and (due - now).total_seconds() <= span * due_soon_percent / 100:
        return DUE_SOON
    return ON_TIME


def clocks(policy: Policy, level: int, aware_at: dt.datetime, done: Milestones, now: dt.datetime) -> tuple[Clock, ...]:
    """The four clocks of an incident of ``level`` the agency became aware of at ``aware_at``."""
    if level not in LEVELS:
        raise ValueError(f"level must be 1-4, not {level!r}")
    if aware_at.tzinfo is None or now.tzinfo is None:
        raise ValueError("aware_at and now must be aware datetimes")
    high = level >= 3
    hours = dt.timedelta(hours=1)
    notify_due = aware_at + policy.notify_hours * hours
    review_start = done.notified_at or notify_due
    review_due = review_start + (policy.review_hours_high if high else policy.review_hours_low) * hours
    recover_due = aware_at + (policy.recover_hours_high if high else policy.recover_hours_low) * hours
    report_start = done.recovered_at or recover_due
    report_due = add_months(report_start, policy.report_months)
    rows = (("notify", aware_at, notify_due, done.notified_at), ("review", review_start, review_due, done.reviewed_at),
            ("recover", aware_at, recover_due, done.recovered_at), ("report", report_start, report_due, done.reported_at))
    return tuple(Clock(key, start, due, done_at, _state(start, due, done_at, now, policy.due_soon_percent))
                 for key, start, due, done_at in rows)


def worst(states: list[str] | tuple[str, ...]) -> str:
    """The worst state among ``states`` (open states rank above done ones)."""
    order = {OVERDUE: 0, DUE_SOON: 1, ON_TIME: 2, DONE_LATE: 3, DONE: 4}
    return min(states, key=order.__getitem__) if states else DONE
