"""Dashboard tiles of the security module."""

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from citygov.core import dashboard


def identification_tile(user) -> dashboard.TileValue:
    """Share of installed software identified to an NVD product (None — the empty state — without data)."""
    from citygov.security.queries import identification_totals

    named, total = identification_totals(user)
    if not total:
        return dashboard.TileValue(value=None, detail=_("No software inventory has been imported yet."),
                                   status=dashboard.STATUS_EMPTY)
    rate = named / total * 100
    status = dashboard.STATUS_OK if rate >= 95 else dashboard.STATUS_WARN if rate >= 80 else dashboard.STATUS_ALERT
    return dashboard.TileValue(value=round(rate, 1), unit="%", status=status, url=reverse("security:overview"),
                               detail=_("%(unidentified)d of %(total)d installed programs not identified")
                               % {"unidentified": total - named, "total": total})


def register() -> None:
    """Register this module's tiles."""
    dashboard.register(dashboard.Tile(
        key="security.overview",
        title=gettext_lazy("IT assets identified to CPE"),
        module=gettext_lazy("Security posture"),
        order=20,
        compute=identification_tile,
        capability="security.view",
        audit_finding=gettext_lazy("Too many assets were 'not identified (name match N/A)'; by end of 2023 only the official website had off-site backup."),
    ))
