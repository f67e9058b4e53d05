"""The analytics figures as an XLSX workbook (one sheet per table, Chinese headers)."""

from __future__ import annotations

import io

from django.utils import timezone
from django.utils.translation import gettext as _


def figures_workbook(figures: dict) -> bytes:
    """The workbook bytes for ``figures`` (as returned by ``queries.alert_figures``)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    def when(value) -> str:
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")

    sheets = (
        (_("By category"), ("類別", "件數", "占比%"),
         [(r["label"], r["count"], r["share"]) for r in figures["by_category"]]),
        (_("By severity"), ("嚴重程度", "件數", "占比%"),
         [(r["label"], r["count"], r["share"]) for r in figures["by_severity"]]),
        (_("By agency"), ("機關", "件數", "占比%"), [(r["label"], r["count"], r["share"]) for r in figures["by_agency"]]),
        (_("By month"), ("月份", "件數", "月增率%", "年增率%", "異常"),
         [(r["month"], r["count"], r["mom_change"], r["yoy_change"], "是" if r["deviates"] else "")
          for r in figures["trend"]]),
        (_("Top signatures"), ("事件代碼", "事件名稱", "件數"),
         [(r["id"], r["name"], r["count"]) for r in figures["top_signatures"]]),
        (_("Recurrence groups"), ("事件代碼", "事件名稱", "來源IP", "目的IP", "件數", "首次", "最後"),
         [(g["signature_id"], g["signature"], g["src_ip"], g["dest_ip"], g["count"], when(g["first_seen"]),
           when(g["last_seen"])) for g in figures["repeat_groups"]["groups"]]),
    )
    book = Workbook()
    book.remove(book.active)
    for title, header, rows in sheets:
        sheet = book.create_sheet(str(title)[:31])
        sheet.append(list(header))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append(list(row))
    stream = io.BytesIO()
    book.save(stream)
    return stream.getvalue()
