"""Read-side helpers of the datagov module: catalogue search and freshness figures.

Catalogue metadata is visible to every role that may view the catalogue (the issue: "metadata visible to
every agency"). Governance figures — overdue and stale lists, the review queue, snapshots — are read
through ``for_agency(user)``: an agency's staff see their own agencies' datasets only.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db import connections
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from citygov.datagov import searchindex
from citygov.datagov.engine import frequency as fq
from citygov.datagov.engine import freshness as fr
from citygov.datagov.engine import textindex
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

    Each term matches as a substring of a normalised copy (no Chinese word segmentation needed: 停車 is
    found inside 停車場). The character-bigram index (``searchindex``: FTS5 on SQLite, a GIN text-search
    index on PostgreSQL) narrows the rows first; the substring check then runs on those candidates only,
    and is skipped for terms the index decides alone (one or two characters).
    """
    from citygov.datagov.services import search_text

    terms = search_text(text or "").split()
    tokens = tuple(dict.fromkeys(t for term in terms for t in textindex.query_tokens(term)))
    narrowed = searchindex.match(connections[queryset.db], tokens)
    if narrowed is not None:
        queryset = queryset.filter(narrowed)
    for term in terms:
        if narrowed is None or not textindex.is_exact(term):
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


def suggestions_for(user) -> QuerySet:
    """Classification suggestions for the datasets of the user's agencies (all for city-wide roles)."""
    from citygov.datagov.models import ClassificationSuggestion

    return ClassificationSuggestion.objects.for_agency(user)


@dataclass(frozen=True)
class Scorecard:
    """One agency's data-governance figures as of a moment (``agency_id`` None: unmatched agencies)."""

    agency_id: int | None
    datasets: int
    counts: dict[str, int]
    overdue_rate: float | None  # overdue / (overdue + on time)
    updated_within_year: int  # datasets whose last update is at most 365 days before as_of
    median_age_days: int | None  # median days since the last update
    classified: int  # datasets with a business theme
    links_checked: int
    links_broken: int
    sharing_received: int
    sharing_sent: int
    sharing_approved: int  # received and approved
    sharing_rejected: int
    sharing_pending: int
    median_decision_days: float | None  # received requests, request to decision


def scorecards(user, as_of: dt.datetime | None = None, policy: fr.Policy = DEFAULT_POLICY) -> list[Scorecard]:
    """Per-agency scorecards for the user's agencies (all for city-wide roles), most overdue first."""
    import statistics

    from citygov.datagov.models import LinkCheck, SharingRequest, SharingStatus

    as_of = as_of or timezone.now()
    judged = freshness_for(user, as_of, policy)
    status: dict[int | None, Counter] = defaultdict(Counter)
    ages: dict[int | None, list[int]] = defaultdict(list)
    for item in judged:
        status[item.agency_id][item.result.status] += 1
        if item.result.last_updated is not None:
            ages[item.agency_id].append(max((as_of - item.result.last_updated).days, 0))
    classified = Counter(dict(Dataset.objects.for_agency(user).exclude(theme="").values_list("agency_id")
                              .annotate(n=Count("id")).values_list("agency_id", "n")))
    latest: dict[int, tuple[int | None, bool]] = {}
    for resource_id, agency_id, ok in (LinkCheck.objects.for_agency(user).order_by("resource_id", "-checked_at", "-id")
                                       .values_list("resource_id", "resource__dataset__agency_id", "ok")):
        latest.setdefault(resource_id, (agency_id, ok))
    checked, broken = Counter(), Counter()
    for agency_id, ok in latest.values():
        checked[agency_id] += 1
        broken[agency_id] += not ok
    sharing: dict[int | None, Counter] = defaultdict(Counter)
    decision_days: dict[int | None, list[float]] = defaultdict(list)
    visible = user.visible_agency_ids()
    for owner, requester, state, created, decided in SharingRequest.objects.for_agency(user).values_list(
            "agency_id", "requesting_agency_id", "status", "created_at", "decided_at"):
        if visible is None or owner in visible:
            sharing[owner]["received"] += 1
            sharing[owner][state] += 1
            if decided is not None:
                decision_days[owner].append((decided - created).total_seconds() / 86400)
        if visible is None or requester in visible:
            sharing[requester]["sent"] += 1
    cards = []
    for agency_id in set(status) | {a for a in sharing if a is not None}:
        counts = {s: status[agency_id].get(s, 0) for s in fr.STATUSES}
        evaluated = counts[fr.OVERDUE] + counts[fr.ON_TIME]
        agency_ages = ages.get(agency_id, [])
        days = decision_days.get(agency_id, [])
        cards.append(Scorecard(
            agency_id=agency_id, datasets=sum(counts.values()), counts=counts,
            overdue_rate=counts[fr.OVERDUE] / evaluated if evaluated else None,
            updated_within_year=sum(1 for a in agency_ages if a <= 365),
            median_age_days=int(statistics.median(agency_ages)) if agency_ages else None,
            classified=classified.get(agency_id, 0), links_checked=checked.get(agency_id, 0),
            links_broken=broken.get(agency_id, 0), sharing_received=sharing[agency_id]["received"],
            sharing_sent=sharing[agency_id]["sent"], sharing_approved=sharing[agency_id][SharingStatus.APPROVED],
            sharing_rejected=sharing[agency_id][SharingStatus.REJECTED],
            sharing_pending=sharing[agency_id][SharingStatus.PENDING],
            median_decision_days=round(statistics.median(days), 1) if days else None))
    cards.sort(key=lambda c: (-c.counts[fr.OVERDUE], -(c.overdue_rate or 0), c.agency_id or 0))
    return cards
