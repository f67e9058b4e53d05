"""The usage instruction (運用指示書) of one settlement batch: canonical JSON, CSV and PDF. Pure Python.

One batch ``B-YYYYMMDD`` per business day lists, per payable merchant, the amount the trust bank is
instructed to pay to the merchant's bank account. Three documents are produced from one
:class:`Instruction`:

* **JSON** (:func:`canonical_json`) — the machine-readable file for the bank, and the bytes that are
  signed (Ed25519, see :mod:`citygov.points.engine.signing_keys`). Deterministic: sorted keys, no
  whitespace, integers only, UTF-8, no generation timestamp. Its SHA-256 is the *content hash*
  (:func:`content_hash`), so re-running a batch gives the same hash. Layout::

      {"batch_id": "B-20261121", "business_day": "2026-11-21", "format": "citygov-points-instruction/1",
       "late_transfer_count": 0, "line_count": 2, "lines": [{"amount": 1500, "bank_account": "...",
       "bank_code": "0040012", "final": false, "line_no": 1, "merchant_code": "04595257",
       "merchant_name": "...", "transaction_count": 3}, ...], "operator_name": "...",
       "total_amount": 2500, "transaction_count": 5, "trust_account": "...", "trust_bank_name": "..."}

* **CSV** (:func:`to_csv`) — UTF-8 with BOM, CRLF line ends, one header row, one ``D`` row per line and
  one ``T`` (totals) row that carries the content hash::

      record_type,batch_id,line_no,merchant_code,merchant_name,bank_code,bank_account,amount,transaction_count,final,content_hash
      D,B-20261121,1,04595257,好味小吃,0040012,123456789012,1500,3,0,
      T,B-20261121,2,,,,,2500,5,,sha256:...

  ``line_no`` of the ``T`` row is the number of lines; ``final`` is 1 on the final line of a closed
  merchant. A merchant name starting with ``= + - @`` is prefixed with ``'`` so that a spreadsheet
  never runs it as a formula (the JSON keeps the name unchanged).

* **PDF** (:func:`to_pdf`) — A4, Traditional Chinese, with the batch, the business day (also in the
  ROC calendar), the operator, the trust account, a table of the lines, totals, the content hash and
  page numbers. It uses reportlab's built-in CID font ``MSung-Light``, so no font file is needed.

The PDF and the CSV print the content hash of the JSON: verifying the JSON's signature and that hash
covers all three documents.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
from dataclasses import dataclass

from citygov.core import pdfdoc

FORMAT = "citygov-points-instruction/1"
CSV_HEADER = ("record_type", "batch_id", "line_no", "merchant_code", "merchant_name", "bank_code", "bank_account",
              "amount", "transaction_count", "final", "content_hash")

_MERCHANT_CODE = re.compile(r"[0-9]{8}")
_BANK_CODE = re.compile(r"[0-9]{3}(?:[0-9]{4})?")
_ACCOUNT = re.compile(r"[0-9][0-9-]{0,19}")
_BATCH = re.compile(r"B-([0-9]{8})")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def valid_bank_code(text: str) -> bool:
    """A bank code as the instructions carry it: 3 digits, or 7 with the branch."""
    return bool(_BANK_CODE.fullmatch(text))


def valid_bank_account(text: str) -> bool:
    """A bank account as the instructions carry it: digits (dashes allowed), at most 20."""
    return bool(_ACCOUNT.fullmatch(text))


def batch_id_for(day: dt.date) -> str:
    """The batch id of a business day.

    >>> batch_id_for(dt.date(2026, 11, 21))
    'B-20261121'
    """
    return f"B-{day:%Y%m%d}"


def roc_date(day: dt.date) -> str:
    """The date in the ROC (Minguo) calendar as written on documents.

    >>> roc_date(dt.date(2026, 11, 21))
    '民國115年11月21日'
    """
    return f"民國{day.year - 1911}年{day.month}月{day.day}日"


@dataclass(frozen=True)
class InstructionLine:
    """One payment the trust bank is instructed to make to one merchant."""

    merchant_code: str  # 統一編號, 8 digits
    merchant_name: str
    bank_code: str  # 3-digit bank code, optionally followed by the 4-digit branch code
    bank_account: str
    amount: int  # NT$, > 0
    transaction_count: int
    final: bool = False  # the final line of a closed / not-renewed merchant

    def __post_init__(self) -> None:
        if not isinstance(self.merchant_code, str) or not _MERCHANT_CODE.fullmatch(self.merchant_code):
            raise ValueError(f"instruction line: merchant code must be 8 digits, got {self.merchant_code!r}")
        if not isinstance(self.merchant_name, str) or not self.merchant_name.strip():
            raise ValueError(f"instruction line {self.merchant_code}: merchant name is empty")
        if not isinstance(self.bank_code, str) or not _BANK_CODE.fullmatch(self.bank_code):
            raise ValueError(f"instruction line {self.merchant_code}: bank code must be 3 or 7 digits, "
                             f"got {self.bank_code!r}")
        if not isinstance(self.bank_account, str) or not _ACCOUNT.fullmatch(self.bank_account):
            raise ValueError(f"instruction line {self.merchant_code}: bank account must be digits "
                             f"(hyphens allowed, at most 20 characters), got {self.bank_account!r}")
        if not isinstance(self.amount, int) or isinstance(self.amount, bool) or self.amount <= 0:
            raise ValueError(f"instruction line {self.merchant_code}: amount must be a whole NT$ amount > 0, "
                             f"got {self.amount!r}")
        if (not isinstance(self.transaction_count, int) or isinstance(self.transaction_count, bool)
                or self.transaction_count < 0):
            raise ValueError(f"instruction line {self.merchant_code}: transaction count must be >= 0")
        if not isinstance(self.final, bool):
            raise ValueError(f"instruction line {self.merchant_code}: final must be True or False")


@dataclass(frozen=True)
class Instruction:
    """The usage instruction of one batch; ``lines`` are kept sorted by merchant code."""

    batch_id: str
    business_day: dt.date
    operator_name: str
    trust_bank_name: str
    trust_account: str
    lines: tuple[InstructionLine, ...]
    late_transfer_count: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.business_day, dt.date) or isinstance(self.business_day, dt.datetime):
            raise ValueError(f"instruction: business_day must be a date, got {self.business_day!r}")
        if self.batch_id != batch_id_for(self.business_day):
            raise ValueError(f"instruction: batch id {self.batch_id!r} does not match business day "
                             f"{self.business_day.isoformat()} (expected {batch_id_for(self.business_day)})")
        for name in ("operator_name", "trust_bank_name", "trust_account"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"instruction {self.batch_id}: {name} is empty")
        lines = tuple(sorted(self.lines, key=lambda line: line.merchant_code))
        for line in lines:
            if not isinstance(line, InstructionLine):
                raise ValueError(f"instruction {self.batch_id}: lines must be InstructionLine values")
        codes = [line.merchant_code for line in lines]
        duplicates = sorted({code for code in codes if codes.count(code) > 1}) if len(set(codes)) != len(codes) else []
        if duplicates:
            raise ValueError(f"instruction {self.batch_id}: merchant(s) listed twice: {', '.join(duplicates)}")
        if (not isinstance(self.late_transfer_count, int) or isinstance(self.late_transfer_count, bool)
                or self.late_transfer_count < 0):
            raise ValueError(f"instruction {self.batch_id}: late_transfer_count must be >= 0")
        object.__setattr__(self, "lines", lines)

    @property
    def total_amount(self) -> int:
        """Σ amount over the lines (NT$)."""
        return sum(line.amount for line in self.lines)

    @property
    def line_count(self) -> int:
        """Number of lines."""
        return len(self.lines)

    @property
    def transaction_count(self) -> int:
        """Σ transaction_count over the lines."""
        return sum(line.transaction_count for line in self.lines)


def as_dict(instr: Instruction) -> dict:
    """The instruction as plain JSON values (the content of :func:`canonical_json`)."""
    return {
        "format": FORMAT,
        "batch_id": instr.batch_id,
        "business_day": instr.business_day.isoformat(),
        "operator_name": instr.operator_name,
        "trust_bank_name": instr.trust_bank_name,
        "trust_account": instr.trust_account,
        "late_transfer_count": instr.late_transfer_count,
        "line_count": instr.line_count,
        "transaction_count": instr.transaction_count,
        "total_amount": instr.total_amount,
        "lines": [
            {"line_no": number, "merchant_code": line.merchant_code, "merchant_name": line.merchant_name,
             "bank_code": line.bank_code, "bank_account": line.bank_account, "amount": line.amount,
             "transaction_count": line.transaction_count, "final": line.final}
            for number, line in enumerate(instr.lines, start=1)
        ],
    }


def canonical_json(instr: Instruction) -> bytes:
    """The deterministic JSON bytes of the instruction: the file for the bank and the signed payload."""
    return json.dumps(as_dict(instr), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def content_hash(instr: Instruction) -> str:
    """``sha256:<hex>`` of :func:`canonical_json` — equal instructions, equal hashes."""
    return "sha256:" + hashlib.sha256(canonical_json(instr)).hexdigest()


def _csv_safe(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(instr: Instruction) -> bytes:
    """The CSV for the bank (UTF-8 with BOM; the layout is in the module docstring)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for number, line in enumerate(instr.lines, start=1):
        writer.writerow(["D", instr.batch_id, number, line.merchant_code, _csv_safe(line.merchant_name),
                         line.bank_code, line.bank_account, line.amount, line.transaction_count,
                         1 if line.final else 0, ""])
    writer.writerow(["T", instr.batch_id, instr.line_count, "", "", "", "", instr.total_amount,
                     instr.transaction_count, "", content_hash(instr)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# --- PDF -----------------------------------------------------------------------------------------------

def _bank_code_text(code: str) -> str:
    return f"{code[:3]}-{code[3:]}" if len(code) == 7 else code


def to_pdf(instr: Instruction, *, generated_at: dt.datetime) -> bytes:
    """The A4 PDF of the instruction in Traditional Chinese.

    Deterministic for a given instruction and ``generated_at`` (printed in the footer; the PDF's own
    metadata dates are fixed so that the bytes do not depend on the clock).
    """
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    digest = content_hash(instr)
    generated_text = generated_at.strftime("%Y-%m-%d %H:%M %Z").strip()

    def footer(canvas, page: int, pages: int) -> None:
        width, _ = A4
        canvas.setFont(pdfdoc.FONT, 8)
        canvas.drawString(15 * mm, 10 * mm, f"{instr.batch_id}　{digest}")
        canvas.drawRightString(width - 15 * mm, 10 * mm, f"第 {page} 頁，共 {pages} 頁")
        canvas.drawString(15 * mm, 6 * mm, f"產製時間 {generated_text}")

    style = pdfdoc.styles()
    title, body, small, cell = style["title"], style["body"], style["small"], style["cell"]
    esc = pdfdoc.esc

    story = [
        Paragraph("運用指示書", title),
        Spacer(1, 4 * mm),
        Paragraph(f"批次編號：{instr.batch_id}", body),
        Paragraph(f"營業日：{instr.business_day.isoformat()}（{roc_date(instr.business_day)}）", body),
        Paragraph(f"委託人（營運機構）：{esc(instr.operator_name)}", body),
        Paragraph(f"受託銀行：{esc(instr.trust_bank_name)}　信託專戶帳號：{esc(instr.trust_account)}", body),
        Paragraph(f"筆數：{instr.line_count:,} 筆商店，{instr.transaction_count:,} 筆交易；"
                  f"總金額：新臺幣 {instr.total_amount:,} 元", body),
    ]
    if instr.late_transfer_count:
        story.append(Paragraph(f"本批次含前一營業日遲延入帳交易 {instr.late_transfer_count:,} 筆。", body))
    story += [
        Paragraph(f"文件雜湊值（JSON 檔 SHA-256）：{digest}", small),
        Spacer(1, 4 * mm),
    ]
    header = ["序號", "商店名稱", "統一編號", "銀行代碼", "帳號", "金額（元）", "筆數"]
    rows: list[list] = [header]
    for number, line in enumerate(instr.lines, start=1):
        name = esc(line.merchant_name) + ("（結清）" if line.final else "")
        rows.append([str(number), Paragraph(name, cell), line.merchant_code, _bank_code_text(line.bank_code),
                     line.bank_account, f"{line.amount:,}", f"{line.transaction_count:,}"])
    rows.append(["", "合計", "", "", "", f"{instr.total_amount:,}", f"{instr.transaction_count:,}"])
    table = Table(rows, colWidths=[12 * mm, 56 * mm, 20 * mm, 20 * mm, 34 * mm, 24 * mm, 14 * mm], repeatRows=1)
    table.setStyle(TableStyle([*pdfdoc.grid_style(numeric_from=5, total_row=True), ("ALIGN", (0, 1), (0, -1), "RIGHT")]))
    story += [
        table,
        Spacer(1, 6 * mm),
        Paragraph("請受託銀行依本指示書自信託專戶撥付上列金額至各特約商店帳戶。機器可讀檔（JSON/CSV）及其 Ed25519 "
                  "簽章檔隨附；本文件所載雜湊值須與 JSON 檔之 SHA-256 相符。", body),
        Spacer(1, 12 * mm),
        Paragraph("委託人簽章：＿＿＿＿＿＿＿＿＿＿　　受託銀行收件：＿＿＿＿＿＿＿＿＿＿", body),
    ]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=18 * mm, title=f"運用指示書 {instr.batch_id}", author=instr.operator_name,
                            subject=digest, creator="citygov", invariant=1)
    doc.build(story, canvasmaker=pdfdoc.numbered_canvas(footer))
    return buffer.getvalue()


# --- refund to an agency -------------------------------------------------------------------------

REFUND_FORMAT = "citygov-points-refund-instruction/1"
_REFUND = re.compile(r"RF-([0-9]{8})-([0-9]{2,3})")


def refund_reference_for(day: dt.date, number: int) -> str:
    """``RF-YYYYMMDD-NN``: the ``number``-th refund to an agency instructed on ``day`` (1-based)."""
    if not 1 <= number <= 999:
        raise ValueError("a day has at most 999 refunds to agencies")
    return f"RF-{day:%Y%m%d}-{number:02d}"


@dataclass(frozen=True)
class RefundInstruction:
    """One refund from the trust account to the agency that paid for points it will not use."""

    reference: str
    instructed_on: dt.date
    operator_name: str
    trust_bank_name: str
    trust_account: str
    agency_code: str
    agency_name: str
    bank_code: str
    bank_account: str
    amount: int
    source: str  # "funded" or "expired"
    request_reference: str

    def __post_init__(self) -> None:
        if not _REFUND.fullmatch(self.reference):
            raise ValueError(f"refund reference must be RF-YYYYMMDD-NN: {self.reference!r}")
        if not valid_bank_code(self.bank_code):
            raise ValueError(f"bank code must be 3 or 7 digits: {self.bank_code!r}")
        if not valid_bank_account(self.bank_account):
            raise ValueError(f"bank account must be digits (and dashes), at most 20: {self.bank_account!r}")
        if self.amount <= 0:
            raise ValueError("a refund is a positive amount")
        if self.source not in ("funded", "expired"):
            raise ValueError(f"source must be funded or expired: {self.source!r}")


def refund_as_dict(refund: RefundInstruction) -> dict:
    """The refund instruction as plain JSON values (the content of :func:`refund_canonical_json`)."""
    return {
        "format": REFUND_FORMAT,
        "reference": refund.reference,
        "instructed_on": refund.instructed_on.isoformat(),
        "operator_name": refund.operator_name,
        "trust_bank_name": refund.trust_bank_name,
        "trust_account": refund.trust_account,
        "agency_code": refund.agency_code,
        "agency_name": refund.agency_name,
        "bank_code": refund.bank_code,
        "bank_account": refund.bank_account,
        "amount": refund.amount,
        "source": refund.source,
        "request_reference": refund.request_reference,
    }


def refund_canonical_json(refund: RefundInstruction) -> bytes:
    """Deterministic JSON bytes of a refund instruction (sorted keys, no whitespace): the signed payload."""
    return json.dumps(refund_as_dict(refund), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def refund_content_hash(refund: RefundInstruction) -> str:
    """``sha256:<hex>`` of :func:`refund_canonical_json`."""
    return "sha256:" + hashlib.sha256(refund_canonical_json(refund)).hexdigest()
