"""The monthly report pack of the points programme (月報), as PDF and XLSX. Pure Python.

One pack per calendar month (Asia/Taipei) for the operator, the agencies' auditors and the trust
bank. Its sections, in both documents:

1. **Points** — issued, spent (net of refunds), expired and transactions in the month; points
   outstanding (held by members: lots and open holds) at the start and at the end of the month.
2. **Ledger roll-forward** — per account kind: opening balance, credits, debits, closing balance.
   Opening + credits − debits = closing on every row, and the rows add up to zero (double entry).
3. **Trust account reconciliation** — the bank statement's lines booked in the month (deposits,
   payouts, lines the books did not accept), the statement balance at the end, the book balance at
   the end (confirmed deposits − confirmed payouts − refunds to agencies + accepted differences), the
   trust exceptions open at the end (signed) and whether statement = book + open exceptions.
4. **Merchant payout detail** — every line of the month's settlement batches: merchant, bank account,
   amount, transactions and whether the bank has confirmed it.
5. **Exceptions** — trust exceptions open at any time in the month (opened, resolved or still open),
   each with its status at the month's end.
6. **Royalty and feedback fee** — the year's contract terms and the month's row of the fee schedule
   (income, cumulative income, fee due, billed before, adjustment), with the year-to-date total.

:class:`MonthPack` holds the figures (the service fills it from the database);
:func:`to_xlsx` and :func:`to_pdf` render it. Both are deterministic for a given pack (the generation
time printed in them is part of the pack).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field

from citygov.core import pdfdoc

TITLE = "點數計畫月報"


@dataclass(frozen=True)
class PointsMonth:
    """The month's point flows and what members hold at its start and end."""

    issued: int
    spent: int
    expired: int
    transactions: int
    outstanding_start: int
    outstanding_end: int


@dataclass(frozen=True)
class AccountRoll:
    """One account kind's balance over the month."""

    kind: str
    label: str
    opening: int
    credits: int
    debits: int
    closing: int

    @property
    def balanced(self) -> bool:
        return self.opening + self.credits - self.debits == self.closing


@dataclass(frozen=True)
class TrustMonth:
    """The trust account over the month, as the bank's statement and as the books see it."""

    statement_opening: int
    deposits: int  # credits booked in the month that funded purchases
    payouts: int  # debits booked in the month matched to instruction lines (positive)
    unmatched: int  # lines booked in the month the books did not accept (signed)
    statement_closing: int
    book_closing: int
    open_exceptions: int  # signed Σ of statement exceptions open at the end of the month
    reported_balance: int | None  # the bank's own balance on its last line up to the month's end

    @property
    def difference(self) -> int:
        """statement − (book + open exceptions): zero when the account reconciles."""
        return self.statement_closing - self.book_closing - self.open_exceptions

    @property
    def reconciles(self) -> bool:
        return self.difference == 0 and (self.reported_balance is None or self.reported_balance == self.statement_closing)


@dataclass(frozen=True)
class PayoutRow:
    """One instruction line of a batch in the month."""

    batch_id: str
    business_day: dt.date
    merchant_code: str
    merchant_name: str
    bank_code: str
    bank_account: str
    amount: int
    transactions: int
    status: str  # the line status label
    confirmed: int  # NT$ the bank has confirmed paying
    settled_on: dt.date | None


@dataclass(frozen=True)
class ExceptionRow:
    """A trust exception that was open at some time in the month; ``status`` is as at its end."""

    number: int
    kind: str
    amount: int
    opened_on: dt.date
    status: str  # at the end of the month
    resolved_on: dt.date | None
    owner: str
    detail: str


@dataclass(frozen=True)
class FeeMonth:
    """The month's row of the year's fee schedule, and the year's terms."""

    royalty: int
    feedback_rate_percent: str
    threshold: int
    income: int
    cumulative_income: int
    cumulative_fee_due: int
    billed_before: int
    adjustment: int
    year_to_date_due: int  # royalty + the cumulative feedback fee due at the end of the month
    explanation: str


