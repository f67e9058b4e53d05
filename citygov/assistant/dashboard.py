"""Dashboard tiles of the assistant module: the share of consultations answered in the last 30 days."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from citygov.core import dashboard
from citygov.core.roles import Capability

# An answer rate below this is flagged: most citizens then end up calling 1999 anyway.
WARN_BELOW_PCT = 60.0


def _answered(user) -> dashboard.TileValue:
    from citygov.assistant.queries import rates  # models are ready only after app loading

    figures = rates(since=timezone.now() - dt.timedelta(days=30))
    pct = figures.answered_pct
    if not figures.total or pct is None:
        return dashboard.TileValue(value=None, detail=_("No consultations in the last 30 days."),
                                   status=dashboard.STATUS_EMPTY, url=reverse("assistant:analytics"))
    detail = _("%(total)d consultations in 30 days; %(suggested)s%% suggested, %(handoff)s%% handed off to 1999") % {
        "total": figures.total, "suggested": figures.suggested_pct, "handoff": figures.handed_off_pct}
    status = dashboard.STATUS_OK if pct >= WARN_BELOW_PCT else dashboard.STATUS_WARN
    return dashboard.TileValue(value=pct, unit="%", detail=detail, status=status, url=reverse("assistant:analytics"))


def register() -> None:
    """Register this module's tile (value ``None``, the empty state, while there are no consultations)."""
    dashboard.register(dashboard.Tile(
        key="assistant.overview", title=gettext_lazy("FAQ answers and hand-offs"),
        module=gettext_lazy("Citizen assistant"), order=70, compute=_answered, capability=Capability.VIEW_ASSISTANT,
        audit_finding=gettext_lazy(
            "System logs showed memory problems; answers must improve while protecting personal data."),
    ))
