"""Filters for agency lists, shared by the agency pages and the REST API."""

from __future__ import annotations

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from citygov.agencies.models import Agency, AgencyKind, District, SecurityLevel
from citygov.core.text.normalize import normalize


def _reachable_agencies(request):
    """Parents on offer are only the agencies the requesting user may reach."""
    if request is None:
        return Agency.objects.none()
    return Agency.objects.for_agency(request.user).order_by("code")


class AgencyFilterSet(django_filters.FilterSet):
    """Filter agencies by kind, district, parent and security level, and search code and names."""

    q = django_filters.CharFilter(label=_("Search"), method="search")
    kind = django_filters.ChoiceFilter(label=_("Kind"), choices=AgencyKind.choices, empty_label=_("All"))
    district = django_filters.ModelChoiceFilter(label=_("District"), queryset=District.objects.order_by("code"),
                                                empty_label=_("All"))
    parent = django_filters.ModelChoiceFilter(label=_("Parent agency"), queryset=_reachable_agencies,
                                              empty_label=_("All"))
    security_level = django_filters.ChoiceFilter(label=_("Security level"), choices=SecurityLevel.choices,
                                                 empty_label=_("All"))

    class Meta:
        model = Agency
        fields = ["q", "kind", "district", "parent", "security_level"]

    def search(self, queryset, name, value):
        """Case-insensitive substring match on the code and both names.

        The query is NFKC-folded first, so full-width input (ＩＴ, a U+3000 space) matches stored text.
        """
        value = normalize(value)
        if not value:
            return queryset
        return queryset.filter(Q(code__icontains=value) | Q(name_zh__icontains=value) | Q(name_en__icontains=value))
