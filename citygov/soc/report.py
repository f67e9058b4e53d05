"""The forensic case report as a PDF in Traditional Chinese: details, timeline, findings, root cause
and the state of every follow-up action. Uses ReportLab's built-in CID font for Traditional Chinese
(MSung-Light), so no font file is needed."""

from __future__ import annotations

import datetime as dt
import io

from django.utils import timezone

STATUS_ZH = {"open": "未處理", "in_progress": "處理中", "done": "已完成待查核", "verified": "已查核",
             "waived": "免辦", "overdue": "逾期"}
KIND_ZH = {"web_attack": "網頁攻擊", "intrusion": "非法入侵", "dos": "阻斷服務", "equipment": "設備問題", "other": "其他"}


def case_report_pdf(case, actions, today: dt.date) -> bytes:
    """The PDF bytes of ``case``'s report with ``actions`` (already scoped to the reader)."""
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from citygov.core import pdfdoc

    pdfdoc.register_font()
    font = pdfdoc.FONT
    body = ParagraphStyle("body", fontName=font, fontSize=10, leading=15, wordWrap="CJK")
    head = ParagraphStyle("head", parent=body, fontSize=16, leading=22, spaceAfter=6)
    sub = ParagraphStyle("sub", parent=body, fontSize=12, leading=18, spaceBefore=8, spaceAfter=4)

    def p(text: str, style=body) -> Paragraph:
        return Paragraph(escape(text or "—").replace("\n", "<br/>"), style)

    def when(value) -> str:
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "—"

    story = [p(f"資安事件鑑識案件報告:{case.title}", head),
             p(f"機關:{case.agency.name_zh}　事件類型:{KIND_ZH.get(case.kind, case.kind)}　"
               f"鑑識廠商:{case.vendor or '—'}　報告日期:{today.isoformat()}")]
    timeline = [("知悉時間", when(case.aware_at)), ("立案時間", when(case.created_at))]
    for action in actions:
        if action.completed_at:
            timeline.append((f"完成:{action.recommendation[:30]}", when(action.completed_at)))
        if action.verified_at:
            timeline.append((f"查核:{action.recommendation[:30]}", when(action.verified_at)))
    timeline.sort(key=lambda row: row[1])
    story += [p("時間軸", sub), _table([[p("事件"), p("時間")]] + [[p(a), p(b)] for a, b in timeline],
                                       [120 * mm, 50 * mm], Table, TableStyle, colors)]
    story += [p("調查範圍", sub), p(case.scope), p("調查發現", sub), p(case.findings), p("根因分析", sub),
              p(case.root_cause)]
    rows = [[p("建議事項"), p("負責機關"), p("期限"), p("狀態"), p("完成佐證")]]
    for action in actions:
        status = "overdue" if action.is_overdue(today) else action.status
        rows.append([p(action.recommendation), p(f"{action.agency.name_zh} {action.owner}".strip()),
                     p(action.due_date.isoformat()), p(STATUS_ZH.get(status, status)),
                     p(action.evidence_note or action.waived_reason)])
    story += [p("改善建議追蹤(預定完成時程及成效追蹤)", sub),
              _table(rows, [55 * mm, 30 * mm, 22 * mm, 22 * mm, 41 * mm], Table, TableStyle, colors), Spacer(1, 6)]
    done = sum(1 for a in actions if a.status in ("verified", "waived"))
    story.append(p(f"共 {len(actions)} 項建議,已結案 {done} 項,逾期 {sum(1 for a in actions if a.is_overdue(today))} 項。"))
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=A4, title=f"case {case.pk}", leftMargin=15 * mm, rightMargin=15 * mm,
                      topMargin=15 * mm, bottomMargin=15 * mm).build(story)
    return buffer.getvalue()


def _table(rows, widths, table_cls, style_cls, colors):
    table = table_cls(rows, colWidths=widths, repeatRows=1)
    table.setStyle(style_cls([("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                              ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
                              ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return table
