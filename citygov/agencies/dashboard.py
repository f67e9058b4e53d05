"""Dashboard tiles of the agencies module: how many agencies and districts are loaded."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from citygov.core import dashboard


def _agencies(user) -> dashboard.TileValue:
    from citygov.agencies.models import Agency

    count = Agency.objects.for_agency(user).filter(is_active=True).count()
    return dashboard.TileValue(value=count, unit=str(pgettext_lazy("tile unit", "agencies")), url=reverse("agencies:agency_list"),
                               detail=str(_("Active agencies you can reach")),
                               status=dashboard.STATUS_OK if count else dashboard.STATUS_EMPTY)


def _districts(user) -> dashboard.TileValue:
    from citygov.agencies.models import District

    count = District.objects.count()
    return dashboard.TileValue(value=count, unit=str(pgettext_lazy("tile unit", "districts")), url=reverse("agencies:district_map"),
                               detail=str(_("Taoyuan districts with boundaries")),
                               status=dashboard.STATUS_OK if count else dashboard.STATUS_EMPTY)


def register() -> None:
    """Register the agency and district count tiles."""
    dashboard.register(dashboard.Tile(key="agencies.count", title=_("Agencies"), module=_("Agencies and districts"),
                                      order=10, compute=_agencies))
    dashboard.register(dashboard.Tile(key="agencies.districts", title=_("Districts"),
                                      module=_("Agencies and districts"), order=11, compute=_districts))
