"""Dashboard tiles of the points module, computed for the signed-in user.

Agency roles see their agencies' figures only (merchants are programme-wide). Until one of the
user's agencies has bought points, every tile shows the empty state with the audit finding.
"""

from __future__ import annotations

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from citygov.core import dashboard
from citygov.core.roles import Capability

MODULE = gettext_lazy("Citizen-card points")
# Issuance this month below these shares of last month's (same days) turns the tile amber / red:
# the audit found a fall of more than 90% that nobody noticed.
ISSUED_WARN_RATIO = 0.5
ISSUED_ALERT_RATIO = 0.1
# Share of active merchants with points payment on, below which the tile turns amber / red.
ENABLED_WARN_SHARE = 0.9
ENABLED_ALERT_SHARE = 0.6


def _grouped(value: int) -> str:
    return number_format(value, force_grouping=True)


def _empty() -> dashboard.TileValue:
    return dashboard.TileValue(value=None, detail=_("No points purchased yet: the programme has not started."),
                               status=dashboard.STATUS_EMPTY)


def _started(user) -> bool:
    from citygov.points.models import Purchase

    return Purchase.objects.for_agency(user).exists()


def _outstanding(user) -> dashboard.TileValue:
    """Points members hold (available in lots + held by terminals) in the user's agencies."""
    if not _started(user):
        return _empty()
    from citygov.points.queries import totals_for

    totals = totals_for(user)
    return dashboard.TileValue(
        value=totals.outstanding, unit=pgettext("tile unit", "points"), url=reverse("points:overview"),
        detail=_("{available} available, {held} held; {spent} spent and {expired} expired so far").format(
            available=_grouped(totals.available), held=_grouped(totals.held), spent=_grouped(totals.spent),
            expired=_grouped(totals.expired)))


def _issued(user) -> dashboard.TileValue:
    """Points granted this month, against last month (in full, and up to the same point of the month)."""
    if not _started(user):
        return _empty()
    from citygov.points.queries import issued_between, month_start

    now = timezone.now()
    this_start, last_start = month_start(now), month_start(now, 1)
    this_month = issued_between(user, this_start, now)
    last_month = issued_between(user, last_start, this_start)
    last_same = issued_between(user, last_start, min(last_start + (now - this_start), this_start))
    status = dashboard.STATUS_OK
    if last_same > 0 and this_month < last_same * ISSUED_ALERT_RATIO:
        status = dashboard.STATUS_ALERT
    elif last_same > 0 and this_month < last_same * ISSUED_WARN_RATIO:
        status = dashboard.STATUS_WARN
    return dashboard.TileValue(
        value=this_month, unit=pgettext("tile unit", "points"), status=status,
        url=reverse("points:transfer_list") + "?kind=grant",
        detail=_("Last month: {last} ({same} by this day of the month)").format(
            last=_grouped(last_month), same=_grouped(last_same)))


def _merchants(user) -> dashboard.TileValue:
    """Active merchants with points payment enabled, and their share of all active merchants."""
    if not _started(user):
        return _empty()
    from citygov.points.models import Merchant, MerchantStatus

    counts = Merchant.objects.filter(status=MerchantStatus.ACTIVE).aggregate(
        active=Count("id"), enabled=Count("id", filter=Q(points_enabled=True)))
    if not counts["active"]:
        return dashboard.TileValue(value=0, unit=pgettext("tile unit", "merchants"),
                                   detail=_("No active merchants yet."), status=dashboard.STATUS_WARN,
                                   url=reverse("points:merchant_list"))
    share = counts["enabled"] / counts["active"]
    status = dashboard.STATUS_OK
    if share < ENABLED_ALERT_SHARE:
        status = dashboard.STATUS_ALERT
    elif share < ENABLED_WARN_SHARE:
        status = dashboard.STATUS_WARN
    return dashboard.TileValue(
        value=counts["enabled"], unit=pgettext("tile unit", "merchants"), status=status,
        url=reverse("points:merchant_list") + "?status=active&points_enabled=false",
        # xgettext:no-python-format
        detail=_("{share}% of {active} active merchants").format(share=f"{100 * share:.1f}",
                                                                 active=_grouped(counts["active"])))


def _ledger(user) -> dashboard.TileValue:
    """The ledger auditor's finding: 0 problems, or how many (details on the points overview)."""
    if not _started(user):
        return _empty()
    from citygov.points.queries import recent_ledger_health

    health, _checked_at = recent_ledger_health()
    summary = {"problems": len(health.problems), "accounts": health.accounts_checked,
               "transfers": health.transfers_checked}
    return dashboard.TileValue(
        value=summary["problems"], unit=pgettext("tile unit", "problems"),
        status=dashboard.STATUS_ALERT if summary["problems"] else dashboard.STATUS_OK,
        url=reverse("points:overview") + "#ledger-health",
        detail=_("Balances rebuilt from {transfers} transfers over {accounts} accounts").format(
            transfers=_grouped(summary["transfers"]), accounts=_grouped(summary["accounts"])))


