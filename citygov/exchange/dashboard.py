"""Dashboard tiles of the exchange module, computed for the signed-in user.

One tile: the services the user's agencies provide over the exchange, with the last 30 days' requests
and error rate from the imported transfer records. Empty state until one of the user's agencies is a
member providing a service.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from citygov.core import dashboard
from citygov.core.roles import Capability

MODULE = gettext_lazy("Data exchange")
# An error share above these turns the tile amber / red.
ERROR_WARN_SHARE = 0.05
ERROR_ALERT_SHARE = 0.2


def _services(user) -> dashboard.TileValue:
    """Services provided, with the last 30 days' traffic."""
    from citygov.exchange.queries import services_for, traffic_stats

    count = services_for(user).count()
    if not count:
        return dashboard.TileValue(value=None, detail=_("No exchange services registered yet."),
                                   status=dashboard.STATUS_EMPTY)
    stats = [s for s in traffic_stats(user) if s.side == "provider"] or traffic_stats(user)
    requests = sum(s.count for s in stats)
    errors = sum(s.errors for s in stats)
    share = errors / requests if requests else 0.0
    status = (dashboard.STATUS_ALERT if share > ERROR_ALERT_SHARE else
              dashboard.STATUS_WARN if share > ERROR_WARN_SHARE else dashboard.STATUS_OK)
    return dashboard.TileValue(
        value=count, unit=pgettext("tile unit", "services"), url=reverse("exchange:overview"), status=status,
        detail=_("{requests} requests in the last 30 days, {errors} failed ({share:.1%})").format(
            requests=requests, errors=errors, share=share))


def register() -> None:
    """Register this module's tiles."""
    dashboard.register(dashboard.Tile(
        key="exchange.overview", title=gettext_lazy("Inter-agency exchange services"), module=MODULE, order=50,
        compute=_services, capability=Capability.VIEW_EXCHANGE,
        audit_finding=gettext_lazy("Adopting T-Road was recommended for secure, private data transport between "
                                   "agencies.")))
