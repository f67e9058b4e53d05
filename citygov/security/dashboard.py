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


def backup_tile(user) -> dashboard.TileValue:
    """Active core systems with tested off-site backup, "X of Y" (None — the empty state — without systems)."""
    from citygov.security.queries import backup_coverage, system_rows

    coverage = backup_coverage(system_rows(user))
    if not coverage.total:
        return dashboard.TileValue(value=None, detail=_("No core information system has been recorded yet."),
                                   status=dashboard.STATUS_EMPTY)
    share = coverage.tested / coverage.total
    status = dashboard.STATUS_OK if share == 1 else dashboard.STATUS_WARN if share >= 0.5 else dashboard.STATUS_ALERT
    return dashboard.TileValue(value=coverage.tested, unit=f"/ {coverage.total}", status=status,
                               url=reverse("security:systems"),
                               detail=_("core systems with tested off-site backup (%(offsite)d with off-site backup)")
                               % {"offsite": coverage.offsite})


def warranty_tile(user) -> dashboard.TileValue:
    """Systems whose warranty expired and that went unpatched too long (None without systems)."""
    from citygov.security.queries import system_rows

    rows = [r for r in system_rows(user) if r.system.status == "active"]
    if not rows:
        return dashboard.TileValue(value=None, detail=_("No core information system has been recorded yet."),
                                   status=dashboard.STATUS_EMPTY)
    flagged = sum(1 for r in rows if r.warranty is not None)
    return dashboard.TileValue(value=flagged, unit=f"/ {len(rows)}",
                               status=dashboard.STATUS_ALERT if flagged else dashboard.STATUS_OK,
                               url=reverse("security:systems"),
                               detail=_("active systems with an expired warranty and no recent patch"))


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
    dashboard.register(dashboard.Tile(
        key="security.backup",
        title=gettext_lazy("Core systems with tested off-site backup"),
        module=gettext_lazy("Security posture"),
        order=21,
        compute=backup_tile,
        capability="security.view",
        audit_finding=gettext_lazy("By the end of 2023 only the official website had off-site backup among the "
                                   "city's core systems."),
    ))
    dashboard.register(dashboard.Tile(
        key="security.warranty",
        title=gettext_lazy("Expired warranties without patches"),
        module=gettext_lazy("Security posture"),
        order=22,
        compute=warranty_tile,
        capability="security.view",
        audit_finding=gettext_lazy("A platform whose software warranty had expired received no vulnerability "
                                   "patches."),
    ))
