"""Dashboard tiles of the datagov module, computed for the signed-in user.

The overdue tile counts the datasets of the user's agencies (all for city-wide roles) that are overdue
against their declared update frequency now. Until the catalogue holds a dataset of those agencies the
tile shows the empty state with the audit finding.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from citygov.core import dashboard
from citygov.core.roles import Capability

MODULE = gettext_lazy("Data governance")
# Share of datasets with a regular frequency that are overdue, above which the tile turns amber / red.
OVERDUE_WARN_SHARE = 0.1
OVERDUE_ALERT_SHARE = 0.3


def _overdue(user) -> dashboard.TileValue:
    from citygov.datagov import queries
    from citygov.datagov.engine import freshness as fr
    from citygov.datagov.models import Dataset

    if not Dataset.objects.for_agency(user).exists():
        return dashboard.TileValue(value=None, detail=_("No datasets in the catalogue yet."),
                                   status=dashboard.STATUS_EMPTY)
    summary = queries.summary(queries.freshness_for(user))
    evaluated = summary[fr.OVERDUE] + summary[fr.ON_TIME]
    share = summary[fr.OVERDUE] / evaluated if evaluated else 0.0
    status = dashboard.STATUS_OK
    if share > OVERDUE_ALERT_SHARE:
        status = dashboard.STATUS_ALERT
    elif share > OVERDUE_WARN_SHARE:
        status = dashboard.STATUS_WARN
    return dashboard.TileValue(
        value=summary[fr.OVERDUE], unit=pgettext("tile unit", "datasets"), status=status,
        url=reverse("datagov:overdue"),
        detail=_("of {evaluated} with a regular frequency; {stale} irregular ones stale, {unreadable} frequencies "
                 "not understood").format(evaluated=evaluated, stale=summary[fr.STALE],
                                          unreadable=summary[fr.UNREADABLE]))


def register() -> None:
    """Register this module's tiles (visible to roles that may view the catalogue)."""
    dashboard.register(dashboard.Tile(
        key="datagov.overview", title=gettext_lazy("Datasets overdue for update"), module=MODULE, order=40,
        compute=_overdue, capability=Capability.VIEW_DATAGOV,
        audit_finding=gettext_lazy("NT$89 million spent on big-data platforms that were never integrated; "
                                   "cross-agency sharing still hard.")))
