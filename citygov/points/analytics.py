"""Points analytics: what the programme's health looks like over time, per campaign, agency and district.

Every figure is aggregated in the database (``GROUP BY`` on days in Asia/Taipei, on SQLite and
PostgreSQL alike). Transfers are append-only, so the sums over the settled part of the ledger are
kept in a small rollup in the shared cache (see :func:`load_rollup`) and only the newest transfers
are aggregated on each request: the pages stay fast over millions of transfers. Definitions, the
same as the points overview's chart:

* **issued** — points granted to members (``grant`` transfers);
* **spent** — points redeemed or captured at merchants, net of refunds;
* **expired** — points that reached a lot's expiry unspent (including holds and refunds that landed
  in an expired lot);
* **transactions** — redemptions (one-step redeems and captures), each counted once however many
  lots it drew on;
* **breakage** — the expired share of what was issued.

Agency-owned figures (everything built from transfers) are read through ``for_agency(user)``:
agency staff see their agencies' campaigns only. Merchants are programme-wide, as on the merchant
pages. The public map (:func:`public_map`) shows active merchants only and nothing about banks or
people.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max, Min, Q, Sum
from django.db.models.functions import TruncDate

from citygov.agencies.queries import all_districts
from citygov.points.models import Campaign, Merchant, MerchantStatus, Transfer, TransferKind

TZ = ZoneInfo("Asia/Taipei")
TK = TransferKind
SPENT_KINDS = (TK.REDEEM, TK.CAPTURE)
REFUND_KINDS = (TK.REFUND, TK.REFUND_EXPIRED, TK.REFUND_TO_CAMPAIGN)
EXPIRED_KINDS = (TK.EXPIRE, TK.RELEASE_EXPIRED, TK.REFUND_EXPIRED)
FLOW_KINDS = (TK.GRANT, *SPENT_KINDS, *REFUND_KINDS, *EXPIRED_KINDS)
METRICS = ("issued", "spent", "expired", "transactions")
# The year-over-year alert watches activity: what was issued, what was spent and how often.
YOY_METRICS = ("issued", "spent", "transactions")
# The longest range the daily series serves (two years and a bit): it bounds the work one request may ask for.
MAX_DAILY_DAYS = 800
FIRST_YEAR, LAST_YEAR = 2000, 2100


def yoy_alert_share() -> float:
    """The fall against the same month last year beyond which a month raises the alert (0 < share ≤ 1)."""
    return float(getattr(settings, "POINTS_YOY_ALERT_SHARE", 0.5))


# --- plain results ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Flow:
    """Points issued, spent (net of refunds) and expired, and the number of transactions, in one period."""

    period: str  # "YYYY-MM" for months, "YYYY-MM-DD" for days
    issued: int = 0
    spent: int = 0
    expired: int = 0
    transactions: int = 0


@dataclass(frozen=True)
class YoyChange:
    """One metric of one month against the same month a year earlier."""

    metric: str
    current: int
    previous: int

    @property
    def change(self) -> float | None:
        """Relative change (−0.9 = fell 90%); ``None`` when last year had nothing to compare with."""
        if self.previous <= 0:
            return None
        return (self.current - self.previous) / self.previous


@dataclass(frozen=True)
class YoyMonth:
    """A month of the chosen year against the same month of the year before."""

    month: str  # "YYYY-MM" of the chosen year
    previous_month: str
    changes: tuple[YoyChange, ...]
    alerts: tuple[str, ...]  # metrics that fell more than the alert share
    partial: bool = False  # the current month, compared up to the same moment last year

    @property
    def alert(self) -> bool:
        return bool(self.alerts)

    def change_of(self, metric: str) -> YoyChange:
        return next(change for change in self.changes if change.metric == metric)


@dataclass(frozen=True)
class YoyReport:
    """Year-over-year changes of every month of ``year`` that has begun, and the alert share used."""

    year: int
    share: float
    months: tuple[YoyMonth, ...]

    @property
    def alert_months(self) -> tuple[YoyMonth, ...]:
        return tuple(month for month in self.months if month.alert)

    def worst(self, metric: str = "spent") -> YoyMonth | None:
        """The month whose ``metric`` fell the most (``None`` when no month can be compared)."""
        comparable = [m for m in self.months if m.change_of(metric).change is not None]
        return min(comparable, key=lambda m: m.change_of(metric).change, default=None)


@dataclass(frozen=True)
class Breakage:
    """Issued, spent and expired points of one campaign or one agency, over its whole life."""

    key: int
    name: str
    agency: str
    issued: int
    spent: int
    expired: int

    @property
    def breakage(self) -> float | None:
        """Expired share of the points issued (``None`` when nothing was issued)."""
        return self.expired / self.issued if self.issued else None


@dataclass(frozen=True)
class DistrictMerchants:
    """Merchants of one district by status, and how many have points payment enabled."""

    code: str
    name_zh: str
    name_en: str
    total: int
    by_status: dict[str, int] = field(default_factory=dict)
    enabled: int = 0
    active: int = 0
    active_enabled: int = 0

    @property
    def never_enabled(self) -> int:
        return self.total - self.enabled

    @property
    def share(self) -> float | None:
        """Share of the district's merchants with points payment enabled (``None`` without merchants)."""
        return self.enabled / self.total if self.total else None


