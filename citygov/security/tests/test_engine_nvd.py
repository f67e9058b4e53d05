import json

import pytest

from citygov.security.engine.nvd import (
    NvdFormatError,
    iter_cpe_api2,
    iter_cpematch_api2,
    iter_cve_records,
    iter_xml_dictionary,
)
from citygov.security.tests.support import DATA


def test_xml_dictionary_streams_items_with_23_names():
    with (DATA / "cpe-dictionary-excerpt.xml").open("rb") as handle:
        entries = list(iter_xml_dictionary(handle))
    assert len(entries) == 8
    assert entries[0].cpe == "cpe:2.3:a:\\$0.99_kindle_books_project:\\$0.99_kindle_books:6:*:*:*:*:android:*:*"
    assert entries[0].title.startswith("$0.99 Kindle Books project")
    assert sum(e.deprecated for e in entries) == 2
    assert any("notepad\\+\\+" in e.cpe for e in entries)


def test_xml_dictionary_rejects_other_xml(tmp_path):
    path = tmp_path / "other.xml"
    path.write_text("<rss><channel/></rss>", encoding="utf-8")
    with path.open("rb") as handle, pytest.raises(NvdFormatError):
        list(iter_xml_dictionary(handle))


def test_xml_entity_expansion_is_refused(tmp_path):
    path = tmp_path / "bomb.xml"
    path.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]>'
                    '<cpe-list>&b;</cpe-list>', encoding="utf-8")
    with path.open("rb") as handle, pytest.raises(Exception, match="Entit"):
        list(iter_xml_dictionary(handle))


def test_cpe_api2_products():
    entries = list(iter_cpe_api2(json.loads((DATA / "nvd_cpe_api2_example.json").read_text())))
    assert [(e.cpe, e.title, e.deprecated) for e in entries] == [
        ("cpe:2.3:a:notepad-plus-plus:notepad\\+\\+:8.6.2:*:*:*:*:*:*:*", "Notepad++ 8.6.2", False),
        ("cpe:2.3:a:foxitsoftware:foxit_reader:9.7.0:*:*:*:*:*:*:*", "Foxit Reader 9.7.0", True),
    ]


def test_cpematch_api2_criteria_and_matches():
    [(criterion, matches)] = list(iter_cpematch_api2(json.loads((DATA / "nvd_cpematch_api2_sample.json").read_text())))
    assert criterion.criteria == "cpe:2.3:a:rarlab:winrar:*:*:*:*:*:*:*:*"
    assert criterion.end_excluding == "6.23"
    assert criterion.criteria_id == "A586AE4C-6F08-4E96-B74C-AA0A7BF4F2DD"
    assert len(matches) == 29
    assert matches[0] == "cpe:2.3:a:rarlab:winrar:-:*:*:*:*:*:*:*"


def test_cve_api2_records_including_awaiting_analysis():
    records = list(iter_cve_records(json.loads((DATA / "nvd_cve_api2_samples.json").read_text())))
    assert [r.id for r in records] == ["CVE-2023-38831", "CVE-2024-31497", "CVE-2024-8695", "CVE-2024-43590",
                                       "CVE-2024-24691"]
    winrar = records[0]
    assert winrar.cvss3 == 7.8
    assert winrar.awaiting_analysis is False
    assert winrar.configurations[0].nodes[0].criteria[0].end_excluding == "6.23"
    assert [r.awaiting_analysis for r in records[1:]] == [True, True, True, True]
    assert records[1].status == "Awaiting Analysis"


def test_cve_feed_11_records():
    records = list(iter_cve_records(json.loads((DATA / "nvdcve-1.1-modified-excerpt.json").read_text())))
    assert len(records) == 11
    assert sum(r.awaiting_analysis for r in records) == 3
    nested = [r for r in records if r.configurations and r.configurations[0].nodes[0].children]
    assert len(nested) == 2
    assert nested[0].configurations[0].nodes[0].operator == "AND"


def test_unknown_document_is_refused():
    with pytest.raises(NvdFormatError):
        list(iter_cve_records({"items": []}))
    with pytest.raises(NvdFormatError):
        list(iter_cpe_api2({}))