@dataclass(frozen=True)
class MonthPack:
    """Everything in one month's report pack."""

    year: int
    month: int
    operator_name: str
    generated_at: dt.datetime
    points: PointsMonth
    accounts: tuple[AccountRoll, ...]
    trust: TrustMonth
    payouts: tuple[PayoutRow, ...] = ()
    exceptions: tuple[ExceptionRow, ...] = ()
    fees: FeeMonth | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        """``YYYY-MM``."""
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def roc_label(self) -> str:
        """The month in the ROC calendar, e.g. ``民國115年10月``."""
        return f"民國{self.year - 1911}年{self.month}月"

    @property
    def payout_total(self) -> int:
        return sum(row.amount for row in self.payouts)

    @property
    def ledger_balanced(self) -> bool:
        """Every account rolls forward and the closing balances add up to zero."""
        return all(row.balanced for row in self.accounts) and sum(row.closing for row in self.accounts) == 0


# --- the table content shared by both documents --------------------------------------------------

def points_rows(pack: MonthPack) -> list[tuple[str, int]]:
    """Section 1 as (label, figure) rows."""
    p = pack.points
    return [("月初流通點數（會員持有）", p.outstanding_start), ("本月發放", p.issued), ("本月使用（扣除退款）", p.spent),
            ("本月逾期失效", p.expired), ("月底流通點數（會員持有）", p.outstanding_end), ("本月交易筆數", p.transactions)]


ACCOUNT_HEADER = ("帳戶類別", "月初餘額", "本月貸方", "本月借方", "月底餘額")


def trust_rows(pack: MonthPack) -> list[tuple[str, int | str]]:
    """Section 3 as (label, figure) rows, ending with the conclusion."""
    t = pack.trust
    rows: list[tuple[str, int | str]] = [
        ("月初對帳單餘額", t.statement_opening), ("本月入帳（機關購點撥款）", t.deposits),
        ("本月撥付商店（已核對）", -t.payouts), ("本月未核對款項", t.unmatched),
        ("月底對帳單餘額", t.statement_closing), ("月底帳載餘額", t.book_closing),
        ("月底未結例外（含正負）", t.open_exceptions), ("差額（對帳單 − 帳載 − 未結例外）", t.difference),
    ]
    if t.reported_balance is not None:
        rows.append(("銀行列示之月底餘額", t.reported_balance))
    rows.append(("結論", "相符" if t.reconciles else "不相符，請查明"))
    return rows


PAYOUT_HEADER = ("批次", "營業日", "統一編號", "商店名稱", "銀行代碼", "帳號", "金額（元）", "筆數", "狀態", "銀行確認（元）", "入帳日")


def payout_cells(row: PayoutRow) -> list:
    """One payout row as the cells under :data:`PAYOUT_HEADER`."""
    return [row.batch_id, row.business_day.isoformat(), row.merchant_code, row.merchant_name, row.bank_code,
            row.bank_account, row.amount, row.transactions, row.status, row.confirmed,
            row.settled_on.isoformat() if row.settled_on else ""]


EXCEPTION_HEADER = ("編號", "類別", "金額（元）", "開立日", "月底狀態", "解決日", "負責人", "說明")


def exception_cells(row: ExceptionRow) -> list:
    """One exception as the cells under :data:`EXCEPTION_HEADER`."""
    return [row.number, row.kind, row.amount, row.opened_on.isoformat(), row.status,
            row.resolved_on.isoformat() if row.resolved_on else "", row.owner, row.detail]


def fee_rows(fees: FeeMonth) -> list[tuple[str, int | str]]:
    """Section 6 as (label, figure) rows."""
    return [("年度權利金", fees.royalty), ("回饋金費率", fees.feedback_rate_percent), ("營業收入門檻", fees.threshold),
            ("本月營業收入", fees.income), ("年度累計營業收入", fees.cumulative_income),
            ("累計應收回饋金", fees.cumulative_fee_due), ("先前已開帳", fees.billed_before),
            ("本月應調整（開帳為正，退抵為負）", fees.adjustment), ("年度累計應收（權利金＋回饋金）", fees.year_to_date_due),
            ("計算說明", fees.explanation)]