@dataclass(frozen=True)
class MerchantSummary:
    """Merchant counts per district and for the whole programme."""

    districts: tuple[DistrictMerchants, ...]
    unknown_district: DistrictMerchants
    total: int
    enabled: int
    by_status: dict[str, int]

    @property
    def never_enabled(self) -> int:
        return self.total - self.enabled

    @property
    def share(self) -> float | None:
        return self.enabled / self.total if self.total else None


@dataclass(frozen=True)
class MapMerchant:
    """A merchant as the public map shows it: where it is and whether it takes points (nothing private)."""

    name: str
    category: str
    address: str
    district: str
    lon: float
    lat: float
    points_enabled: bool


@dataclass(frozen=True)
class PublicMap:
    """Active merchants per district (with the enabled share) and the active merchants with coordinates."""

    districts: tuple[DistrictMerchants, ...]
    merchants: tuple[MapMerchant, ...]


# --- time helpers -------------------------------------------------------------------------------

def year_bounds(year: int) -> tuple[dt.datetime, dt.datetime]:
    """[1 January 00:00, next 1 January 00:00) of ``year`` in Asia/Taipei."""
    return dt.datetime(year, 1, 1, tzinfo=TZ), dt.datetime(year + 1, 1, 1, tzinfo=TZ)


def month_label(moment: dt.datetime | dt.date) -> str:
    if isinstance(moment, dt.datetime):
        moment = moment.astimezone(TZ) if moment.tzinfo else moment
    return f"{moment.year:04d}-{moment.month:02d}"


def months_of(year: int) -> list[str]:
    return [f"{year:04d}-{month:02d}" for month in range(1, 13)]


# --- flows --------------------------------------------------------------------------------------

def _scoped_flows(user, start: dt.datetime, end: dt.datetime):
    return (Transfer.objects.for_agency(user) if user is not None else Transfer.objects.all()).filter(
        created_at__gte=start, created_at__lt=end, kind__in=FLOW_KINDS)


def _fold(rows, bucket_label) -> dict[str, dict[str, int]]:
    totals: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(METRICS, 0))
    for row in rows:
        label = bucket_label(row["bucket"])
        kind, amount = row["kind"], row["points"] or 0
        figures = totals[label]
        if kind == TK.GRANT:
            figures["issued"] += amount
        if kind in SPENT_KINDS:
            figures["spent"] += amount
            figures["transactions"] += row["redemptions"]
        if kind in REFUND_KINDS:
            figures["spent"] -= amount
        if kind in EXPIRED_KINDS:
            figures["expired"] += amount
    return totals


def _daily_totals(user, first: dt.date, last: dt.date) -> dict[str, dict[str, int]]:
    """Metrics per day label in [first, last]: the rollup's folded days plus the live tail of the ledger."""
    rollup = load_rollup()
    scope = _scope(user)
    low, high = first.isoformat(), last.isoformat()
    rows = [{"bucket": day, "kind": kind, "points": figures[0], "redemptions": figures[1]}
            for (day, agency_id, kind), figures in rollup.days.items()
            if low <= day <= high and (scope is None or agency_id in scope)]
    start = dt.datetime.combine(first, dt.time(), tzinfo=TZ)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=TZ)
    # Grouped by agency as in the rollup: a redemption drawing on two agencies' lots counts for each.
    live = (_scoped_flows(user, start, end).filter(id__gt=rollup.final_id)
            .annotate(bucket=TruncDate("created_at", tzinfo=TZ)).order_by().values("bucket", "agency_id", "kind")
            .annotate(points=Sum("amount"), redemptions=Count("redemption_id", distinct=True)))
    return _fold([*rows, *live], lambda day: day.isoformat() if isinstance(day, dt.date) else str(day)[:10])


