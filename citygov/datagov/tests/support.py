"""Helpers shared by the datagov tests: fixture paths and catalogue files written on the fly."""

from __future__ import annotations

import csv
import io
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
SAMPLE = DATA / "taoyuan_sample.csv"
FULL = Path(__file__).resolve().parents[1] / "data" / "taoyuan_tycg_catalog_2018-07-07.csv"

DATAGOVTW_HEADER = [
    "資料集識別碼", "資料集名稱", "資料提供屬性", "服務分類", "品質檢測", "檔案格式", "資料下載網址", "編碼格式",
    "資資料集上架方式", "資料集描述", "主要欄位說明", "提供機關", "更新頻率", "授權方式", "相關網址", "計費方式",
    "提供機關聯絡人姓名", "提供機關聯絡人電話", "上架日期", "詮釋資料更新時間", "備註", "資料量",
]


def datagovtw_row(**values) -> list[str]:
    """A 22-column data.gov.tw export row; unspecified cells are empty."""
    return [values.get(name, "") for name in DATAGOVTW_HEADER]


def datagovtw_csv(rows: list[list[str]], encoding: str = "utf-8-sig") -> bytes:
    """A data.gov.tw export file with the given rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(DATAGOVTW_HEADER)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def sample_text() -> str:
    """The Taoyuan sample as text (BOM removed)."""
    return SAMPLE.read_bytes().decode("utf-8-sig")
