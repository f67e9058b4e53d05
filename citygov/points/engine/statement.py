"""Trust-account bank statements: streaming CSV reader and payout / deposit matching. Pure Python.

The documented statement format (``DEFAULT_MAPPING``; see docs/points_statement_format.md)::

    對帳單編號,TS-20261121-01          <- optional preamble rows "name,value" before the header
    期初餘額,"1,000,000"
    交易日期,摘要,支出金額,存入金額,餘額,對方銀行代碼,對方帳號,備註
    2026/11/21,撥付,"1,500",,"998,500",0040012,123456789012,B-20261120 04595257
    115/11/21,存入,,"50,000","1,048,500",0120001,555000111222,PO-2026-0001
    期末餘額,"1,048,500"                <- optional trailer row

* Encoding: UTF-8 (with or without BOM) or Big5 (read as cp950); detected from the first 64 KiB.
* Dates: ISO ``2026-11-21`` / ``2026/11/21`` / ``20261121`` or ROC ``115/11/21`` / ``115-11-21`` /
  ``1151121`` / ``民國115年11月21日`` (``date_format="auto"``); ``"iso"``, ``"roc"`` or a strptime
  pattern force one.
* Amounts: whole NT$, thousand separators and ``NT$`` allowed, ``(1,500)`` is negative; fractions other
  than ``.00`` are rejected. Either separate debit (支出) / credit (存入) columns, or one signed amount
  column (``amount=`` in the mapping): credits are positive, debits negative.
* Statement id: a preamble row (對帳單編號 / statement_id), a mapped ``statement_id`` column, or the
  ``statement_id`` argument, in that order of preference; a file id that contradicts the argument is refused.
* ``line_number`` is the 1-based number of the data row after the header (blank rows count, so the
  number of a row never depends on the rows around it changing content); it identifies the line with
  the statement id for idempotent imports.

Only the date and amount columns must exist; other mapped columns the file lacks are read as empty and
listed in ``StatementReader.missing_columns``.

Whole-file problems (no header, missing date or amount columns, unknown encoding, no statement id) raise
:class:`StatementFormatError`; a bad row yields a :class:`StatementError` and reading continues.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import json
import re
import unicodedata
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from decimal import Decimal, InvalidOperation
from typing import BinaryIO

SNIFF_BYTES = 64 * 1024
# the date and the amount must be in the file; the other mapped columns are read as empty when absent
_REQUIRED_COLUMNS = frozenset({"booked_on", "amount", "debit", "credit"})


class StatementFormatError(ValueError):
    """The file as a whole cannot be read; ``message_en`` and ``message_zh`` say why."""

    def __init__(self, message_en: str, message_zh: str):
        super().__init__(f"{message_en} / {message_zh}")
        self.message_en = message_en
        self.message_zh = message_zh


@dataclass(frozen=True)
class StatementLine:
    """One booked line of the trust account statement."""

    statement_id: str
    line_number: int
    booked_on: dt.date
    amount: int  # credit > 0, debit < 0 (NT$)
    reference: str
    counterparty_bank_code: str
    counterparty_account: str
    description: str
    balance_after: int | None


@dataclass(frozen=True)
class StatementError:
    """A row that could not be read, with the reason in English and Chinese and the raw text."""

    line_number: int
    message_en: str
    message_zh: str
    raw: str


@dataclass(frozen=True)
class StatementBalance:
    """An opening or closing balance stated by the file."""

    kind: str  # opening | closing
    amount: int


@dataclass(frozen=True)
class ColumnMapping:
    """Which header of the file holds which field, and how dates and amounts are written.

    Give either ``amount`` (one signed column) or both ``debit`` and ``credit``. Optional columns may be
    empty strings (absent).
    """

    booked_on: str = "交易日期"
    debit: str = "支出金額"
    credit: str = "存入金額"
    amount: str = ""
    reference: str = "備註"
    counterparty_bank_code: str = "對方銀行代碼"
    counterparty_account: str = "對方帳號"
    description: str = "摘要"
    balance_after: str = "餘額"
    statement_id: str = ""
    date_format: str = "auto"
    thousands_separator: str = ","
    delimiter: str = ","

    def __post_init__(self) -> None:
        if not self.booked_on:
            raise StatementFormatError("mapping: booked_on column is required", "欄位對應：必須指定交易日期欄")
        if self.amount and (self.debit or self.credit):
            # one signed column wins: clear the default debit/credit names
            object.__setattr__(self, "debit", "")
            object.__setattr__(self, "credit", "")
        if not self.amount and not (self.debit and self.credit):
            raise StatementFormatError("mapping: give amount=, or both debit= and credit=",
                                       "欄位對應：須指定金額欄，或同時指定支出與存入欄")
        if len(self.delimiter) != 1:
            raise StatementFormatError("mapping: delimiter must be one character", "欄位對應：分隔字元須為單一字元")
        if len(self.thousands_separator) > 1:
            raise StatementFormatError("mapping: thousands separator must be one character or empty",
                                       "欄位對應：千分位符號須為單一字元或空白")
        if self.date_format not in ("auto", "iso", "roc") and "%" not in self.date_format:
            raise StatementFormatError(f"mapping: date format {self.date_format!r} is not auto, iso, roc or a "
                                       "strptime pattern", "欄位對應：日期格式須為 auto、iso、roc 或 strptime 格式")

    def columns(self) -> dict[str, str]:
        """Field → header name for every mapped column."""
        names = ("booked_on", "debit", "credit", "amount", "reference", "counterparty_bank_code",
                 "counterparty_account", "description", "balance_after", "statement_id")
        return {name: getattr(self, name) for name in names if getattr(self, name)}


DEFAULT_MAPPING = ColumnMapping()

_MAPPING_FIELDS = {f.name for f in fields(ColumnMapping)}
_PREAMBLE_KEYS = {
    "對帳單編號": "statement_id", "statement_id": "statement_id", "statement id": "statement_id",
    "期初餘額": "opening", "opening_balance": "opening", "opening balance": "opening",
    "期末餘額": "closing", "closing_balance": "closing", "closing balance": "closing",
}


def parse_mapping(text: str, base: ColumnMapping = DEFAULT_MAPPING) -> ColumnMapping:
    """The ``--map`` option: ``"booked_on=交易日期,amount=金額"`` or a JSON object, applied over ``base``.

    Naming ``amount`` switches to one signed amount column. Raises StatementFormatError on unknown
    fields or bad syntax.

    >>> parse_mapping("amount=金額,date_format=roc").amount
    '金額'
    """
    text = (text or "").strip()
    if not text:
        raise StatementFormatError("mapping is empty", "欄位對應為空白")
    values: dict[str, str] = {}
    if text.startswith("{"):
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StatementFormatError(f"mapping is not valid JSON: {exc.msg} at {exc.pos}",
                                       "欄位對應不是有效的 JSON") from exc
        if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
            raise StatementFormatError("mapping JSON must be an object of strings", "欄位對應 JSON 須為字串物件")
        values = {str(k).strip(): v.strip() for k, v in loaded.items()}
    else:
        for part in text.split(","):
            if not part.strip():
                continue
            name, sep, value = part.partition("=")
            if not sep:
                raise StatementFormatError(f"mapping item {part.strip()!r} is not name=value",
                                           f"欄位對應項目「{part.strip()}」須為 名稱=欄名")
            values[name.strip()] = value.strip()
    unknown = sorted(set(values) - _MAPPING_FIELDS)
    if unknown:
        raise StatementFormatError(f"mapping: unknown field(s) {', '.join(unknown)}; known: "
                                   f"{', '.join(sorted(_MAPPING_FIELDS))}",
                                   f"欄位對應：不明的欄位 {', '.join(unknown)}")
    if values.get("amount") and not ("debit" in values or "credit" in values):
        values.setdefault("debit", "")
        values.setdefault("credit", "")
    if "delimiter" in values and values["delimiter"] in ("tab", "\\t"):
        values["delimiter"] = "\t"
    return replace(base, **values)


# --- values ---------------------------------------------------------------------------------------------

_ROC_TEXT = re.compile(r"(?:民國)?\s*(\d{2,3})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?")
_SEPARATED = re.compile(r"(\d{1,4})[-/.](\d{1,2})[-/.](\d{1,2})")


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").strip()


def parse_date(text: str, date_format: str = "auto") -> dt.date:
    """A statement date: ISO or ROC (see the module docstring). ValueError when unreadable.

    >>> parse_date("113/05/02"), parse_date("1130502"), parse_date("2024-05-02")
    (datetime.date(2024, 5, 2), datetime.date(2024, 5, 2), datetime.date(2024, 5, 2))
    """
    value = _norm(text)
    if not value:
        raise ValueError("empty date")
    if "%" in date_format:
        return dt.datetime.strptime(value, date_format).date()
    match = _ROC_TEXT.fullmatch(value)
    if match and date_format in ("auto", "roc"):
        return dt.date(int(match[1]) + 1911, int(match[2]), int(match[3]))
    match = _SEPARATED.fullmatch(value)
    if match:
        year = int(match[1])
        is_roc = date_format == "roc" or (date_format == "auto" and len(match[1]) <= 3)
        if date_format == "iso" and len(match[1]) != 4:
            raise ValueError(f"not an ISO date: {value}")
        return dt.date(year + 1911 if is_roc else year, int(match[2]), int(match[3]))
    if value.isdigit():
        if len(value) == 8 and date_format in ("auto", "iso"):
            return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
        if len(value) == 7 and date_format in ("auto", "roc"):
            return dt.date(int(value[:3]) + 1911, int(value[3:5]), int(value[5:]))
        if len(value) == 6 and date_format == "roc":
            return dt.date(int(value[:2]) + 1911, int(value[2:4]), int(value[4:]))
    raise ValueError(f"unrecognised date: {value}")


def parse_amount(text: str, thousands_separator: str = ",") -> int | None:
    """A whole NT$ amount, or None for an empty cell. ValueError for text or a fraction.

    >>> parse_amount("1,234"), parse_amount("(1,500.00)"), parse_amount(" ")
    (1234, -1500, None)
    """
    value = _norm(text)
    if not value:
        return None
    negative = False
    if value.startswith("(") and value.endswith(")"):
        negative, value = True, value[1:-1].strip()
    for prefix in ("NT$", "NTD", "$"):
        if value.upper().startswith(prefix):
            value = value[len(prefix):].strip()
    if value.endswith("-") and not value.startswith("-"):
        negative, value = not negative, value[:-1].strip()
    if thousands_separator:
        value = value.replace(thousands_separator, "")
    value = value.replace(" ", "")
    try:
        number = Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {text.strip()}") from exc
    if not number.is_finite():
        raise ValueError(f"not a number: {text.strip()}")
    if number != number.to_integral_value():
        raise ValueError(f"not a whole NT$ amount: {text.strip()}")
    result = int(number)
    return -result if negative else result


# --- reading ---------------------------------------------------------------------------------------------

def _detect_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise StatementFormatError("statement is UTF-16; save it as UTF-8 or Big5 CSV",
                                   "對帳單為 UTF-16 編碼，請另存為 UTF-8 或 Big5 CSV")
    lines = head.split(b"\n")
    if len(head) >= SNIFF_BYTES and len(lines) > 1:
        lines.pop()  # the last line may be cut at the sniff boundary
    lines = [line for line in lines if line.strip()]
    failures = {}
    for encoding in ("utf-8", "cp950"):
        failures[encoding] = 0
        for line in lines:
            try:
                line.decode(encoding)
            except UnicodeDecodeError:
                failures[encoding] += 1
    # the encoding under which fewer lines are broken wins (UTF-8 on a tie); a few broken lines are
    # reported row by row, but a file that is mostly undecodable is not a statement we can read
    best = min(failures, key=lambda name: (failures[name], name != "utf-8"))
    if failures[best] * 2 > len(lines):
        raise StatementFormatError("statement is neither UTF-8 nor Big5 text",
                                   "對帳單編碼無法辨識（須為 UTF-8 或 Big5）")
    return best


class StatementReader:
    """Iterator over the lines of one statement (:class:`StatementLine` or :class:`StatementError`).

    Reads the stream one physical line at a time (constant memory). After iteration ``opening`` and
    ``closing`` hold the balances the file states (or None), ``encoding`` the detected encoding,
    ``statement_id`` the id used and ``missing_columns`` the optional mapped columns the file lacks
    (read as empty: the service should warn about them).
    """

    def __init__(self, stream: BinaryIO, mapping: ColumnMapping, statement_id: str | None):
        self.mapping = mapping
        self._argument_id = (statement_id or "").strip() or None
        self.statement_id: str | None = self._argument_id
        self.opening: StatementBalance | None = None
        self.closing: StatementBalance | None = None
        head = stream.read(SNIFF_BYTES)
        if isinstance(head, str):
            raise TypeError("read_statement needs a binary stream (open the file with 'rb')")
        self.encoding = _detect_encoding(head)
        self._bad_physical: dict[int, str] = {}
        self._width = 0
        self.missing_columns: tuple[str, ...] = ()
        self._rows = csv.reader(self._text_lines(head, stream), delimiter=mapping.delimiter)
        self._iterator = self._generate()

    def __iter__(self) -> StatementReader:
        return self

    def __next__(self) -> StatementLine | StatementError:
        return next(self._iterator)

    def _text_lines(self, head: bytes, stream: BinaryIO) -> Iterator[str]:
        encoding = "utf-8" if self.encoding == "utf-8-sig" else self.encoding
        if self.encoding == "utf-8-sig":
            head = head[len(codecs.BOM_UTF8):]
        pending = b""
        number = 0
        chunk = head
        while True:
            data = pending + chunk
            parts = data.split(b"\n")
            pending = parts.pop()
            for raw in parts:
                number += 1
                yield self._decode(raw + b"\n", encoding, number)
            chunk = stream.read(SNIFF_BYTES)
            if not chunk:
                break
        if pending:
            number += 1
            yield self._decode(pending, encoding, number)

    def _decode(self, raw: bytes, encoding: str, number: int) -> str:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            self._bad_physical[number] = raw.decode(encoding, errors="replace").rstrip("\r\n")
            return raw.decode(encoding, errors="replace")

    def _find_header(self) -> dict[str, int]:
        wanted = {field: _norm(name).casefold() for field, name in self.mapping.columns().items()}
        for row in self._rows:
            cells = [_norm(cell).casefold() for cell in row]
            if wanted["booked_on"] in cells:
                missing = [f"{field}={self.mapping.columns()[field]}" for field, name in wanted.items()
                           if name not in cells and field in _REQUIRED_COLUMNS]
                if missing:
                    raise StatementFormatError(f"statement header lacks column(s): {', '.join(missing)}",
                                               f"對帳單標題列缺少欄位：{', '.join(missing)}")
                self.missing_columns = tuple(field for field, name in wanted.items() if name not in cells)
                self._width = len(cells)
                return {field: cells.index(name) for field, name in wanted.items() if name in cells}
            if cells and cells[0]:
                self._preamble(row)
        raise StatementFormatError(f"no header row with the column {self.mapping.booked_on!r} found",
                                   f"找不到含「{self.mapping.booked_on}」欄位的標題列")

    def _preamble(self, row: list[str]) -> bool:
        key = _PREAMBLE_KEYS.get(_norm(row[0]).casefold().rstrip(":："))
        if key is None:
            return False
        value = _norm(row[1]) if len(row) > 1 else ""
        if key == "statement_id":
            if self._argument_id and value and value != self._argument_id:
                raise StatementFormatError(
                    f"the file says statement id {value!r}, the command says {self._argument_id!r}",
                    f"檔案內的對帳單編號「{value}」與指定的「{self._argument_id}」不同")
            self.statement_id = value or self.statement_id
            return True
        try:
            amount = parse_amount(value, self.mapping.thousands_separator)
        except ValueError:
            return False
        if amount is None:
            return False
        balance = StatementBalance(kind=key, amount=amount)
        if key == "opening":
            self.opening = balance
        else:
            self.closing = balance
        return True

    def _generate(self) -> Iterator[StatementLine | StatementError]:
        columns = self._find_header()
        header_physical = self._rows.line_num
        if not self.statement_id and "statement_id" not in columns:
            raise StatementFormatError("no statement id: give one, or add 對帳單編號 to the file",
                                       "缺少對帳單編號：請於檔案內提供或另行指定")
        data_number = 0
        start_physical = header_physical
        for row in self._rows:
            data_number += 1
            end_physical = self._rows.line_num
            raw = self.mapping.delimiter.join(row)
            bad = [self._bad_physical.pop(n) for n in range(start_physical + 1, end_physical + 1)
                   if n in self._bad_physical]
            start_physical = end_physical
            if bad:
                yield StatementError(data_number, "the row holds bytes that are not valid text in the file's "
                                     f"encoding ({self.encoding})", f"此列含有無法以 {self.encoding} 解碼的位元組",
                                     " ".join(bad))
                continue
            if not any(cell.strip() for cell in row):
                continue
            if self._preamble(row):
                continue
            if len(row) > self._width and any(cell.strip() for cell in row[self._width:]):
                yield StatementError(data_number, f"the row has {len(row)} cells but the header {self._width} "
                                     "(an amount with a thousands separator must be quoted)",
                                     f"此列有 {len(row)} 欄，標題列為 {self._width} 欄（含千分位的金額須加引號）", raw)
                continue
            yield self._line(row, columns, data_number, raw)

    def _line(self, row: list[str], columns: dict[str, int], number: int,
              raw: str) -> StatementLine | StatementError:
        def cell(field: str) -> str:
            index = columns.get(field)
            return row[index].strip() if index is not None and index < len(row) else ""

        mapping = self.mapping
        try:
            booked_on = parse_date(cell("booked_on"), mapping.date_format)
        except ValueError:
            return StatementError(number, f"unreadable date {cell('booked_on')!r}",
                                  f"日期「{cell('booked_on')}」無法辨識", raw)
        try:
            if mapping.amount:
                amount = parse_amount(cell("amount"), mapping.thousands_separator)
                if amount is None or amount == 0:
                    return StatementError(number, "amount is empty or zero", "金額空白或為零", raw)
            else:
                debit = parse_amount(cell("debit"), mapping.thousands_separator) or 0
                credit = parse_amount(cell("credit"), mapping.thousands_separator) or 0
                if debit < 0 or credit < 0:
                    return StatementError(number, "debit and credit columns must not be negative",
                                          "支出與存入金額不可為負數", raw)
                if debit and credit:
                    return StatementError(number, "both debit and credit are filled in", "支出與存入同時有金額", raw)
                if not debit and not credit:
                    return StatementError(number, "neither debit nor credit is filled in", "支出與存入皆無金額", raw)
                amount = credit or -debit
            balance_after = (parse_amount(cell("balance_after"), mapping.thousands_separator)
                             if "balance_after" in columns else None)
        except ValueError as exc:
            text = str(exc)
            zh = "金額須為整數新臺幣元" if "whole" in text else "金額無法辨識"
            return StatementError(number, text, f"{zh}：{text.split(': ', 1)[-1]}", raw)
        statement_id = cell("statement_id") or self.statement_id
        if not statement_id:
            return StatementError(number, "no statement id on this row", "此列缺少對帳單編號", raw)
        if self._argument_id and statement_id != self._argument_id:
            return StatementError(number, f"statement id {statement_id!r} differs from {self._argument_id!r}",
                                  f"對帳單編號「{statement_id}」與指定的「{self._argument_id}」不同", raw)
        return StatementLine(statement_id=statement_id, line_number=number, booked_on=booked_on, amount=amount,
                             reference=_norm(cell("reference")), counterparty_bank_code=_norm(cell(
                                 "counterparty_bank_code")), counterparty_account=_norm(cell("counterparty_account")),
                             description=cell("description"), balance_after=balance_after)


def read_statement(stream: BinaryIO, *, mapping: ColumnMapping = DEFAULT_MAPPING,
                   statement_id: str | None = None) -> StatementReader:
    """Stream the statement's lines and bad rows (see the module docstring).

    The header is located lazily, on the first ``next()``; whole-file problems raise
    :class:`StatementFormatError` then.
    """
    return StatementReader(stream, mapping, statement_id)


# --- matching -------------------------------------------------------------------------------------------

_BATCH_IN_TEXT = re.compile(r"B-?(\d{8})", re.IGNORECASE)
_TOKEN = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]*")

REASONS = {
    "unknown_debit": ("no instruction line of that batch for this debit", "查無對應運用指示書批次之支出"),
    "wrong_account": ("the debit went to an account that is not on the batch", "撥付帳號與指示書不符"),
    "wrong_amount": ("the debit's amount differs from the instruction line", "撥付金額與指示書不符"),
    "over_payment": ("the instruction line is already fully paid", "指示書該筆已全額撥付，此為溢付"),
    "unknown_reference": ("no purchase with this reference awaits funding", "查無對應之購買單號"),
}


def referenced_batches(text: str) -> list[str]:
    """The batch ids (``B-YYYYMMDD``) a statement reference names, in order (``B20261121`` counts too)."""
    return [f"B-{digits}" for digits in _BATCH_IN_TEXT.findall(_norm(text))]


@dataclass(frozen=True)
class InstructionLineRef:
    """An instruction line awaiting payment, with what earlier statements already matched to it."""

    batch_id: str
    merchant_code: str
    bank_code: str
    bank_account: str
    amount: int
    already_matched: int = 0

    @property
    def key(self) -> tuple[str, str]:
        """(batch id, merchant code): one line per merchant per batch."""
        return (self.batch_id, self.merchant_code)


@dataclass(frozen=True)
class PayoutMatch:
    """A debit (or part of a split payment) matched to an instruction line."""

    batch_id: str
    merchant_code: str
    statement_id: str
    line_number: int
    amount: int  # positive NT$ paid


@dataclass(frozen=True)
class LineSettlement:
    """Where an instruction line stands after matching."""

    batch_id: str
    merchant_code: str
    amount: int
    matched: int  # already_matched + this run's matches

    @property
    def settled(self) -> bool:
        """Paid in full (only then the payout counts as settled)."""
        return self.matched == self.amount

    @property
    def pending(self) -> int:
        """Amount still to be paid."""
        return self.amount - self.matched


@dataclass(frozen=True)
class Unmatched:
    """A statement line that could not be matched, with a reason code and messages."""

    statement_id: str
    line_number: int
    amount: int  # signed, as on the statement
    reason: str
    message_en: str
    message_zh: str
    batch_id: str = ""
    merchant_code: str = ""
    reference: str = ""


@dataclass(frozen=True)
class MatchResult:
    """Matched payouts, the state of every instruction line, and the unmatched debits."""

    matches: tuple[PayoutMatch, ...]
    lines: tuple[LineSettlement, ...]
    unmatched: tuple[Unmatched, ...]


def _digits(text: str) -> str:
    return "".join(ch for ch in _norm(text) if ch.isdigit())


def _account_key(account: str) -> str:
    """Accounts compare by their digits without leading zeros (banks pad account numbers differently)."""
    return _digits(account).lstrip("0")


def _bank_equal(line_code: str, statement_code: str) -> bool:
    left, right = _digits(line_code), _digits(statement_code)
    if not right:  # many statements leave the counterparty bank blank: the account decides
        return True
    if left[:3] != right[:3]:
        return False
    return len(left) < 7 or len(right) < 7 or left[3:7] == right[3:7]


def _unmatched(line: StatementLine, reason: str, batch_id: str = "", merchant_code: str = "") -> Unmatched:
    en, zh = REASONS[reason]
    return Unmatched(statement_id=line.statement_id, line_number=line.line_number, amount=line.amount,
                     reason=reason, message_en=en, message_zh=zh, batch_id=batch_id, merchant_code=merchant_code,
                     reference=line.reference)


def match_payouts(lines: Sequence[InstructionLineRef], debits: Sequence[StatementLine]) -> MatchResult:
    """Match trust-account debits to instruction lines by (batch id in the reference, account, amount).

    Debits are taken in (statement id, line number) order; credits are ignored. A debit is matched to a
    line of the batch named in its reference whose bank account (and bank code, when the statement
    gives one) is the debit's counterparty; when several lines share that account, a merchant code in
    the reference, then the line whose remaining amount equals the debit, then the lowest merchant code
    decides. A debit up to the line's remaining amount matches (several debits may add up to the line;
    a partial sum stays pending). Otherwise the debit is unmatched with a reason: ``unknown_debit`` (no
    batch id, or no line of that batch), ``wrong_account``, ``wrong_amount`` (more than an unpaid
    line's amount) or ``over_payment`` (more than what is left of a line already partly or fully paid).
    """
    by_batch: dict[str, list[InstructionLineRef]] = {}
    matched: dict[tuple[str, str], int] = {}
    by_account: dict[tuple[str, str], list[InstructionLineRef]] = {}
    for ref in sorted(lines, key=lambda r: r.key):
        if ref.key in matched:
            raise ValueError(f"instruction line {ref.batch_id}/{ref.merchant_code} given twice")
        by_batch.setdefault(ref.batch_id.upper(), []).append(ref)
        matched[ref.key] = ref.already_matched
        by_account.setdefault((ref.batch_id.upper(), _account_key(ref.bank_account)), []).append(ref)
    results: list[PayoutMatch] = []
    unmatched: list[Unmatched] = []
    for debit in sorted((d for d in debits if d.amount < 0), key=lambda d: (d.statement_id, d.line_number)):
        paid = -debit.amount
        batch_ids = referenced_batches(debit.reference)
        batch_id = next((b for b in batch_ids if b in by_batch), "")
        if not batch_id:
            unmatched.append(_unmatched(debit, "unknown_debit", batch_ids[0] if batch_ids else ""))
            continue
        account = _account_key(debit.counterparty_account)
        candidates = [ref for ref in by_account.get((batch_id, account), ())
                      if account and _bank_equal(ref.bank_code, debit.counterparty_bank_code)]
        if not candidates:
            unmatched.append(_unmatched(debit, "wrong_account", batch_id))
            continue
        tokens = set(_TOKEN.findall(_norm(debit.reference)))
        named = [ref for ref in candidates if ref.merchant_code in tokens]
        pool = named or candidates
        exact = [ref for ref in pool if ref.amount - matched[ref.key] == paid]
        fitting = [ref for ref in pool if 0 < paid <= ref.amount - matched[ref.key]]
        chosen = (exact or fitting or pool)[0]
        remaining = chosen.amount - matched[chosen.key]
        if paid <= remaining:
            matched[chosen.key] += paid
            results.append(PayoutMatch(batch_id=chosen.batch_id, merchant_code=chosen.merchant_code,
                                       statement_id=debit.statement_id, line_number=debit.line_number, amount=paid))
        elif remaining == chosen.amount:
            unmatched.append(_unmatched(debit, "wrong_amount", batch_id, chosen.merchant_code))
        else:
            unmatched.append(_unmatched(debit, "over_payment", batch_id, chosen.merchant_code))
    settlements = tuple(LineSettlement(batch_id=ref.batch_id, merchant_code=ref.merchant_code, amount=ref.amount,
                                       matched=matched[ref.key])
                        for refs in (by_batch[b] for b in sorted(by_batch)) for ref in refs)
    return MatchResult(matches=tuple(results), lines=settlements, unmatched=tuple(unmatched))


@dataclass(frozen=True)
class DepositMatch:
    """A credit that funds a purchase."""

    reference: str
    statement_id: str
    line_number: int
    amount: int


def _ref_key(text: str) -> str:
    return _norm(text).upper()


def match_deposits(purchase_refs: Mapping[str, int], credits: Sequence[StatementLine],
                   ) -> tuple[tuple[DepositMatch, ...], tuple[Unmatched, ...]]:
    """Match trust-account credits to purchases awaiting funding (reference → amount due).

    A credit matches when its reference holds a purchase reference (the whole reference, or one of its
    words, compared case-insensitively after NFKC) and its amount equals the amount still due; a
    purchase is funded once. Otherwise: ``unknown_reference`` or ``wrong_amount``. Debits are ignored;
    credits are taken in (statement id, line number) order.
    """
    due = {_ref_key(ref): (ref, amount) for ref, amount in purchase_refs.items()}
    funded: set[str] = set()
    matches: list[DepositMatch] = []
    exceptions: list[Unmatched] = []
    for credit in sorted((c for c in credits if c.amount > 0), key=lambda c: (c.statement_id, c.line_number)):
        text = _ref_key(credit.reference)
        key = text if text in due else next((t for t in _TOKEN.findall(text) if t in due), None)
        if key is None:
            exceptions.append(_unmatched(credit, "unknown_reference"))
            continue
        reference, amount = due[key]
        if key in funded or credit.amount != amount:
            en, zh = REASONS["wrong_amount"]
            if key in funded:
                en, zh = "the purchase is already funded", "該購買單已入帳，此為重複存入"
            else:
                en, zh = (f"credit NT${credit.amount:,} differs from NT${amount:,} due",
                          f"存入金額 NT${credit.amount:,} 與應繳 NT${amount:,} 不符")
            exceptions.append(Unmatched(statement_id=credit.statement_id, line_number=credit.line_number,
                                        amount=credit.amount, reason="wrong_amount", message_en=en, message_zh=zh,
                                        reference=reference))
            continue
        funded.add(key)
        matches.append(DepositMatch(reference=reference, statement_id=credit.statement_id,
                                    line_number=credit.line_number, amount=credit.amount))
    return tuple(matches), tuple(exceptions)


# --- refunds to agencies -------------------------------------------------------------------------

_REFUND_IN_TEXT = re.compile(r"RF-?(\d{8})-?(\d{2,3})", re.IGNORECASE)

REFUND_REASONS = {
    "unknown_debit": ("no refund to an agency awaits this reference", "查無待撥付之機關退款指示"),
    "wrong_account": ("the refund went to an account that is not the agency's", "退款帳號與指示不符"),
    "wrong_amount": ("the refund's amount differs from the instruction", "退款金額與指示不符"),
    "over_payment": ("the refund is already paid", "該筆機關退款已撥付，此為溢付"),
}


def referenced_refunds(text: str) -> list[str]:
    """The refund references (``RF-YYYYMMDD-NN``) a statement reference names, in order."""
    return [f"RF-{day}-{number}" for day, number in _REFUND_IN_TEXT.findall(_norm(text))]


@dataclass(frozen=True)
class RefundRef:
    """A refund to an agency awaiting the bank: its reference, the agency's account and the amount."""

    reference: str
    bank_code: str
    bank_account: str
    amount: int


@dataclass(frozen=True)
class RefundMatch:
    """A debit that pays a refund to an agency in full."""

    reference: str
    statement_id: str
    line_number: int
    amount: int


def _refund_unmatched(line: StatementLine, reason: str, reference: str) -> Unmatched:
    en, zh = REFUND_REASONS[reason]
    return Unmatched(statement_id=line.statement_id, line_number=line.line_number, amount=line.amount,
                     reason=reason, message_en=en, message_zh=zh, reference=reference)


def match_agency_refunds(refunds: Sequence[RefundRef], lines: Sequence[StatementLine], *,
                         already_paid: Collection[str] = (),
                         ) -> tuple[tuple[RefundMatch, ...], tuple[Unmatched, ...], tuple[StatementLine, ...]]:
    """Match trust-account debits to refunds awaiting the bank; return (matches, unmatched, the rest).

    A debit whose reference names a refund (``RF-YYYYMMDD-NN``) is this matcher's: it matches when its
    counterparty account (and bank code, when the statement gives one) is the agency's and its amount is
    the whole refund (refunds are paid in one debit). Otherwise it is unmatched: ``unknown_debit`` (no
    such refund awaits the bank), ``wrong_account``, ``wrong_amount``, or ``over_payment`` (a second
    debit for a refund paid earlier in these lines or listed in ``already_paid``). Every other line — credits, and debits naming
    no refund — is returned untouched for the payout and deposit matching. Lines are taken in
    (statement id, line number) order.
    """
    awaiting = {ref.reference.upper(): ref for ref in refunds}
    paid: set[str] = {reference.upper() for reference in already_paid}
    matches: list[RefundMatch] = []
    unmatched: list[Unmatched] = []
    rest: list[StatementLine] = []
    for line in sorted(lines, key=lambda item: (item.statement_id, item.line_number)):
        named = referenced_refunds(line.reference) if line.amount < 0 else []
        if not named:
            rest.append(line)
            continue
        reference = next((name for name in named if name in awaiting or name in paid), named[0])
        ref = awaiting.get(reference)
        if reference in paid:
            unmatched.append(_refund_unmatched(line, "over_payment", reference))
        elif ref is None:
            unmatched.append(_refund_unmatched(line, "unknown_debit", reference))
        elif not _account_key(line.counterparty_account) or \
                _account_key(line.counterparty_account) != _account_key(ref.bank_account) or \
                not _bank_equal(ref.bank_code, line.counterparty_bank_code):
            unmatched.append(_refund_unmatched(line, "wrong_account", reference))
        elif -line.amount != ref.amount:
            unmatched.append(_refund_unmatched(line, "wrong_amount", reference))
        else:
            paid.add(reference)
            matches.append(RefundMatch(reference=ref.reference, statement_id=line.statement_id,
                                       line_number=line.line_number, amount=-line.amount))
    return tuple(matches), tuple(unmatched), tuple(rest)
