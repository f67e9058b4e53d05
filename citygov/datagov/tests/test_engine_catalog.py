"""Reading catalogue exports (pure engine): encodings, layouts, bad rows by line, unreadable files."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from citygov.datagov.engine import catalog
from citygov.datagov.tests.support import SAMPLE, datagovtw_csv, datagovtw_row, sample_text


def _read(data: bytes):
    reader = catalog.CatalogReader(io.BytesIO(data))
    rows = list(reader)
    return reader.header, [e for e, _ in rows if e], [err for _, err in rows if err]


def test_sample_utf8_bom_with_embedded_newlines_and_doubled_quotes():
    header, entries, errors = _read(SAMPLE.read_bytes())
    assert (header.encoding, header.layout, len(header.columns)) == ("utf-8-sig", "city_portal", 29)
    assert (len(entries), errors) == (36, [])
    first = entries[0]
    assert (first.source_id, first.title, first.agency_code, first.agency_name) == (
        "1", "桃園市臨時暨短期照顧服務之服務單位", "380120000J", "社會局")
    assert first.frequency_text == "不定期"
    assert first.data_updated == dt.datetime(2018, 4, 13, 11, 11, 59, tzinfo=catalog.TAIPEI)
    assert first.category == "生活安全及品質"
    assert first.fields[0] == catalog.Field("委辦單位", "臨時及短期照顧服務服務單位")
    assert len(first.fields) == 5
    # 主要欄位說明 of dataset 3 is three lines inside one quoted cell
    assert [f.name for f in next(e for e in entries if e.source_id == "3").fields][:2] == [
        "機關名稱：桃園市政府青年事務局", "地址：桃園市中壢區環北路390號"]
    assert next(e for e in entries if e.source_id == "33").keywords == ("桃園市", "就醫", "衛生所", "衛生局")
    assert not any('"' in k for e in entries for k in e.keywords)


def test_big5_file_reads_the_same():
    header, entries, errors = _read(sample_text().encode("cp950", errors="replace"))
    utf8 = _read(SAMPLE.read_bytes())[1]
    assert (header.encoding, len(entries), errors) == ("cp950", 36, [])
    assert [e.title for e in entries][:10] == [e.title for e in utf8][:10]


def test_truncated_row_is_reported_by_line_and_the_rest_is_read():
    lines = sample_text().split("\r\n")
    lines[1] = ",".join(lines[1].split(",")[:10])  # the first data row cut after 10 cells
    header, entries, errors = _read("\r\n".join(lines).encode("utf-8"))
    assert len(entries) == 35
    assert [(e.line, e.message) for e in errors] == [(2, "expected 29 cells, found 10 (truncated row?)")]


def test_bad_date_and_duplicate_identifier_are_row_errors():
    text = sample_text()
    text = text.replace("2018-04-13 11:11:59", "昨天", 1)
    lines = text.split("\r\n")
    lines.insert(3, lines[2])  # the second data row, twice (no embedded newlines before it)
    header, entries, errors = _read("\r\n".join(lines).encode("utf-8"))
    assert [e.line for e in errors] == [2, 4]
    assert errors[0].message == "unreadable value: 昨天"
    assert errors[1].message.startswith("identifier 2 repeats line 3")


def test_file_cut_inside_a_quoted_cell_is_unreadable():
    broken = SAMPLE.read_bytes() + '99,"未結束的儲存格\r\n還在引號裡'.encode()
    with pytest.raises(catalog.CatalogError) as info:
        _read(broken)
    assert info.value.message == "Line 75: the file ends inside a quoted cell (truncated file?)."
    assert "不完整" in info.value.message_zh


def test_mixed_encoding_part_way_is_unreadable():
    data = SAMPLE.read_bytes() + "1000,壞掉的列".encode("cp950") + b"\r\n"
    with pytest.raises(catalog.CatalogError) as info:
        _read(data)
    assert "not valid utf-8-sig" in info.value.message
    assert info.value.line == 75


def test_missing_columns_are_named():
    text = sample_text().replace("最後更新時間", "更新時間", 1)
    with pytest.raises(catalog.CatalogError) as info:
        _read(text.encode("utf-8"))
    assert info.value.message == "Missing columns: 最後更新時間."
    assert info.value.message_zh == "缺少欄位：最後更新時間。"


def test_empty_and_binary_files():
    with pytest.raises(catalog.CatalogError):
        _read(b"")
    with pytest.raises(catalog.CatalogError):
        _read(bytes(range(128, 256)) * 4)


def test_datagovtw_layout_with_aligned_resources():
    data = datagovtw_csv([
        datagovtw_row(資料集識別碼="6564", 資料集名稱="政府資料開放平臺資料集清單", 服務分類="公共資訊",
                      檔案格式="CSV;JSON;XML",
                      資料下載網址="https://data.gov.tw/a.csv;https://data.gov.tw/a.json;https://data.gov.tw/a.xml",
                      編碼格式="UTF-8;UTF-8;UTF-8", 資料量="1;2;3", 資資料集上架方式="系統介接程式",
                      主要欄位說明="Capacity(有效容量,單位為萬立方公尺);DWL(呆水位,單位為公尺)",
                      提供機關="數位發展部", 更新頻率="每1日", 上架日期="2013-04-25 00:00:00",
                      詮釋資料更新時間="2026-08-22 01:00:00"),
        datagovtw_row(資料集識別碼="7000", 資料集名稱="地政資料", 檔案格式="SHP;CSV", 資料下載網址="https://x/a.zip",
                      提供機關="桃園市政府地政局", 更新頻率="每季", 詮釋資料更新時間="2026-01-01"),
    ])
    header, entries, errors = _read(data)
    assert (header.layout, header.encoding) == ("data_gov_tw", "utf-8-sig")
    assert [e.line for e in errors] == [3]
    assert errors[0].message == "unreadable value: 1 download URLs but 2 formats"
    entry = entries[0]
    assert [(r.format, r.url, r.encoding, r.size) for r in entry.resources] == [
        ("CSV", "https://data.gov.tw/a.csv", "UTF-8", "1"), ("JSON", "https://data.gov.tw/a.json", "UTF-8", "2"),
        ("XML", "https://data.gov.tw/a.xml", "UTF-8", "3")]
    assert entry.fields == (catalog.Field("Capacity", "有效容量,單位為萬立方公尺"), catalog.Field("DWL", "呆水位,單位為公尺"))
    assert (entry.data_updated, entry.metadata_updated) == (None, dt.datetime(2026, 8, 22, 1, tzinfo=catalog.TAIPEI))
    assert entry.agency_name == "數位發展部"


@pytest.mark.parametrize(("text", "expected"), [
    ("380160000A 【地政局】", ("380160000A", "地政局")),
    ("EB22380665 【桃園果菜市場股份有限公司】", ("EB22380665", "桃園果菜市場股份有限公司")),
    ("桃園市政府地政局", ("", "桃園市政府地政局")),
    ("", ("", "")),
])
def test_parse_agency(text, expected):
    assert catalog.parse_agency(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("a(說明(含括號));b（全形）、c\nd", (("a", "說明(含括號)"), ("b", "全形"), ("c", ""), ("d", ""))),
    ("", ()),
])
def test_parse_fields(text, expected):
    assert tuple((f.name, f.description) for f in catalog.parse_fields(text)) == expected


def test_roc_dates():
    assert catalog.parse_time("107/07/07") == dt.datetime(2018, 7, 7, tzinfo=catalog.TAIPEI)
    with pytest.raises(ValueError):
        catalog.parse_time("2018-13-01")
