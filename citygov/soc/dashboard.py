"""Dashboard tiles of the soc module, computed for the signed-in user (agency users see their own
agencies' alerts and actions). Until the user can see an alert or a case, the tiles show the empty
state with the audit finding."""

from __future__ import annotations

from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from citygov.core import dashboard
from citygov.core.roles import Capability

MODULE = gettext_lazy("Security operations")
# A high-severity share above this turns the alert tile amber (the audit counted 1.63%).
HIGH_SHARE_WARN = 0.05


def _empty() -> dashboard.TileValue:
    return dashboard.TileValue(value=None, detail=_("No SOC alerts or cases yet: import an alert file to start."),
                               status=dashboard.STATUS_EMPTY)


def _alerts(user) -> dashboard.TileValue:
    """Alerts in the user's scope, with the medium/high split."""
    from django.db.models import Sum

    from citygov.soc.models import AlertDaily
    from citygov.soc.queries import AlertFilter, _rollup

    # From the daily roll-up (one small query), not a count over every alert.
    counts = dict(_rollup(AlertDaily, user, AlertFilter(), dated=True).values_list("severity").annotate(
        n=Sum("count")))
    total = sum(counts.values())
    if not total:
        return _empty()
    high, medium = counts.get("high", 0), counts.get("medium", 0)
    status = dashboard.STATUS_WARN if high / total > HIGH_SHARE_WARN else dashboard.STATUS_OK
    return dashboard.TileValue(
        value=total, unit=_("alerts"), status=status, url=reverse("soc:overview"),
        # xgettext:no-python-format
        detail=_("High {high} ({high_share}%), medium {medium} ({medium_share}%)").format(
            high=number_format(high, force_grouping=True), high_share=f"{100 * high / total:.2f}",
            medium=number_format(medium, force_grouping=True), medium_share=f"{100 * medium / total:.2f}"))


def _follow_up(user) -> dashboard.TileValue:
    """Overdue follow-up actions of forensic cases in the user's scope."""
    from citygov.soc.models import FollowUpAction
    from citygov.soc.queries import overdue_actions

    total = FollowUpAction.objects.for_agency(user).count()
    if not total:
        return _empty()
    overdue = overdue_actions(user).count()
    return dashboard.TileValue(
        value=overdue, unit=_("overdue"), status=dashboard.STATUS_ALERT if overdue else dashboard.STATUS_OK,
        url=reverse("soc:action_list") + "?state=overdue",
        detail=_("of {total} follow-up actions from forensic reports").format(total=total))


def _incidents(user) -> dashboard.TileValue:
    """Open incidents in the user's scope with an overdue legal clock."""
    from citygov.soc.engine.clocks import OVERDUE
    from citygov.soc.queries import incident_rows, incidents_for

    if not incidents_for(user).exists():
        return _empty()  # no incident recorded yet: the module's empty state, like the other tiles
    rows = incident_rows(user, open_only=True)
    if not rows:
        return dashboard.TileValue(value=0, unit=_("overdue"), status=dashboard.STATUS_OK,
                                   url=reverse("soc:incident_list"), detail=_("No open incidents."))
    overdue = sum(1 for row in rows if row.state == OVERDUE)
    return dashboard.TileValue(
        value=overdue, unit=_("overdue"), status=dashboard.STATUS_ALERT if overdue else dashboard.STATUS_OK,
        url=reverse("soc:incident_list") + "?state=overdue",
        detail=_("of {total} open incidents").format(
            total=len(rows)))


def register() -> None:
    """Register the soc tiles (visible to roles that may view the SOC module)."""
    dashboard.register(dashboard.Tile(
        key="soc.overview", title=gettext_lazy("SOC alerts with tracked follow-up"), module=MODULE, order=30,
        compute=_alerts, capability=Capability.VIEW_SOC,
        audit_finding=gettext_lazy("4,611 SOC alerts by end of 2024 with no trend analysis and no follow-up "
                                   "tracking of forensic reports.")))
    dashboard.register(dashboard.Tile(
        key="soc.follow_up", title=gettext_lazy("Overdue forensic follow-up actions"), module=MODULE, order=31,
        compute=_follow_up, capability=Capability.VIEW_SOC,
        audit_finding=gettext_lazy("Forensic reports' recommendations had no follow-up tracking mechanism.")))
    dashboard.register(dashboard.Tile(
        key="soc.incidents", title=gettext_lazy("Incidents past a legal deadline"), module=MODULE, order=32,
        compute=_incidents, capability=Capability.VIEW_SOC,
        audit_finding=gettext_lazy("Taiwan's incident rules set notification, recovery and report deadlines.")))
