"""Django admin for agencies, districts and memberships (changes are change-logged)."""

from django.contrib import admin

from citygov.agencies.models import Agency, District, Membership
from citygov.core.admin import ChangeLoggedAdmin


@admin.register(Agency)
class AgencyAdmin(ChangeLoggedAdmin):
    """Agencies."""

    list_display = ["code", "name_zh", "name_en", "kind", "district", "security_level", "is_active"]
    list_filter = ["kind", "district", "security_level", "is_active"]
    search_fields = ["code", "name_zh", "name_en"]
    autocomplete_fields = ["parent"]


@admin.register(District)
class DistrictAdmin(ChangeLoggedAdmin):
    """Districts (reference data; boundaries are loaded from GeoJSON)."""

    list_display = ["code", "name_zh", "name_en", "area_km2"]
    readonly_fields = ["boundary", "centroid_lon", "centroid_lat", "area_km2"]


@admin.register(Membership)
class MembershipAdmin(ChangeLoggedAdmin):
    """Which agencies each user belongs to."""

    list_display = ["user", "agency", "created_at"]
    list_filter = ["agency"]
    autocomplete_fields = ["user", "agency"]