def _days(first: dt.date, last: dt.date) -> list[str]:
    return [(first + dt.timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def daily_flows(user, first: dt.date, last: dt.date) -> list[Flow]:
    """One :class:`Flow` per day from ``first`` to ``last`` inclusive (Asia/Taipei), empty days included."""
    if last < first:
        raise ValueError("the last day is before the first")
    if (last - first).days + 1 > MAX_DAILY_DAYS:
        raise ValueError(f"at most {MAX_DAILY_DAYS} days at a time")
    totals = _daily_totals(user, first, last)
    return [Flow(day, **totals.get(day, {})) for day in _days(first, last)]


def year_flows(user, year: int) -> list[Flow]:
    """The twelve months of ``year`` (Asia/Taipei), months without activity included."""
    return YearWindow(year=year, totals=_daily_totals(user, dt.date(year, 1, 1), dt.date(year, 12, 31))).months(year)


def flow_total(flows: list[Flow], period: str = "") -> Flow:
    return Flow(period, **{metric: sum(getattr(flow, metric) for flow in flows) for metric in METRICS})


@dataclass(frozen=True)
class YearWindow:
    """Daily figures of ``year`` and the year before, read with one query: months, the year-over-year
    comparison and daily series are all derived from it (the analytics page reads the ledger once)."""

    year: int
    totals: dict[str, dict[str, int]]  # "YYYY-MM-DD" → metrics, days with activity only

    def day(self, label: str) -> Flow:
        return Flow(label, **self.totals.get(label, {}))

    def months(self, year: int, *, through_day: int = 31) -> list[Flow]:
        """The twelve months of ``year`` (each cut after day ``through_day`` of the month)."""
        sums = {label: dict.fromkeys(METRICS, 0) for label in months_of(year)}
        for label, figures in self.totals.items():
            if label[:7] in sums and int(label[8:]) <= through_day:
                for metric in METRICS:
                    sums[label[:7]][metric] += figures[metric]
        return [Flow(label, **figures) for label, figures in sums.items()]

    def daily(self, first: dt.date, last: dt.date) -> list[Flow]:
        return [self.day(label) for label in _days(first, last)]


def year_window(user, year: int) -> YearWindow:
    """Read the daily figures of ``year − 1`` and ``year`` (Asia/Taipei) in one query."""
    return YearWindow(year=year, totals=_daily_totals(user, dt.date(year - 1, 1, 1), dt.date(year, 12, 31)))


def year_over_year(user, year: int, *, now: dt.datetime | None = None, share: float | None = None,
                   window: YearWindow | None = None) -> YoyReport:
    """Each month of ``year`` that has begun against the same month of ``year − 1``.

    A month raises the alert when issued points, spent points or the number of transactions fell more
    than ``share`` (default: the ``CITYGOV_POINTS_YOY_ALERT_SHARE`` setting) below last year's. The
    month under way is compared with last year's month up to the same day of the month, so a month
    that has just begun is not mistaken for a collapse. ``window`` reuses figures already read.
    """
    share = yoy_alert_share() if share is None else share
    now = (now or dt.datetime.now(tz=TZ)).astimezone(TZ)
    start, end = year_bounds(year)
    if start > now:
        return YoyReport(year=year, share=share, months=())
    window = window if window is not None and window.year == year else year_window(user, year)
    current = {flow.period: flow for flow in window.months(year)}
    previous = {flow.period: flow for flow in window.months(year - 1)}
    partial_label = month_label(now) if now < end else ""
    if partial_label:
        cut = window.months(year - 1, through_day=now.day)
        previous[f"{year - 1:04d}{partial_label[4:]}"] = next(f for f in cut if f.period[5:] == partial_label[5:])
    months = []
    for label in months_of(year):
        if label > month_label(now):
            break
        last_label = f"{year - 1:04d}{label[4:]}"
        this, last = current[label], previous[last_label]
        changes = tuple(YoyChange(metric, getattr(this, metric), getattr(last, metric)) for metric in YOY_METRICS)
        alerts = tuple(c.metric for c in changes if c.change is not None and c.change < -share)
        months.append(YoyMonth(month=label, previous_month=last_label, changes=changes, alerts=alerts,
                               partial=label == partial_label))
    return YoyReport(year=year, share=share, months=tuple(months))


# --- breakage by campaign and agency ------------------------------------------------------------

def _breakage_rows(user, group: str) -> dict[int, dict[str, int]]:
    """Issued / spent / expired per campaign (``group="lot__campaign_id"``): rollup plus live tail."""
    rollup = load_rollup()
    queryset = Transfer.objects.for_agency(user) if user is not None else Transfer.objects.all()
    live = (queryset.filter(kind__in=FLOW_KINDS, lot__isnull=False, id__gt=rollup.final_id).order_by()
            .values(group, "kind").annotate(points=Sum("amount")))
    scope = _scope(user)
    rows = [{group: campaign_id, "kind": kind, "points": points}
            for (campaign_id, agency_id, kind), points in rollup.lots.items()
            if scope is None or agency_id in scope]
    rows += list(live)
    totals: dict[int, dict[str, int]] = defaultdict(lambda: {"issued": 0, "spent": 0, "expired": 0})
    for row in rows:
        figures, kind, amount = totals[row[group]], row["kind"], row["points"] or 0
        if kind == TK.GRANT:
            figures["issued"] += amount
        if kind in SPENT_KINDS:
            figures["spent"] += amount
        if kind in REFUND_KINDS:
            figures["spent"] -= amount
        if kind in EXPIRED_KINDS:
            figures["expired"] += amount
    return totals


def breakage_by_campaign(user) -> list[Breakage]:
    """Every campaign in the user's scope with what it issued, what was spent and what expired."""
    return [row for row, _agency_id in _campaign_breakage(user)]


def _campaign_breakage(user) -> list[tuple[Breakage, int]]:
    totals = _breakage_rows(user, "lot__campaign_id")
    campaigns = (Campaign.objects.for_agency(user) if user is not None else Campaign.objects.all())
    result = []
    for campaign in campaigns.select_related("agency").order_by("agency__code", "name", "pk"):
        figures = totals.get(campaign.pk, {"issued": 0, "spent": 0, "expired": 0})
        result.append((Breakage(key=campaign.pk, name=campaign.name, agency=campaign.agency.name_zh, **figures),
                       campaign.agency_id))
    return result


def breakage_by_agency(user, campaigns: list[tuple[Breakage, int]] | None = None) -> list[Breakage]:
    """The same per agency: the sum of its campaigns (a lot's transfers belong to its campaign's agency)."""
    rows: dict[int, dict] = {}
    for campaign, agency_id in campaigns if campaigns is not None else _campaign_breakage(user):
        row = rows.setdefault(agency_id, {"name": campaign.agency, "issued": 0, "spent": 0, "expired": 0})
        for metric in ("issued", "spent", "expired"):
            row[metric] += getattr(campaign, metric)
    return [Breakage(key=agency_id, agency=row["name"], **row) for agency_id, row in rows.items()]


def breakage(user) -> tuple[list[Breakage], list[Breakage]]:
    """Breakage by campaign and by agency from one read of the ledger."""
    campaigns = _campaign_breakage(user)
    return [row for row, _agency_id in campaigns], breakage_by_agency(user, campaigns)


# --- the rollup: folded figures of the settled part of the ledger -------------------------------
#
# Transfers are append-only, so figures over old transfers never change. The rollup keeps, in the
# shared cache, the per-day (day, agency, kind) and per-campaign sums of every transfer up to
# ``final_id``; each read adds the live tail (id > final_id) from the database. When the tail grows
# past ROLLUP_FOLD_AT transfers, all but the newest ROLLUP_TAIL of them are folded in (the newest stay
# live, so a transaction still committing below them is not missed), never splitting one
# redemption's transfers. Anchor rows (their id, time, amount, accounts) are checked on every read: a
# different or rebuilt database never reuses a rollup that is not its own.

ROLLUP_CACHE_KEY = "points:analytics:rollup:v1"
ROLLUP_META_KEY = "points:analytics:rollup-meta:v1"
ROLLUP_FOLD_AT = 20_000
ROLLUP_TAIL = 2_000


@dataclass
class Rollup:
    """Sums of the transfers with ``id <= final_id`` (see the comment above)."""

    final_id: int = 0
    anchors: tuple = ()
    days: dict = field(default_factory=dict)  # (day "YYYY-MM-DD", agency_id, kind) → [points, redemptions]
    lots: dict = field(default_factory=dict)  # (campaign_id, agency_id, kind) → points


def _scope(user) -> frozenset[int] | None:
    """Agency ids the user reaches (``None``: all; the command line without a user reads everything)."""
    if user is None:
        return None
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    ids = user.visible_agency_ids()
    return None if ids is None else frozenset(ids)


def _anchors(final_id: int) -> tuple:
    ids, step = set(), final_id
    while step > 0 and len(ids) < 8:
        ids.add(step)
        step //= 2
    rows = Transfer.objects.filter(pk__in=ids).order_by("pk").values_list(
        "pk", "created_at", "amount", "debit_id", "credit_id", "kind")
    return tuple((pk, created.isoformat(), amount, debit, credit, kind)
                 for pk, created, amount, debit, credit, kind in rows)


def _fold_target(max_id: int) -> int:
    """The last id to fold: all but the newest ROLLUP_TAIL, moved back so no redemption is split."""
    target = max_id - ROLLUP_TAIL
    row = Transfer.objects.filter(pk__lte=target).order_by("-pk").values_list("pk", "redemption_id").first()
    if row is None:
        return 0
    target, redemption_id = row
    if redemption_id is not None:
        following = Transfer.objects.filter(pk__gt=target).order_by("pk").values_list("redemption_id", flat=True)
        if following.first() == redemption_id:
            target = Transfer.objects.filter(redemption_id=redemption_id).aggregate(low=Min("id"))["low"] - 1
    return target


def _folded(rollup: Rollup, target: int) -> Rollup:
    days = {key: list(value) for key, value in rollup.days.items()}
    lots = dict(rollup.lots)
    batch = Transfer.objects.filter(id__gt=rollup.final_id, id__lte=target, kind__in=FLOW_KINDS).order_by()
    for row in (batch.annotate(bucket=TruncDate("created_at", tzinfo=TZ)).values("bucket", "agency_id", "kind")
                .annotate(points=Sum("amount"), redemptions=Count("redemption_id", distinct=True))):
        bucket = row["bucket"]
        label = bucket.isoformat() if isinstance(bucket, dt.date) else str(bucket)[:10]
        figures = days.setdefault((label, row["agency_id"], row["kind"]), [0, 0])
        figures[0] += row["points"] or 0
        figures[1] += row["redemptions"]
    for row in (batch.filter(lot__isnull=False).values("lot__campaign_id", "agency_id", "kind")
                .annotate(points=Sum("amount"))):
        key = (row["lot__campaign_id"], row["agency_id"], row["kind"])
        lots[key] = lots.get(key, 0) + (row["points"] or 0)
    return Rollup(final_id=target, anchors=_anchors(target), days=days, lots=lots)


_LOCAL: dict[str, Rollup] = {}  # this process's copy, so most reads fetch only the small meta entry


def load_rollup() -> Rollup:
    """The rollup (checked against its anchors), folded forward when the live tail has grown.

    The cache holds a small meta entry (final id, anchors) and the sums; a process keeps the sums it
    last used and fetches them again only when another process has folded further."""
    meta = cache.get(ROLLUP_META_KEY)
    rollup = None
    if isinstance(meta, tuple) and len(meta) == 2 and meta[0] and meta[1] == _anchors(meta[0]):
        local = _LOCAL.get("rollup")
        if local is not None and (local.final_id, local.anchors) == meta:
            rollup = local
        else:
            stored = cache.get(ROLLUP_CACHE_KEY)
            if isinstance(stored, Rollup) and (stored.final_id, stored.anchors) == meta:
                rollup = stored
    rollup = rollup or Rollup()
    max_id = Transfer.objects.aggregate(high=Max("id"))["high"] or 0
    if max_id < rollup.final_id:
        rollup = Rollup()
    if max_id - rollup.final_id > ROLLUP_FOLD_AT:
        target = _fold_target(max_id)
        if target > rollup.final_id:
            rollup = _folded(rollup, target)
            cache.set(ROLLUP_CACHE_KEY, rollup, None)
            cache.set(ROLLUP_META_KEY, (rollup.final_id, rollup.anchors), None)
    _LOCAL["rollup"] = rollup
    return rollup


# --- merchants by district ----------------------------------------------------------------------

def _district_rows(queryset) -> tuple[dict, dict]:
    rows = (queryset.order_by().values("district_id", "status")
            .annotate(n=Count("id"), enabled=Count("id", filter=Q(points_enabled=True))))
    per: dict = defaultdict(lambda: {"total": 0, "enabled": 0, "by_status": {}, "active": 0, "active_enabled": 0})
    for row in rows:
        figures = per[row["district_id"]]
        figures["total"] += row["n"]
        figures["enabled"] += row["enabled"]
        figures["by_status"][row["status"]] = row["n"]
        if row["status"] == MerchantStatus.ACTIVE:
            figures["active"] += row["n"]
            figures["active_enabled"] += row["enabled"]
    return per, {district.pk: district for district in all_districts(boundaries=False)}


def _district(district, figures: dict) -> DistrictMerchants:
    by_status = {status: figures["by_status"].get(status, 0) for status in MerchantStatus.values}
    return DistrictMerchants(code=district.code if district else "", name_zh=district.name_zh if district else "",
                             name_en=district.name_en if district else "", total=figures["total"],
                             by_status=by_status, enabled=figures["enabled"], active=figures["active"],
                             active_enabled=figures["active_enabled"])


_EMPTY = {"total": 0, "enabled": 0, "by_status": {}, "active": 0, "active_enabled": 0}


def merchant_summary() -> MerchantSummary:
    """Merchants by status and points payment per district (every district listed, merchants or not)."""
    per, districts = _district_rows(Merchant.objects.all())
    rows = tuple(_district(district, per.get(pk, _EMPTY)) for pk, district in districts.items())
    unknown = _district(None, per.get(None, _EMPTY))
    by_status = {status: sum(r.by_status[status] for r in (*rows, unknown)) for status in MerchantStatus.values}
    return MerchantSummary(districts=rows, unknown_district=unknown, total=sum(by_status.values()),
                           enabled=sum(r.enabled for r in (*rows, unknown)), by_status=by_status)


def public_map() -> PublicMap:
    """The citizen-facing "where can I spend" map: active merchants only, no bank or personal data."""
    active = Merchant.objects.filter(status=MerchantStatus.ACTIVE)
    per, districts = _district_rows(active)
    rows = tuple(_district(district, per.get(pk, _EMPTY)) for pk, district in districts.items())
    names = {pk: district.name_zh for pk, district in districts.items()}
    merchants = tuple(
        MapMerchant(name=m["name"], category=m["category"], address=m["address"],
                    district=names.get(m["district_id"], ""), lon=m["lon"], lat=m["lat"],
                    points_enabled=m["points_enabled"])
        for m in active.filter(lon__isnull=False, lat__isnull=False).order_by("district_id", "name")
        .values("name", "category", "address", "district_id", "lon", "lat", "points_enabled"))
    return PublicMap(districts=rows, merchants=merchants)


def district_geojson(rows: tuple[DistrictMerchants, ...]) -> dict:
    """District boundaries as a GeoJSON FeatureCollection carrying each district's merchant figures."""
    figures = {row.code: row for row in rows}
    features = []
    for district in all_districts():
        row = figures.get(district.code)
        features.append({
            "type": "Feature", "id": district.code,
            "properties": {
                "code": district.code, "name_zh": district.name_zh, "name_en": district.name_en,
                "merchants": row.total if row else 0, "enabled": row.enabled if row else 0,
                "rate": round(row.share, 4) if row and row.share is not None else None,
                "centroid": [district.centroid_lon, district.centroid_lat],
            },
            "geometry": district.boundary,
        })
    return {"type": "FeatureCollection", "features": features}


def has_activity(user) -> bool:
    """Whether any transfer the figures are built from exists in the user's scope."""
    queryset = Transfer.objects.for_agency(user) if user is not None else Transfer.objects.all()
    return queryset.filter(kind__in=FLOW_KINDS).exists()


def check_year(value, *, default: int) -> int:
    """A year from a query string (``default`` when blank); ``ValueError`` when not a plausible year."""
    if value in (None, ""):
        return default
    text = str(value).strip()
    if not text.isdigit() or not FIRST_YEAR <= int(text) <= LAST_YEAR:
        raise ValueError(f"year must be between {FIRST_YEAR} and {LAST_YEAR}")
    return int(text)
