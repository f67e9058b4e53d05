"""Read-side helpers of the datagov module: catalogue search and freshness figures.

Catalogue metadata is visible to every role that may view the catalogue (the issue: "metadata visible to
every agency"). Governance figures — overdue and stale lists, the review queue, snapshots — are read
through ``for_agency(user)``: an agency's staff see their own agencies' datasets only.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone

from citygov.datagov.engine import frequency as fq
from citygov.datagov.engine import freshness as fr
from citygov.datagov.models import Dataset, FreshnessSnapshot

DEFAULT_POLICY = fr.Policy()
_FIELDS = ("pk", "frequency_text", "data_updated_at", "metadata_updated_at", "published_at", "agency_id")


def catalogue(user) -> QuerySet[Dataset]:
    """Every dataset (metadata is shared across agencies) for a user who may view the catalogue."""
    from citygov.core.roles import Capability

    if user is None or not user.is_authenticated or not user.has_capability(Capability.VIEW_DATAGOV):
        return Dataset.objects.none()
    return Dataset.objects.all()


def search(queryset: QuerySet[Dataset], text: str) -> QuerySet[Dataset]:
    """Datasets whose title, description, keywords, agency, category or field names hold every term.

    Substring matching on a normalised copy works the same on SQLite and PostgreSQL and needs no
    Chinese word segmentation (a two-character term like 停車 matches inside 停車場).
    """
    from citygov.datagov.services import search_text

    for term in search_text(text or "").split():
        queryset = queryset.filter(search_text__contains=term)
    return queryset


def as_of_start(day: dt.date) -> dt.datetime:
    """The first moment of ``day`` in Asia/Taipei (a date given as "as of" means the start of that day)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time()), timezone.get_fixed_timezone(480))


@dataclass(frozen=True)
class Judged:
    """One dataset's verdict with the keys needed to list it."""

    dataset_id: int
    agency_id: int | None
    result: fr.Result


def judge(queryset: QuerySet[Dataset], as_of: dt.datetime, policy: fr.Policy = DEFAULT_POLICY) -> list[Judged]:
    """Run the freshness engine over a queryset (values only, no model instances)."""
    normalise = _cached_normalise
    judged = []
    for pk, text, data_at, meta_at, created_at, agency_id in queryset.values_list(*_FIELDS).iterator(chunk_size=5000):
        entry = fr.Entry(str(pk), normalise(text), data_at, meta_at, created_at)
        judged.append(Judged(pk, agency_id, fr.check(entry, as_of, policy)))
    return judged


_NORMALISED: dict[str, fq.Frequency] = {}


def _cached_normalise(text: str) -> fq.Frequency:
    found = _NORMALISED.get(text)
    if found is None:
        if len(_NORMALISED) > 10000:
            _NORMALISED.clear()
        found = _NORMALISED[text] = fq.normalise(text)
    return found


def freshness_for(user, as_of: dt.datetime | None = None, policy: fr.Policy = DEFAULT_POLICY) -> list[Judged]:
    """Verdicts for the datasets of the user's agencies (all for city-wide roles)."""
    return judge(Dataset.objects.for_agency(user), as_of or timezone.now(), policy)


def freshness_counts_by_agency(as_of: dt.datetime, policy: fr.Policy = DEFAULT_POLICY) -> dict[int | None, dict]:
    """Status counts per agency id (None: datasets with no matched agency), over the whole catalogue."""
    counts: dict[int | None, Counter] = defaultdict(Counter)
    for item in judge(Dataset.objects.all(), as_of, policy):
        counts[item.agency_id][item.result.status] += 1
    return {agency_id: {s: c.get(s, 0) for s in fr.STATUSES} for agency_id, c in counts.items()}


def summary(judged: list[Judged]) -> dict[str, int]:
    """Counts per status."""
    return fr.summarise(item.result for item in judged)


def review_queue(user) -> QuerySet[Dataset]:
    """Datasets of the user's agencies whose declared frequency could not be read."""
    return Dataset.objects.for_agency(user).filter(frequency_recognised=False).select_related("agency")


def snapshots_for(user) -> list[tuple[dt.date, int, int]]:
    """(day, overdue, evaluated) summed over the user's agencies, oldest first: the overdue-rate trend."""
    rows: dict[dt.date, list[int]] = defaultdict(lambda: [0, 0])
    for day, overdue, on_time in FreshnessSnapshot.objects.for_agency(user).values_list("day", "overdue", "on_time"):
        rows[day][0] += overdue
        rows[day][1] += overdue + on_time
    return [(day, values[0], values[1]) for day, values in sorted(rows.items())]


def unmatched_filter() -> Q:
    """Datasets whose agency in the source matched none of ours."""
    return Q(agency__isnull=True)


def sharing_grant_is_current(dataset_id: int, requesting_agency_id: int, on: dt.date | None = None) -> bool:
    """Whether ``requesting_agency_id`` holds an approved, current grant for ``dataset_id`` on ``on``.

    For the exchange gateway: a grant is current from its first to its last day inclusive (Asia/Taipei
    dates). Rejected and pending requests grant nothing.
    """
    from citygov.datagov.models import SharingRequest, SharingStatus

    day = on or timezone.localdate()
    return SharingRequest.objects.filter(
        dataset_id=dataset_id, requesting_agency_id=requesting_agency_id, status=SharingStatus.APPROVED,
        period_start__lte=day, period_end__gte=day).exists()


def sharing_for(user) -> QuerySet:
    """Sharing requests the user's agencies sent or received (all for city-wide roles)."""
    from citygov.datagov.models import SharingRequest

    return SharingRequest.objects.for_agency(user).select_related("dataset", "agency", "requesting_agency")