def _yoy(user) -> dashboard.TileValue:
    """Months of the last twelve that fell more than the alert share below the same month a year earlier."""
    from citygov.points import analytics

    if not _started(user):
        return _empty()
    if not analytics.has_activity(user):
        return dashboard.TileValue(value=None, detail=_("No points activity yet."), status=dashboard.STATUS_EMPTY)
    now = timezone.localtime(timezone.now())
    alerts = [m for year in (now.year - 1, now.year) for m in analytics.year_over_year(user, year, now=now).months
              if m.alert and m.month > f"{now.year - 1:04d}-{now.month:02d}"]
    worst = min(alerts, key=lambda m: min(c.change for c in m.changes if c.change is not None), default=None)
    share = round(100 * analytics.yoy_alert_share())
    if worst is None:
        # xgettext:no-python-format
        detail = _("No month of the last twelve fell more than {share}% below the same month a year earlier.").format(
            share=share)
    else:
        change = min(c.change for c in worst.changes if c.change is not None)
        # xgettext:no-python-format
        detail = _("Worst: {month}, {change}% against {previous} (alert beyond −{share}%)").format(
            month=worst.month, change=f"{100 * change:+.0f}", previous=worst.previous_month, share=share)
    return dashboard.TileValue(value=len(alerts), unit=pgettext("tile unit", "months"),
                               status=dashboard.STATUS_ALERT if alerts else dashboard.STATUS_OK,
                               url=reverse("points:analytics") + "#yoy", detail=detail)


def _enablement(user) -> dashboard.TileValue:
    """Share of all merchants with points payment enabled, and the district with the most never enabled."""
    from citygov.points import analytics

    if not _started(user):
        return _empty()
    summary = analytics.merchant_summary()
    if not summary.total:
        return dashboard.TileValue(value=None, detail=_("No merchants yet."), status=dashboard.STATUS_EMPTY)
    share = summary.share or 0.0
    status = dashboard.STATUS_OK
    if share < ENABLED_ALERT_SHARE:
        status = dashboard.STATUS_ALERT
    elif share < ENABLED_WARN_SHARE:
        status = dashboard.STATUS_WARN
    worst = max(summary.districts, key=lambda row: row.never_enabled, default=None)
    detail = _("{enabled} of {total} merchants; {never} never enabled").format(
        enabled=_grouped(summary.enabled), total=_grouped(summary.total), never=_grouped(summary.never_enabled))
    if worst is not None and worst.never_enabled:
        detail += _(", most in {district} ({count})").format(district=worst.name_zh, count=worst.never_enabled)
    return dashboard.TileValue(value=round(100 * share, 2), unit="%", status=status,
                               url=reverse("points:analytics_map"), detail=detail)


def register() -> None:
    """Register the points tiles (visible to roles that may view the points programme)."""
    tiles = (
        ("points.overview", gettext_lazy("Points outstanding"), 60, _outstanding,
         # xgettext:no-python-format
         gettext_lazy("The trust flow was bypassed; 2023 activity fell over 90% unseen; 43.5% of merchants never enabled points payment.")),
        ("points.issued", gettext_lazy("Points issued this month"), 61, _issued,
         gettext_lazy("2023 activity fell more than 90% against 2022 and nobody noticed.")),
        ("points.merchants", gettext_lazy("Merchants with points payment enabled"), 62, _merchants,
         # xgettext:no-python-format
         gettext_lazy("43.5% of merchants never enabled points payment, clustered in 桃園區, 中壢區 and 八德區.")),
        ("points.ledger", gettext_lazy("Points ledger check"), 63, _ledger, ""),
        ("points.yoy", gettext_lazy("Points activity: months below last year"), 64, _yoy,
         gettext_lazy("2023 activity fell more than 90% against 2022 and nobody noticed.")),
        ("points.enablement", gettext_lazy("Merchants with points payment enabled (all)"), 65, _enablement,
         # xgettext:no-python-format
         gettext_lazy("43.5% of merchants never enabled points payment, clustered in 桃園區, 中壢區 and 八德區.")),
    )
    for key, title, order, compute, finding in tiles:
        dashboard.register(dashboard.Tile(key=key, title=title, module=MODULE, order=order, compute=compute,
                                          capability=Capability.VIEW_POINTS, audit_finding=finding))
