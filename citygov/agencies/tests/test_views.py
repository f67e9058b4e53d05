"""Agency pages: the list, one agency, the district map and the district GeoJSON."""

from __future__ import annotations

import json

import pytest

from citygov.agencies.models import Agency, District

pytestmark = pytest.mark.django_db


def listed_codes(response) -> list[str]:
    return [row.agency.code for row in response.context["page"]]


@pytest.mark.parametrize("path", ["/agencies/", "/agencies/1/", "/agencies/map/", "/agencies/districts.geojson"])
def test_anonymous_is_sent_to_sign_in(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


def test_agency_admin_lists_own_agency_only(client_for, admin_a, agency_a, agency_b):
    response = client_for(admin_a).get("/agencies/")

    assert response.status_code == 200
    assert listed_codes(response) == ["agency-a"]
    assert "乙局" not in response.content.decode()


def test_agency_admin_lists_sub_agencies_under_their_own(client_for, make_agency, admin_a, agency_a, agency_b):
    make_agency("agency-a-office", "甲局辦公室", parent=agency_a)
    make_agency("agency-b-office", "乙局辦公室", parent=agency_b)

    response = client_for(admin_a).get("/agencies/")

    rows = [(row.agency.code, row.depth, row.parent.code if row.parent else None) for row in response.context["page"]]
    assert rows == [("agency-a", 0, None), ("agency-a-office", 1, "agency-a")]


def test_other_agencys_detail_is_404(client_for, admin_a, agency_b):
    response = client_for(admin_a).get(f"/agencies/{agency_b.pk}/")

    assert response.status_code == 404
    assert "乙局" not in response.content.decode()


def test_missing_agency_detail_is_404(client_for, city_admin):
    assert client_for(city_admin).get("/agencies/999999/").status_code == 404


def test_city_admin_lists_all_reference_agencies(client_for, city_admin, reference_data):
    client = client_for(city_admin)

    first = client.get("/agencies/")
    second = client.get("/agencies/?page=2")

    assert first.context["page"].paginator.count == 100
    codes = listed_codes(first) + listed_codes(second)
    assert sorted(codes) == sorted(Agency.objects.values_list("code", flat=True))
    assert codes[0] == "tycg"


def test_agency_list_is_a_tree(client_for, city_admin, reference_data):
    response = client_for(city_admin).get("/agencies/")

    rows = list(response.context["page"])
    by_code = {row.agency.code: row for row in rows}
    assert rows[0].depth == 0
    # Every non-root row comes after its parent, one level deeper.
    for index, row in enumerate(rows[1:], start=1):
        parent_row = by_code[row.agency.parent.code]
        assert rows.index(parent_row) < index
        assert row.depth == parent_row.depth + 1


def test_agency_list_filters(client_for, city_admin, reference_data):
    client = client_for(city_admin)
    zhongli = District.objects.get(name_zh="中壢區")

    def codes(query: str) -> list[str]:
        response = client.get("/agencies/?" + query)
        assert response.status_code == 200
        return sorted(row.agency.code for row in response.context["page"])

    expected_zhongli = sorted(Agency.objects.filter(district=zhongli).values_list("code", flat=True))
    assert len(expected_zhongli) == 5
    assert codes(f"district={zhongli.pk}") == expected_zhongli
    assert codes("kind=government") == ["tycg"]
    assert codes("q=tycg") == ["tycg"]
    assert codes("q=中壢區公所") == ["do-zhongli"]
    assert codes("q=zhongli district") == ["do-zhongli", "hc-zhongli", "hr-zhongli"]
    assert codes("q=ＴＹＣＧ") == ["tycg"]  # full-width input is folded before matching
    assert len(codes("kind=district_office")) == 13


def test_agency_list_htmx_filter_returns_page_with_results_block(client_for, city_admin, reference_data):
    response = client_for(city_admin).get("/agencies/?kind=government", headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert 'id="agency-results"' in response.content.decode()


def test_agency_detail_shows_fields_children_members_and_map(client_for, make_user, city_admin, reference_data):
    tycg = Agency.objects.get(code="tycg")
    make_user("member", agencies=[tycg])

    response = client_for(city_admin).get(f"/agencies/{tycg.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert response.context["member_count"] == 1
    assert sorted(child.code for child in response.context["children"]) == sorted(
        Agency.objects.filter(parent=tycg).values_list("code", flat=True))
    assert '<dd data-field="member-count">1</dd>' in html
    assert 'data-highlight="68000010"' in html
    assert "/static/vendor/echarts.min.js" in html
    assert "/static/citygov/map.js" in html


def test_agency_detail_hides_unreachable_parent(client_for, make_agency, make_user, agency_a):
    office = make_agency("agency-a-office", "甲局辦公室", parent=agency_a)
    office_admin = make_user("office-admin", agencies=[office])

    response = client_for(office_admin).get(f"/agencies/{office.pk}/")

    assert response.status_code == 200
    assert response.context["parent"] is None
    assert "甲局</a>" not in response.content.decode()


def test_geojson_has_13_districts_with_counts(client_for, city_admin, reference_data):
    response = client_for(city_admin).get("/agencies/districts.geojson")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    assert response["Cache-Control"] == "private, max-age=300"
    data = json.loads(response.content)
    assert data["type"] == "FeatureCollection"
    assert len(data["features"]) == 13
    counts = {f["properties"]["name_zh"]: f["properties"]["agency_count"] for f in data["features"]}
    assert counts["中壢區"] == 5
    assert counts["桃園區"] == Agency.objects.filter(district__name_zh="桃園區").count()
    assert sum(counts.values()) == Agency.objects.filter(district__isnull=False).count()
    taoyuan = next(f for f in data["features"] if f["properties"]["code"] == "68000010")
    assert sorted(taoyuan["properties"]) == ["agency_count", "centroid", "code", "name_en", "name_zh"]
    assert taoyuan["properties"]["name_en"] == "Taoyuan District"
    assert taoyuan["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert len(taoyuan["properties"]["centroid"]) == 2


def test_geojson_counts_only_reachable_agencies(client_for, make_user, reference_data):
    zhongli_office = Agency.objects.get(district__name_zh="中壢區", kind="district_office")
    user = make_user("zhongli-admin", agencies=[zhongli_office])

    data = json.loads(client_for(user).get("/agencies/districts.geojson").content)

    counts = {f["properties"]["name_zh"]: f["properties"]["agency_count"] for f in data["features"]}
    assert len(counts) == 13
    assert sum(counts.values()) == counts["中壢區"] == Agency.objects.for_agency(user).count()


def test_district_map_page_renders_with_vendored_echarts(client_for, city_admin, reference_data):
    response = client_for(city_admin).get("/agencies/map/")

    assert response.status_code == 200
    html = response.content.decode()
    assert '<script src="/static/vendor/echarts.min.js" defer></script>' in html
    assert '<script src="/static/citygov/map.js" defer></script>' in html
    assert 'data-geojson-url="/agencies/districts.geojson"' in html
    assert len(response.context["districts"]) == 13
    assert len(response.context["agencies"]) == 100
    assert response.context["selected_id"] is None


def test_district_map_preselects_reachable_agency_only(client_for, admin_a, agency_a, agency_b):
    client = client_for(admin_a)

    own = client.get(f"/agencies/map/?agency={agency_a.pk}")
    other = client.get(f"/agencies/map/?agency={agency_b.pk}")

    assert own.context["selected_id"] == agency_a.pk
    assert f'<option value="{agency_a.pk}" data-district="" selected>' in own.content.decode()
    assert other.context["selected_id"] is None
    assert "乙局" not in other.content.decode()