# --- XLSX ------------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value):
    """Text that a spreadsheet would run as a formula is prefixed with ``'``; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_xlsx(pack: MonthPack) -> bytes:
    """The pack as a workbook: one sheet per section, numbers as numbers (NT$ / points)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    bold = Font(bold=True)
    book = Workbook()
    summary = book.active
    summary.title = "摘要"

    def table(sheet, header, rows) -> None:
        sheet.append([_cell(value) for value in header])
        for cell in sheet[sheet.max_row]:
            cell.font = bold
        for row in rows:
            sheet.append([_cell(value) for value in row])

    summary.append([f"{TITLE} {pack.label}（{pack.roc_label}）"])
    summary["A1"].font = Font(bold=True, size=14)
    summary.append(["營運機構", pack.operator_name])
    summary.append(["產製時間", pack.generated_at.isoformat()])
    summary.append([])
    table(summary, ("點數", "數值"), points_rows(pack))
    for note in pack.notes:
        summary.append([_cell(note)])
    table(book.create_sheet("帳戶餘額"), ACCOUNT_HEADER,
          [(row.label, row.opening, row.credits, row.debits, row.closing) for row in pack.accounts])
    table(book.create_sheet("信託專戶對帳"), ("項目", "金額（元）"), trust_rows(pack))
    payouts = book.create_sheet("撥付明細")
    table(payouts, PAYOUT_HEADER, [payout_cells(row) for row in pack.payouts])
    payouts.append(["合計", "", "", "", "", "", pack.payout_total, sum(r.transactions for r in pack.payouts)])
    table(book.create_sheet("例外事項"), EXCEPTION_HEADER, [exception_cells(row) for row in pack.exceptions])
    fees = book.create_sheet("權利金與回饋金")
    if pack.fees is None:
        fees.append(["本年度尚未登錄契約條件"])
    else:
        table(fees, ("項目", "數值"), fee_rows(pack.fees))
    for sheet in book.worksheets:
        for column in sheet.columns:
            width = max((len(str(cell.value)) for cell in column if cell.value is not None), default=6)
            sheet.column_dimensions[column[0].column_letter].width = min(60, max(8, width * 1.6))
    # Fixed document properties, so that the same pack gives the same workbook content.
    book.properties.creator = "citygov"
    book.properties.created = book.properties.modified = pack.generated_at.replace(tzinfo=None)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# --- PDF -------------------------------------------------------------------------------------------

