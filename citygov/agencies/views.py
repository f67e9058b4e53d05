"""Agency pages: the list, one agency, the district map and the district GeoJSON the maps draw."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import cache_control

from citygov.agencies.filtersets import AgencyFilterSet
from citygov.agencies.models import Agency, AgencyKind, District
from citygov.core.scoping import can_reach_agency

AGENCY_PAGE_SIZE = 50

# Siblings are listed government → departments → offices → district bodies → schools, as in the org chart.
_KIND_RANK = {kind: rank for rank, kind in enumerate(AgencyKind.values)}


@dataclass(frozen=True)
class TreeRow:
    """One line of the agency list: the agency, its depth under the nearest listed ancestor, and its parent.

    ``parent`` is ``None`` when the user may not reach the parent, so the page never names it.
    """

    agency: Agency
    depth: int
    parent: Agency | None


def _sibling_key(agency: Agency) -> tuple[int, str]:
    return (_KIND_RANK.get(agency.kind, len(_KIND_RANK)), agency.code)


def tree_rows(agencies: Iterable[Agency], user) -> list[TreeRow]:
    """Order ``agencies`` as a tree: each agency followed by its children, depth-first.

    An agency whose parent is not in ``agencies`` (filtered out, or outside the user's scope) starts a new
    root, so a filtered list stays flat and an agency administrator's list starts at their own agency.
    """
    by_id = {agency.pk: agency for agency in agencies}
    children: dict[int, list[Agency]] = defaultdict(list)
    roots = []
    for agency in by_id.values():
        if agency.parent_id in by_id:
            children[agency.parent_id].append(agency)
        else:
            roots.append(agency)
    rows: list[TreeRow] = []
    seen: set[int] = set()

    def visit(start: list[Agency]) -> None:
        # An explicit stack rather than recursion: depth is bounded by the data, not by Python's stack.
        stack = [(agency, 0) for agency in sorted(start, key=_sibling_key, reverse=True)]
        while stack:
            agency, depth = stack.pop()
            if agency.pk in seen:
                continue
            seen.add(agency.pk)
            parent = agency.parent if can_reach_agency(user, agency.parent_id) else None
            rows.append(TreeRow(agency, depth, parent))
            stack.extend((child, depth + 1) for child in sorted(children[agency.pk], key=_sibling_key, reverse=True))

    visit(roots)
    # A parent cycle has no root; services forbid cycles, but such rows must still be listed, not lost.
    visit([agency for agency in by_id.values() if agency.pk not in seen])
    return rows


@login_required
def agency_list(request: HttpRequest) -> HttpResponse:
    """The agencies the user may reach, filtered and shown as a tree, 50 to a page."""
    agencies = Agency.objects.for_agency(request.user).select_related("parent", "district")
    filterset = AgencyFilterSet(request.GET, queryset=agencies, request=request)
    rows = tree_rows(filterset.qs, request.user) if filterset.is_valid() else []
    page = Paginator(rows, AGENCY_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "agencies/agency_list.html", {"filterset": filterset, "page": page})


@login_required
def agency_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One agency with its parent, sub-agencies, member count and district map.

    An agency outside the user's scope is a 404, exactly like one that does not exist.
    """
    agency = get_object_or_404(Agency.objects.for_agency(request.user).select_related("parent", "district"), pk=pk)
    context = {
        "agency": agency,
        "parent": agency.parent if can_reach_agency(request.user, agency.parent_id) else None,
        "children": sorted(Agency.objects.for_agency(request.user).filter(parent=agency).select_related("district"),
                           key=_sibling_key),
        "member_count": agency.memberships.count(),
    }
    return render(request, "agencies/agency_detail.html", context)


def _agency_counts(user) -> dict[int, int]:
    """Active agencies per district id, counting only the agencies ``user`` may reach."""
    rows = (Agency.objects.for_agency(user).filter(is_active=True, district__isnull=False)
            .order_by().values("district_id").annotate(count=Count("id")))
    return {row["district_id"]: row["count"] for row in rows}


@login_required
def district_map(request: HttpRequest) -> HttpResponse:
    """Taoyuan's districts drawn from their boundaries; choosing an agency highlights its district.

    ``?agency=<id>`` preselects an agency; an id outside the user's scope is ignored.
    """
    agencies = list(Agency.objects.for_agency(request.user).select_related("district").order_by("code"))
    requested = request.GET.get("agency", "")
    selected_id = int(requested) if requested.isdigit() else None
    if selected_id not in {agency.pk for agency in agencies}:
        selected_id = None
    counts = _agency_counts(request.user)
    districts = [(district, counts.get(district.pk, 0)) for district in District.objects.order_by("code")]
    return render(request, "agencies/district_map.html",
                  {"agencies": agencies, "selected_id": selected_id, "districts": districts})


@login_required
@cache_control(private=True, max_age=300)
def districts_geojson(request: HttpRequest) -> JsonResponse:
    """The districts as a GeoJSON FeatureCollection, each with the number of agencies the user may reach.

    Private caching only: the counts depend on who asks.
    """
    counts = _agency_counts(request.user)
    features = [
        {
            "type": "Feature",
            "id": district.code,
            "properties": {
                "code": district.code,
                "name_zh": district.name_zh,
                "name_en": district.name_en,
                "agency_count": counts.get(district.pk, 0),
                "centroid": [district.centroid_lon, district.centroid_lat],
            },
            "geometry": district.boundary,
        }
        for district in District.objects.order_by("code")
    ]
    return JsonResponse({"type": "FeatureCollection", "features": features}, content_type="application/geo+json",
                        json_dumps_params={"ensure_ascii": False})
