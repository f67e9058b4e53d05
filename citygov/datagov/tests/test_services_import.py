"""Catalogue import (service): idempotent, bad rows by line, unmatched agencies, nothing on a broken file."""

from __future__ import annotations

import io

import pytest

from citygov.core.errors import Forbidden, InvalidInput
from citygov.core.models import ChangeLog
from citygov.core.roles import Role
from citygov.datagov.models import Dataset, ImportRun, Resource
from citygov.datagov.services import do_import_catalog
from citygov.datagov.tests.support import SAMPLE, datagovtw_csv, datagovtw_row, sample_text


def _import(user, data: bytes, name="catalog.csv"):
    return do_import_catalog(user, io.BytesIO(data), name)


def test_taoyuan_import_matches_agencies_and_reports_the_unmatched(taoyuan):
    run = taoyuan.run
    assert (run.rows, run.created, run.updated, run.unchanged, run.rejected) == (1444, 1444, 0, 0, 0)
    assert run.sha256 == "a87ada261ecf068605685800be514c8dc136d1d2a4a77a45404296bdef48c8c0"
    assert run.unmatched_agencies == [
        {"agency": "376737200A 桃園捷運公司", "datasets": 15},
        {"agency": "EB22380665 桃園果菜市場股份有限公司", "datasets": 2},
    ]
    assert Dataset.objects.count() == 1444
    assert Dataset.objects.filter(agency__isnull=True).count() == 17
    assert Dataset.objects.filter(agency__code="land").count() == 192
    # 研考會 (46) and 資訊科技局 (23) merged into 智慧城鄉發展委員會 in 2024
    assert Dataset.objects.filter(agency__code="sccdc").count() == 69
    assert Dataset.objects.filter(agency__code="mrt").count() == 1
    assert Dataset.objects.filter(frequency_class="irregular").count() == 930
    assert Dataset.objects.filter(frequency_recognised=False).count() == 0
    assert Dataset.objects.filter(spatial=True).count() == 18
    assert Resource.objects.count() == 1570  # one per format listed in 檔案格式
    assert list(Dataset.objects.get(source_id="560").resources.values_list("format", flat=True)) == ["CSV", "XLS"]
    assert ChangeLog.objects.filter(object_type="datagov.importrun").count() == 1


def test_reimport_changes_nothing(taoyuan, city_admin):
    from citygov.datagov.demo import seed_datagov_demo

    before = list(Dataset.objects.order_by("pk").values_list("pk", "content_hash", "updated_at"))
    log_count = ChangeLog.objects.count()
    again = seed_datagov_demo(city_admin)
    assert (again.run.created, again.run.updated, again.run.unchanged) == (0, 0, 1444)
    assert list(Dataset.objects.order_by("pk").values_list("pk", "content_hash", "updated_at")) == before
    assert ChangeLog.objects.count() == log_count + 1  # the import run itself


def test_changed_row_is_updated_and_logged(reference_data, city_admin):
    _import(city_admin, SAMPLE.read_bytes())
    changed = sample_text().replace("桃園市臨時暨短期照顧服務之服務單位", "桃園市臨時及短期照顧服務單位", 1)
    result = _import(city_admin, changed.encode("cp950", errors="replace"), "big5.csv")
    assert (result.run.created, result.run.updated, result.run.unchanged, result.run.encoding) == (0, 1, 35, "cp950")
    dataset = Dataset.objects.get(source_id="1")
    assert dataset.title == "桃園市臨時及短期照顧服務單位"
    entry = ChangeLog.objects.get(object_type="datagov.dataset", object_id=str(dataset.pk))
    assert entry.before["title"] == "桃園市臨時暨短期照顧服務之服務單位"
    assert entry.after["title"] == "桃園市臨時及短期照顧服務單位"


def test_bad_rows_are_reported_and_good_rows_imported(reference_data, city_admin):
    lines = sample_text().split("\r\n")
    lines[1] = ",".join(lines[1].split(",")[:10])
    result = _import(city_admin, "\r\n".join(lines).encode("utf-8"))
    assert (result.run.created, result.run.rejected) == (35, 1)
    assert result.run.errors == [{"line": 2, "message": "expected 29 cells, found 10 (truncated row?)",
                                  "message_zh": "應有 29 個欄位，實有 10 個（資料列不完整？）"}]
    assert not Dataset.objects.filter(source_id="1").exists()


@pytest.mark.parametrize(("data", "message"), [
    (SAMPLE.read_bytes() + '99,"未結束\r\n'.encode(), "檔案在引號內的儲存格中結束"),
    (SAMPLE.read_bytes() + "1000,壞掉".encode("cp950") + b"\r\n", "不是有效的 utf-8-sig"),
    (sample_text().replace("更新頻率", "頻率", 1).encode(), "缺少欄位：更新頻率。"),
    (b"", "檔案是空的"),
])
def test_corrupted_file_imports_nothing(reference_data, city_admin, data, message):
    log_count = ChangeLog.objects.count()
    with pytest.raises(InvalidInput) as info:
        _import(city_admin, data)
    assert message in info.value.message
    assert info.value.code == "unreadable_file"
    assert (Dataset.objects.count(), Resource.objects.count(), ImportRun.objects.count()) == (0, 0, 0)
    assert ChangeLog.objects.count() == log_count


def test_datagovtw_export_import(reference_data, city_admin):
    data = datagovtw_csv([datagovtw_row(
        資料集識別碼="1001", 資料集名稱="桃園市地籍圖", 檔案格式="SHP;CSV", 資料下載網址="https://x/a.zip;https://x/a.csv",
        提供機關="桃園市政府地政局", 更新頻率="每1月", 詮釋資料更新時間="2026-10-01 08:00:00",
        主要欄位說明="段名(地段名稱);地號(地號)")])
    result = _import(city_admin, data)
    dataset = Dataset.objects.get()
    assert (result.layout, result.run.source, dataset.source) == ("data_gov_tw", "data_gov_tw", "data_gov_tw")
    assert (dataset.agency.code, dataset.frequency_interval, dataset.frequency_eu_code) == ("land", "P1M", "MONTHLY")
    assert (dataset.spatial, dataset.layer_type) == (True, "SHP")
    assert dataset.schema == [{"name": "段名", "description": "地段名稱"}, {"name": "地號", "description": "地號"}]
    assert list(dataset.resources.values_list("format", "url")) == [("SHP", "https://x/a.zip"), ("CSV", "https://x/a.csv")]
    assert dataset.data_updated_at is None and dataset.metadata_updated_at is not None


def test_only_catalogue_managers_import(reference_data, make_user, auditor):
    for user in (auditor, make_user("analyst", Role.SECURITY_ANALYST), make_user("agency-admin", Role.AGENCY_ADMIN)):
        with pytest.raises(Forbidden):
            _import(user, SAMPLE.read_bytes())
    assert Dataset.objects.count() == 0
    steward = make_user("steward", Role.DATA_STEWARD)
    assert _import(steward, SAMPLE.read_bytes()).run.created == 36
