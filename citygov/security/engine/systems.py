"""Rules for core information systems: warranty/patch alerts, tested off-site backup, RPO/RTO. Pure Python.

The audit found that by the end of 2023 only the official website had off-site backup among the city's
core systems, and that a platform whose software warranty had expired received no patches. These
functions decide, from plain dates and numbers, what the pages, the API and the dashboard count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

# Backup methods that keep a copy away from the system's own site.
OFFSITE_METHODS = frozenset({"city_site", "cloud", "idc"})
PASSED = "passed"


@dataclass(frozen=True)
class WarrantyAlert:
    """Why a system is flagged: which warranty expired, when, and how long it has gone unpatched."""

    expired: tuple[str, ...]
    expired_since: dt.date
    days_unpatched: int | None  # None: never patched

    @property
    def reason(self) -> str:
        """A short English reason (the pages translate the parts themselves)."""
        patched = "never patched" if self.days_unpatched is None else f"unpatched for {self.days_unpatched} days"
        return f"{' and '.join(self.expired)} warranty expired {self.expired_since.isoformat()}; {patched}"


def warranty_alert(*, software_end: dt.date | None, hardware_end: dt.date | None, last_patch: dt.date | None,
                   today: dt.date, max_unpatched_days: int) -> WarrantyAlert | None:
    """An alert when a warranty has expired and the system has gone unpatched for more than N days.

    "Unpatched" counts from the last patch, or from the warranty end when the last patch is older than
    that (or unknown): a system patched the day before its warranty ended is not yet overdue.

    >>> d = dt.date
    >>> warranty_alert(software_end=d(2023, 1, 1), hardware_end=None, last_patch=d(2022, 12, 1),
    ...                today=d(2023, 6, 1), max_unpatched_days=90).days_unpatched
    182
    >>> warranty_alert(software_end=d(2023, 1, 1), hardware_end=None, last_patch=d(2023, 5, 1),
    ...                today=d(2023, 6, 1), max_unpatched_days=90) is None
    True
    """
    expired = [(end, name) for name, end in (("software", software_end), ("hardware", hardware_end))
               if end is not None and end < today]
    if not expired:
        return None
    since = min(end for end, _ in expired)
    if last_patch is not None and (today - last_patch).days <= max_unpatched_days:
        return None
    if last_patch is None and (today - since).days <= max_unpatched_days:
        return None
    days = None if last_patch is None else (today - last_patch).days
    return WarrantyAlert(tuple(name for _, name in expired), since, days)


def has_offsite_backup(method: str) -> bool:
    """Whether the backup method keeps a copy off the system's own site."""
    return method in OFFSITE_METHODS


def backup_tested(*, method: str, drill_date: dt.date | None, drill_result: str, today: dt.date,
                  max_drill_age_days: int) -> bool:
    """Off-site backup whose last restore drill passed within ``max_drill_age_days`` (the headline's "tested").

    >>> backup_tested(method="cloud", drill_date=dt.date(2025, 3, 1), drill_result="passed",
    ...               today=dt.date(2025, 6, 1), max_drill_age_days=365)
    True
    >>> backup_tested(method="none", drill_date=dt.date(2025, 3, 1), drill_result="passed",
    ...               today=dt.date(2025, 6, 1), max_drill_age_days=365)
    False
    """
    if not has_offsite_backup(method) or drill_date is None or drill_result != PASSED:
        return False
    return 0 <= (today - drill_date).days <= max_drill_age_days


def target_met(target_hours: float | None, achieved_hours: float | None) -> bool | None:
    """Whether a drill achieved an RPO/RTO target (None when either figure is missing).

    >>> target_met(4, 3.5), target_met(4, 6), target_met(None, 2)
    (True, False, None)
    """
    if target_hours is None or achieved_hours is None:
        return None
    return achieved_hours <= target_hours


def finding_overdue(*, due: dt.date | None, remediated_on: dt.date | None, today: dt.date) -> bool:
    """A finding is overdue when its due date has passed and it has not been remediated."""
    return due is not None and remediated_on is None and due < today


def parse_budgets(text: str) -> dict[str, int]:
    """Budget lines "2023:1200000; 2024:800000" → {"2023": 1200000, "2024": 800000} (NT$ per year).

    Raises ``ValueError`` naming the bad part.

    >>> parse_budgets("2023:1,200,000; 2024:800000")
    {'2023': 1200000, '2024': 800000}
    """
    result: dict[str, int] = {}
    for part in text.replace("；", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        year, sep, amount = part.replace("：", ":").partition(":")
        year, amount = year.strip(), amount.strip().replace(",", "")
        if not sep or not (year.isdigit() and len(year) == 4) or not amount.isdigit():
            raise ValueError(f"budget {part!r}: write YEAR:AMOUNT, e.g. 2024:800000")
        result[year] = int(amount)
    return result


def parse_date(text: str) -> dt.date | None:
    """A date written ``2024-12-31``, ``2024/12/31`` or in the Republic of China calendar (``113/12/31``).

    Empty text gives None; anything else raises ``ValueError``.

    >>> parse_date("113/12/31"), parse_date("2023-01-05"), parse_date("")
    (datetime.date(2024, 12, 31), datetime.date(2023, 1, 5), None)
    """
    text = text.strip()
    if not text:
        return None
    parts = text.replace("-", "/").replace(".", "/").split("/")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"{text!r} is not a date: write YYYY-MM-DD or the ROC year 113/12/31")
    year, month, day = (int(p) for p in parts)
    if year < 1000:  # 民國 year
        year += 1911
    return dt.date(year, month, day)
