"""Plane geometry on GeoJSON polygons, enough for district centroids, areas and point lookup.

Pure Python: no Django. Coordinates are WGS84 longitude/latitude; areas use a local equirectangular
projection, accurate to well under 1% at a city's scale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

EARTH_RADIUS_KM = 6371.0088

Ring = Sequence[Sequence[float]]


@dataclass(frozen=True)
class Shape:
    """Centroid (lon, lat) and area of a polygon or multipolygon."""

    centroid_lon: float
    centroid_lat: float
    area_km2: float


def _polygons(geometry: dict) -> list[list[Ring]]:
    kind = geometry.get("type")
    if kind == "Polygon":
        return [geometry["coordinates"]]
    if kind == "MultiPolygon":
        return list(geometry["coordinates"])
    raise ValueError(f"unsupported geometry type {kind!r}: expected Polygon or MultiPolygon")


def _ring_area_centroid(ring: Ring) -> tuple[float, float, float]:
    """Signed area (degrees²) and centroid of a ring, by the shoelace formula."""
    area2 = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(ring, list(ring[1:]) + [ring[0]], strict=True):
        cross = x0 * y1 - x1 * y0
        area2 += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if area2 == 0:
        return 0.0, ring[0][0], ring[0][1]
    return area2 / 2, cx / (3 * area2), cy / (3 * area2)


def shape_of(geometry: dict) -> Shape:
    """Area-weighted centroid and area of a GeoJSON (Multi)Polygon; holes are subtracted.

    >>> s = shape_of({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]})
    >>> (round(s.centroid_lon, 3), round(s.centroid_lat, 3))
    (0.5, 0.5)
    """
    total = sx = sy = 0.0
    for polygon in _polygons(geometry):
        for index, ring in enumerate(polygon):
            area, cx, cy = _ring_area_centroid(ring)
            area = abs(area) if index == 0 else -abs(area)
            total += area
            sx += cx * area
            sy += cy * area
    if total == 0:
        raise ValueError("geometry has no area")
    lon, lat = sx / total, sy / total
    km_per_deg_lat = math.pi * EARTH_RADIUS_KM / 180
    km_per_deg_lon = km_per_deg_lat * math.cos(math.radians(lat))
    return Shape(centroid_lon=lon, centroid_lat=lat, area_km2=abs(total) * km_per_deg_lat * km_per_deg_lon)


def _in_ring(lon: float, lat: float, ring: Ring) -> bool:
    inside = False
    for (x0, y0), (x1, y1) in zip(ring, list(ring[1:]) + [ring[0]], strict=True):
        if (y0 > lat) != (y1 > lat):
            x_cross = x0 + (lat - y0) * (x1 - x0) / (y1 - y0)
            if lon < x_cross:
                inside = not inside
    return inside


def contains(geometry: dict, lon: float, lat: float) -> bool:
    """Whether the point lies inside the (Multi)Polygon (even-odd rule, holes excluded)."""
    for polygon in _polygons(geometry):
        if _in_ring(lon, lat, polygon[0]) and not any(_in_ring(lon, lat, hole) for hole in polygon[1:]):
            return True
    return False