def _amount(value) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def to_pdf(pack: MonthPack) -> bytes:
    """The pack as an A4 PDF in Traditional Chinese (landscape pages are not needed: long tables wrap)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    style = pdfdoc.styles()
    esc = pdfdoc.esc
    generated_text = pack.generated_at.strftime("%Y-%m-%d %H:%M %Z").strip()

    def footer(canvas, page: int, pages: int) -> None:
        width, _ = A4
        canvas.setFont(pdfdoc.FONT, 8)
        canvas.drawString(15 * mm, 10 * mm, f"{TITLE} {pack.label}　產製時間 {generated_text}")
        canvas.drawRightString(width - 15 * mm, 10 * mm, f"第 {page} 頁，共 {pages} 頁")

    def two_columns(rows, widths=(95 * mm, 60 * mm)) -> Table:
        cells = [["項目", "數值"], *[[Paragraph(esc(label), style["cell"]),
                                        Paragraph(esc(_amount(value)), style["cell"]) if isinstance(value, str)
                                        else _amount(value)] for label, value in rows]]
        table = Table(cells, colWidths=list(widths), repeatRows=1)
        table.setStyle(TableStyle(pdfdoc.grid_style(numeric_from=1)))
        return table

    story = [
        Paragraph(f"{TITLE}　{pack.label}", style["title"]),
        Spacer(1, 3 * mm),
        Paragraph(f"期間：{pack.roc_label}（Asia/Taipei 曆月）　營運機構：{esc(pack.operator_name)}", style["body"]),
        Paragraph("一、點數發放、使用、失效與流通", style["heading"]),
        two_columns(points_rows(pack)),
    ]
    for note in pack.notes:
        story.append(Paragraph(esc(note), style["small"]))
    account_cells = [list(ACCOUNT_HEADER), *[[Paragraph(esc(row.label), style["cell"]), _amount(row.opening),
                                              _amount(row.credits), _amount(row.debits), _amount(row.closing)]
                                             for row in pack.accounts]]
    accounts = Table(account_cells, colWidths=[62 * mm, 29 * mm, 29 * mm, 29 * mm, 29 * mm], repeatRows=1)
    accounts.setStyle(TableStyle(pdfdoc.grid_style(numeric_from=1)))
    story += [
        Paragraph("二、帳戶餘額變動（複式記帳）", style["heading"]),
        accounts,
        Paragraph("各帳戶：月初餘額＋貸方−借方＝月底餘額；全部帳戶月底餘額合計為零。"
                  + ("本月檢核相符。" if pack.ledger_balanced else "本月檢核不相符，請執行 citygov points verify。"),
                  style["small"]),
        Paragraph("三、信託專戶對帳", style["heading"]),
        two_columns(trust_rows(pack)),
        Paragraph("四、特約商店撥付明細", style["heading"]),
    ]
    if pack.payouts:
        header = ["批次", "統一編號", "商店名稱", "帳號", "金額（元）", "筆數", "狀態"]
        rows: list[list] = [header]
        for row in pack.payouts:
            rows.append([row.batch_id, row.merchant_code, Paragraph(esc(row.merchant_name), style["cell"]),
                         f"{row.bank_code}-{row.bank_account}", f"{row.amount:,}", f"{row.transactions:,}",
                         Paragraph(esc(row.status), style["cell"])])
        rows.append(["合計", "", "", "", f"{pack.payout_total:,}", f"{sum(r.transactions for r in pack.payouts):,}", ""])
        payouts = Table(rows, colWidths=[23 * mm, 18 * mm, 44 * mm, 38 * mm, 22 * mm, 13 * mm, 22 * mm], repeatRows=1)
        payouts.setStyle(TableStyle([*pdfdoc.grid_style(total_row=True), ("ALIGN", (4, 1), (5, -1), "RIGHT")]))
        story.append(payouts)
    else:
        story.append(Paragraph("本月無撥付明細。", style["body"]))
    story.append(Paragraph("五、例外事項", style["heading"]))
    if pack.exceptions:
        rows = [["編號", "類別", "金額（元）", "開立日", "月底狀態", "負責人", "說明"]]
        for row in pack.exceptions:
            rows.append([str(row.number), Paragraph(esc(row.kind), style["cell"]), f"{row.amount:,}",
                         row.opened_on.isoformat(), Paragraph(esc(row.status), style["cell"]),
                         Paragraph(esc(row.owner), style["cell"]), Paragraph(esc(row.detail), style["cell"])])
        exceptions = Table(rows, colWidths=[12 * mm, 30 * mm, 20 * mm, 20 * mm, 18 * mm, 22 * mm, 58 * mm], repeatRows=1)
        exceptions.setStyle(TableStyle([*pdfdoc.grid_style(), ("ALIGN", (2, 1), (2, -1), "RIGHT")]))
        story.append(exceptions)
    else:
        story.append(Paragraph("本月無例外事項。", style["body"]))
    story.append(Paragraph("六、權利金與回饋金", style["heading"]))
    if pack.fees is None:
        story.append(Paragraph("本年度尚未登錄契約條件。", style["body"]))
    else:
        story.append(two_columns(fee_rows(pack.fees)))
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=18 * mm, title=f"{TITLE} {pack.label}", author=pack.operator_name,
                            creator="citygov", invariant=1)
    doc.build(story, canvasmaker=pdfdoc.numbered_canvas(footer))
    return buffer.getvalue()
