"""DCAT-AP 3 JSON-LD: the engine reads compacted and expanded nodes; the import service takes the file."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest

from citygov.core.errors import InvalidInput
from citygov.datagov.engine import catalog, dcat
from citygov.datagov.models import Dataset
from citygov.datagov.services import do_import_catalog

EU = "http://publications.europa.eu/resource/authority/frequency/"
# Written for these tests in the DCAT-AP 3 shape (no real DCAT-AP export of a Taiwanese portal is stored).
DOCUMENT = {
    "@context": {"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/",
                 "foaf": "http://xmlns.com/foaf/0.1/", "vcard": "http://www.w3.org/2006/vcard/ns#"},
    "@graph": [
        {"@id": "https://data.tycg.gov.tw/org/land", "@type": "foaf:Agent", "foaf:name": "桃園市政府地政局"},
        {"@id": "https://data.tycg.gov.tw/catalog", "@type": "dcat:Catalog", "dct:title": "桃園市資料目錄",
         "dcat:dataset": [
             {"@id": "https://data.tycg.gov.tw/dataset/land-1", "@type": "dcat:Dataset", "dct:identifier": "land-1",
              "dct:title": [{"@value": "Land prices", "@language": "en"}, {"@value": "公告地價", "@language": "zh-Hant"}],
              "dct:description": "各地段公告地價", "dct:publisher": {"@id": "https://data.tycg.gov.tw/org/land"},
              "dct:accrualPeriodicity": {"@id": EU + "ANNUAL"}, "dct:modified": "2026-01-05T09:00:00+08:00",
              "dct:issued": "2017-03-01", "dcat:keyword": ["地價", "公告地價"],
              "dcat:theme": {"@id": "http://publications.europa.eu/resource/authority/data-theme/ECON"},
              "dcat:contactPoint": {"@type": "vcard:Kind", "vcard:fn": "地價科",
                                    "vcard:hasEmail": {"@id": "mailto:land@example.gov.tw"}},
              "dcat:distribution": [
                  {"@type": "dcat:Distribution", "dcat:downloadURL": {"@id": "https://x/land.csv"},
                   "dct:format": {"@id": "http://publications.europa.eu/resource/authority/file-type/CSV"},
                   "dct:modified": "2026-01-04T00:00:00+08:00"},
                  {"@type": "dcat:Distribution", "dcat:accessURL": {"@id": "https://x/land.shp"},
                   "dct:format": "SHP", "dct:modified": "2025-12-01"}]},
             {"@type": "dcat:Dataset", "dct:identifier": "no-title"},
         ]},
        {"@id": "https://data.tycg.gov.tw/dataset/flood",
         "@type": ["http://www.w3.org/ns/dcat#Dataset"],
         "http://purl.org/dc/terms/identifier": [{"@value": "flood-7"}],
         "http://purl.org/dc/terms/title": [{"@value": "淹水潛勢圖"}],
         "http://purl.org/dc/terms/accrualPeriodicity": [{"@id": EU + "IRREG"}],
         "http://purl.org/dc/terms/publisher": [{"http://xmlns.com/foaf/0.1/name": [{"@value": "水務局"}]}]},
    ],
}


def test_read_compacted_and_expanded_nodes():
    entries, errors = dcat.read_jsonld(json.dumps(DOCUMENT, ensure_ascii=False).encode())
    assert [(e.line, e.message) for e in errors] == [(2, "dataset without identifier or title")]
    land, flood = entries
    assert (land.source_id, land.title, land.agency_name) == ("land-1", "公告地價", "桃園市政府地政局")
    assert land.frequency_text == EU + "ANNUAL"
    assert land.metadata_updated == dt.datetime(2026, 1, 5, 9, tzinfo=catalog.TAIPEI)
    assert land.data_updated == dt.datetime(2026, 1, 4, tzinfo=catalog.TAIPEI)
    assert [(r.url, r.format) for r in land.resources] == [("https://x/land.csv", "CSV"), ("https://x/land.shp", "SHP")]
    assert (land.spatial, land.layer_type, land.category) == (True, "SHP", "ECON")
    assert (land.contact_name, land.contact_email, land.keywords) == ("地價科", "land@example.gov.tw", ("地價", "公告地價"))
    assert (flood.source_id, flood.title, flood.agency_name, flood.frequency_text) == (
        "flood-7", "淹水潛勢圖", "水務局", EU + "IRREG")


@pytest.mark.parametrize("data", [b"{not json", b'{"@graph": []}', b"[]"])
def test_unreadable_documents(data):
    with pytest.raises(catalog.CatalogError):
        dcat.read_jsonld(data)


def test_import_jsonld_file(reference_data, city_admin):
    data = b"\xef\xbb\xbf\n" + json.dumps(DOCUMENT, ensure_ascii=False).encode()
    result = do_import_catalog(city_admin, io.BytesIO(data), "catalog.jsonld")
    assert (result.layout, result.run.created, result.run.rejected, result.run.source) == ("dcat_jsonld", 2, 1, "dcat")
    land = Dataset.objects.get(source_id="land-1")
    assert (land.agency.code, land.frequency_class, land.frequency_interval, land.frequency_eu_code) == (
        "land", "periodic", "P1Y", "ANNUAL")
    flood = Dataset.objects.get(source_id="flood-7")
    assert (flood.agency.code, flood.frequency_class) == ("water", "irregular")
    again = do_import_catalog(city_admin, io.BytesIO(data), "catalog.jsonld")
    assert (again.run.created, again.run.unchanged) == (0, 2)
    with pytest.raises(InvalidInput) as info:
        do_import_catalog(city_admin, io.BytesIO(b'{"@graph": [{"@type": "dcat:Catalog"}]}'), "empty.jsonld")
    assert "沒有 dcat:Dataset" in info.value.message
    assert Dataset.objects.count() == 2
