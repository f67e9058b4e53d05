"""Read-side helpers other apps may call (cross-app calls go through here or services)."""

from __future__ import annotations

from citygov.agencies.engine.address import Location, locate_district
from citygov.agencies.models import District


def locate(address: str) -> Location:
    """The Taoyuan district of a free-text address (or ``unknown`` with the reason)."""
    return locate_district(address)


def district_by_code(code: str | None) -> District | None:
    """The district row with the official town code, or ``None``."""
    if not code:
        return None
    return District.objects.filter(code=code).first()


def all_districts(*, boundaries: bool = True) -> list[District]:
    """Every district in town-code order (for other apps' district maps); ``boundaries=False`` leaves
    out the GeoJSON geometry, which is by far the largest part of a row, when only names are needed."""
    districts = District.objects.order_by("code")
    return list(districts if boundaries else districts.defer("boundary"))
