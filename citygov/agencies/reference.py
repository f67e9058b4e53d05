"""Read the bundled Taoyuan reference files (districts GeoJSON, agencies CSV) into plain records."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

DATA_PACKAGE = "citygov.agencies"
DISTRICTS_FILE = "taoyuan-districts.geojson"
AGENCIES_FILE = "taoyuan-agencies.csv"


@dataclass(frozen=True)
class DistrictRecord:
    code: str
    town_id: str
    name_zh: str
    name_en: str
    geometry: dict


@dataclass(frozen=True)
class AgencyRecord:
    line: int
    code: str
    name_zh: str
    name_en: str
    parent_code: str
    kind: str
    district: str
    security_level: str
    note: str


def data_path(name: str) -> Path:
    return Path(str(resources.files(DATA_PACKAGE).joinpath("data", name)))


def read_districts(path: Path | None = None) -> list[DistrictRecord]:
    """The districts in a GeoJSON FeatureCollection with ``town_code``/``name_zh``/``name_en`` properties."""
    path = path or data_path(DISTRICTS_FILE)
    with open(path, encoding="utf-8") as handle:
        collection = json.load(handle)
    records = []
    for feature in collection["features"]:
        props = feature["properties"]
        records.append(DistrictRecord(code=props["town_code"], town_id=props.get("town_id", ""),
                                      name_zh=props["name_zh"], name_en=props["name_en"],
                                      geometry=feature["geometry"]))
    return records


def read_agencies(path: Path | None = None) -> list[AgencyRecord]:
    """The agencies CSV rows, in file order (parents come before children in the bundled file)."""
    path = path or data_path(AGENCIES_FILE)
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        return [
            AgencyRecord(line=reader.line_num, code=row["code"].strip(), name_zh=row["name_zh"].strip(),
                         name_en=row["name_en"].strip(), parent_code=row["parent_code"].strip(),
                         kind=row["kind"].strip(), district=row["district"].strip(),
                         security_level=row["security_level"].strip(), note=row["note"].strip())
            for row in reader
        ]
