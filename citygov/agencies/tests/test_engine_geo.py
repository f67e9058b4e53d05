"""citygov.agencies.engine.geo on the bundled Taoyuan district boundaries."""

from __future__ import annotations

import pytest

from citygov.agencies import reference
from citygov.agencies.engine.geo import contains, shape_of

CITY_HALL = (121.3010, 24.9934)  # 桃園市政府, 縣府路1號, 桃園區
TAOYUAN_AREA_KM2 = 1217  # official land area (≈1,220.95 km² in some sources; 2% covers both)


@pytest.fixture(scope="module")
def districts():
    return reference.read_districts()


def test_thirteen_districts(districts):
    assert len(districts) == 13
    assert len({d.code for d in districts}) == 13
    assert sorted(d.code for d in districts) == [f"68000{n * 10:03d}" for n in range(1, 14)]


def test_total_area_within_two_percent(districts):
    total = sum(shape_of(d.geometry).area_km2 for d in districts)
    assert abs(total - TAOYUAN_AREA_KM2) / TAOYUAN_AREA_KM2 < 0.02


def test_city_hall_is_in_taoyuan_district_only(districts):
    holders = [d.name_zh for d in districts if contains(d.geometry, *CITY_HALL)]
    assert holders == ["桃園區"]


def test_centroids_lie_in_taoyuan(districts):
    for district in districts:
        shape = shape_of(district.geometry)
        assert 120.9 < shape.centroid_lon < 121.5, district.name_zh
        assert 24.5 < shape.centroid_lat < 25.2, district.name_zh


def test_shape_of_unit_square_at_the_equator():
    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    shape = shape_of(square)
    assert (round(shape.centroid_lon, 9), round(shape.centroid_lat, 9)) == (0.5, 0.5)
    # One degree is about 111.195 km; the projection uses the centroid's latitude (0.5°).
    assert round(shape.area_km2) == 12364


def test_shape_of_square_with_hole_and_multipolygon():
    outer = [[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]]
    hole = [[1, 1], [1, 3], [3, 3], [3, 1], [1, 1]]
    with_hole = shape_of({"type": "Polygon", "coordinates": [outer, hole]})
    full = shape_of({"type": "Polygon", "coordinates": [outer]})
    assert round(with_hole.area_km2 / full.area_km2, 9) == 0.75
    assert (round(with_hole.centroid_lon, 9), round(with_hole.centroid_lat, 9)) == (2.0, 2.0)
    two = shape_of({"type": "MultiPolygon", "coordinates": [[outer], [[[10, 0], [14, 0], [14, 4], [10, 4], [10, 0]]]]})
    assert (round(two.centroid_lon, 9), round(two.centroid_lat, 9)) == (7.0, 2.0)


def test_contains_respects_holes():
    geometry = {"type": "Polygon", "coordinates": [[[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]],
                                                   [[1, 1], [1, 3], [3, 3], [3, 1], [1, 1]]]}
    assert contains(geometry, 0.5, 0.5) is True
    assert contains(geometry, 2, 2) is False
    assert contains(geometry, 5, 5) is False


def test_shape_of_rejects_other_geometry_types():
    with pytest.raises(ValueError, match="unsupported geometry type 'Point'"):
        shape_of({"type": "Point", "coordinates": [0, 0]})
