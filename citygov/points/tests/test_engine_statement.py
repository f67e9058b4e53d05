"""Trust-account statement engine: streaming CSV reader (encodings, ROC dates, mappings) and matching."""

from __future__ import annotations

import datetime as dt
import io
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citygov.points.engine.statement import (
    DEFAULT_MAPPING,
    InstructionLineRef,
    StatementError,
    StatementFormatError,
    StatementLine,
    match_deposits,
    match_payouts,
    parse_amount,
    parse_date,
    parse_mapping,
    read_statement,
)

SAMPLE = """對帳單編號,TS-20261121-01
期初餘額,"1,000,000"
交易日期,摘要,支出金額,存入金額,餘額,對方銀行代碼,對方帳號,備註
2026/11/21,撥付,"1,500",,"998,500",0040012,123456789012,B-20261120 04595257
115/11/21,存入,,"50,000","1,048,500",0120001,555000111222, PO-2026-0001<sp>
1151121,撥付,1.5,,,,,x

not-a-date,撥付,1,,,,,
2026-11-21,撥付,5,5,,,,
期末餘額,"1,048,500"


""".replace("<sp>", " ")  # a trailing space in the reference cell, stripped on reading


def _read(text: str, encoding: str = "utf-8", **kwargs):
    reader = read_statement(io.BytesIO(text.encode(encoding)), **kwargs)
    return reader, list(reader)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp950", "big5"])
def test_documented_sample_in_every_encoding(encoding):
    reader, items = _read(SAMPLE, encoding)
    assert items[:2] == [
        StatementLine(statement_id="TS-20261121-01", line_number=1, booked_on=dt.date(2026, 11, 21), amount=-1500,
                      reference="B-20261120 04595257", counterparty_bank_code="0040012",
                      counterparty_account="123456789012", description="撥付", balance_after=998_500),
        StatementLine(statement_id="TS-20261121-01", line_number=2, booked_on=dt.date(2026, 11, 21), amount=50_000,
                      reference="PO-2026-0001", counterparty_bank_code="0120001",
                      counterparty_account="555000111222", description="存入", balance_after=1_048_500),
    ]
    assert items[2:] == [
        StatementError(3, "not a whole NT$ amount: 1.5", "金額須為整數新臺幣元：1.5", "1151121,撥付,1.5,,,,,x"),
        StatementError(5, "unreadable date 'not-a-date'", "日期「not-a-date」無法辨識", "not-a-date,撥付,1,,,,,"),
        StatementError(6, "both debit and credit are filled in", "支出與存入同時有金額", "2026-11-21,撥付,5,5,,,,"),
    ]
    assert reader.encoding == ("utf-8-sig" if encoding == "utf-8-sig" else
                               "utf-8" if encoding == "utf-8" else "cp950")
    assert (reader.opening.amount, reader.closing.amount) == (1_000_000, 1_048_500)
    assert reader.statement_id == "TS-20261121-01"


def test_statement_id_from_argument_and_conflicts():
    body = SAMPLE.split("\n", 1)[1]  # without the 對帳單編號 row
    _, items = _read(body, statement_id="ARG-1")
    assert {item.statement_id for item in items if isinstance(item, StatementLine)} == {"ARG-1"}
    with pytest.raises(StatementFormatError, match="no statement id"):
        _read(body)
    with pytest.raises(StatementFormatError) as excinfo:
        _read(SAMPLE, statement_id="OTHER")
    assert excinfo.value.message_zh == "檔案內的對帳單編號「TS-20261121-01」與指定的「OTHER」不同"


def test_signed_amount_column_mapping_with_roc_dates_and_statement_id_column():
    mapping = parse_mapping("booked_on=日期,amount=金額,reference=附言,description=說明,balance_after=,"
                            "counterparty_bank_code=銀行,counterparty_account=帳號,statement_id=單號,date_format=roc")
    text = ("單號,日期,金額,附言,說明,銀行,帳號\n"
            "S9,113/05/02,-2,000,B-20240501,撥付,004,00123\n"  # unquoted thousand separator splits the cell
            "S9,113/05/02,\"-2,000\",B-20240501,撥付,004,00123\n"
            "S9,1130503,\"(300)\",,退款,,\n"
            "S9,113.05.04,0,,零元,,\n")
    _, items = _read(text, mapping=mapping)
    assert items[0] == StatementError(1, "the row has 8 cells but the header 7 (an amount with a thousands "
                                      "separator must be quoted)", "此列有 8 欄，標題列為 7 欄（含千分位的金額須加引號）",
                                      "S9,113/05/02,-2,000,B-20240501,撥付,004,00123")
    assert items[1] == StatementLine("S9", 2, dt.date(2024, 5, 2), -2000, "B-20240501", "004", "00123", "撥付", None)
    assert items[2] == StatementLine("S9", 3, dt.date(2024, 5, 3), -300, "", "", "", "退款", None)
    assert items[3] == StatementError(4, "amount is empty or zero", "金額空白或為零", "S9,113.05.04,0,,零元,,")


def test_missing_columns_and_missing_header_are_file_errors():
    with pytest.raises(StatementFormatError) as excinfo:
        _read("交易日期,金額\n2026-01-01,5\n")
    assert excinfo.value.message_en.startswith("statement header lacks column(s): debit=支出金額, credit=存入金額")
    with pytest.raises(StatementFormatError, match="no header row"):
        _read("a,b\n1,2\n", statement_id="S")
    with pytest.raises(StatementFormatError, match="UTF-16"):
        read_statement(io.BytesIO("交易日期".encode("utf-16")))
    with pytest.raises(StatementFormatError, match="neither UTF-8 nor Big5"):
        read_statement(io.BytesIO(b"\xff\xff\xff\x80\x80\n"))


def test_header_names_match_after_nfkc_and_case_and_english_preamble():
    text = ("Statement ID,EN-1\nClosing balance,\"10\"\n"
            "BOOKED,DEBIT,CREDIT\n2026-01-02,,10\n")
    mapping = parse_mapping('{"booked_on": "booked", "debit": "Debit", "credit": "Credit", "reference": ""}')
    reader, items = _read(text, mapping=mapping)
    assert items == [StatementLine("EN-1", 1, dt.date(2026, 1, 2), 10, "", "", "", "", None)]
    assert reader.closing.amount == 10
    # the default names of the optional columns are not in this file: read as empty, and listed
    assert reader.missing_columns == ("counterparty_bank_code", "counterparty_account", "description",
                                      "balance_after")


def test_the_samples_in_the_format_document_parse():
    from pathlib import Path
    doc = (Path(__file__).resolve().parents[3] / "docs" / "points_statement_format.md").read_text("utf-8")
    sample = doc.split("```csv\n", 1)[1].split("```", 1)[0]
    reader, items = _read(sample)
    assert [(i.line_number, i.amount, i.reference) for i in items] == [
        (1, -1500, "B-20261120 04595257"), (2, -2000, "B-20261120 22099131"), (3, 50_000, "PO-2026-0001")]
    assert (reader.opening.amount, reader.closing.amount, reader.missing_columns) == (1_000_000, 1_046_500, ())
    mapping = parse_mapping(doc.split('--map "', 1)[1].split('"', 1)[0])
    assert (mapping.amount, mapping.debit, mapping.balance_after, mapping.date_format) == ("交易金額", "", "", "roc")


def test_undecodable_bytes_are_reported_on_their_row_and_the_rest_continue():
    good = "對帳單編號,X\n交易日期,摘要,支出金額,存入金額,餘額,對方銀行代碼,對方帳號,備註\n".encode()
    data = good + b"2026-01-01,\xff\xfe,1,,,,,\n" + "2026-01-02,撥付,2,,,,,\n".encode()
    reader, items = _read_bytes(data)
    assert reader.encoding == "utf-8"
    assert items[0] == StatementError(1, "the row holds bytes that are not valid text in the file's encoding "
                                      "(utf-8)", "此列含有無法以 utf-8 解碼的位元組", "2026-01-01,\ufffd\ufffd,1,,,,,")
    assert items[1] == StatementLine("X", 2, dt.date(2026, 1, 2), -2, "", "", "", "撥付", None)


def _read_bytes(data: bytes, **kwargs):
    reader = read_statement(io.BytesIO(data), **kwargs)
    return reader, list(reader)


def test_undecodable_row_late_in_a_utf8_file():
    header = "對帳單編號,X\n交易日期,摘要,支出金額,存入金額,餘額,對方銀行代碼,對方帳號,備註\n".encode()
    filler = "2026-01-01,撥付,1,,,,,\n".encode() * 5000  # pushes the bad row past the sniffed head
    data = header + filler + b"2026-01-02,\xff,1,,,,,\n" + "2026-01-03,撥付,3,,,,,\n".encode()
    reader, items = _read_bytes(data)
    assert reader.encoding == "utf-8"
    assert len(items) == 5002
    assert items[5000].line_number == 5001
    assert isinstance(items[5000], StatementError)
    assert items[5000].message_zh == "此列含有無法以 utf-8 解碼的位元組"
    assert items[5001] == StatementLine("X", 5002, dt.date(2026, 1, 3), -3, "", "", "", "撥付", None)


def _peak_memory(rows: int) -> int:
    header = "對帳單編號,X\n交易日期,摘要,支出金額,存入金額,餘額,對方銀行代碼,對方帳號,備註\n".encode()
    row = "2026-01-01,撥付,\"1,000\",,,004,1234567,B-20260101\n".encode()
    stream = io.BytesIO(header + row * rows)
    tracemalloc.start()
    count = 0
    for item in read_statement(stream):
        count += isinstance(item, StatementLine)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == rows
    return peak


def test_reading_streams_in_constant_memory(monkeypatch):
    from citygov.points.engine import statement

    monkeypatch.setattr(statement, "SNIFF_BYTES", 8 * 1024)  # read in 8 KiB pieces to keep the test short
    small, large = _peak_memory(1_500), _peak_memory(4_500)  # 87 kB and 261 kB files
    assert large < small * 1.25  # memory follows the read size, not the file size


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-21", dt.date(2026, 11, 21)), ("2026/1/2", dt.date(2026, 1, 2)), ("20261121", dt.date(2026, 11, 21)),
    ("113/05/02", dt.date(2024, 5, 2)), ("1130502", dt.date(2024, 5, 2)), ("99/12/31", dt.date(2010, 12, 31)),
    ("民國113年5月2日", dt.date(2024, 5, 2)), ("１１３／０５／０２", dt.date(2024, 5, 2)),
])
def test_dates(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["", "2026-13-01", "113/02/30", "990502", "yesterday"])
def test_bad_dates(text):
    with pytest.raises(ValueError):
        parse_date(text)


def test_date_formats_forced():
    assert parse_date("990502", "roc") == dt.date(2010, 5, 2)
    assert parse_date("21.11.2026", "%d.%m.%Y") == dt.date(2026, 11, 21)
    with pytest.raises(ValueError):
        parse_date("113/05/02", "iso")


@pytest.mark.parametrize(("text", "expected"), [
    ("1,234", 1234), ("-1,234", -1234), ("NT$1,234.00", 1234), ("(500)", -500), ("500-", -500), ("  ", None),
    ("１，２３４", 1234), ("+7", 7),
])
def test_amounts(text, expected):
    assert parse_amount(text) == expected


@pytest.mark.parametrize("text", ["12.5", "1,234.01", "abc", "NaN", "Infinity"])
def test_bad_amounts(text):
    with pytest.raises(ValueError):
        parse_amount(text)


def test_mapping_option_errors_are_clear():
    with pytest.raises(StatementFormatError, match="unknown field\\(s\\) colour"):
        parse_mapping("colour=red")
    with pytest.raises(StatementFormatError, match="is not name=value"):
        parse_mapping("booked_on")
    with pytest.raises(StatementFormatError, match="not valid JSON"):
        parse_mapping("{bad json")
    with pytest.raises(StatementFormatError, match="give amount=, or both debit= and credit="):
        parse_mapping("debit=")
    with pytest.raises(StatementFormatError, match="date format"):
        parse_mapping("date_format=dmy")
    assert parse_mapping("delimiter=tab").delimiter == "\t"
    assert parse_mapping("amount=金額").debit == ""
    assert DEFAULT_MAPPING.columns()["credit"] == "存入金額"


# --- matching -------------------------------------------------------------------------------------------

def _debit(number: int, amount: int, reference: str, account: str = "123456789012", bank: str = "0040012",
           statement: str = "S1") -> StatementLine:
    return StatementLine(statement, number, dt.date(2026, 11, 22), -amount, reference, bank, account, "撥付", None)


LINES = [
    InstructionLineRef("B-20261121", "04595257", "0040012", "123456789012", 1500),
    InstructionLineRef("B-20261121", "22099131", "812", "000987654321", 1000),
    InstructionLineRef("B-20261120", "04595257", "0040012", "123456789012", 700, already_matched=700),
]


def test_exact_debits_settle_their_lines():
    result = match_payouts(LINES, [_debit(1, 1500, "B-20261121 04595257"),
                                   _debit(2, 1000, "撥付 B20261121", account="987654321", bank="812")])
    assert [(m.batch_id, m.merchant_code, m.line_number, m.amount) for m in result.matches] == [
        ("B-20261121", "04595257", 1, 1500), ("B-20261121", "22099131", 2, 1000)]
    assert [(s.batch_id, s.merchant_code, s.settled) for s in result.lines] == [
        ("B-20261120", "04595257", True), ("B-20261121", "04595257", True), ("B-20261121", "22099131", True)]
    assert result.unmatched == ()


def test_split_payments_add_up_and_partial_sums_stay_pending():
    partial = match_payouts(LINES, [_debit(1, 1000, "B-20261121")])
    assert partial.lines[1].matched == 1000
    assert (partial.lines[1].settled, partial.lines[1].pending) == (False, 500)
    ref = InstructionLineRef("B-20261121", "04595257", "0040012", "123456789012", 1500, already_matched=1000)
    rest = match_payouts([ref], [_debit(7, 500, "B-20261121", statement="S2")])
    assert rest.lines[0].settled is True
    assert rest.matches[0].amount == 500


def test_each_unmatched_reason():
    result = match_payouts(LINES, [
        _debit(1, 1500, "no batch here"),
        _debit(2, 1500, "B-20250101"),
        _debit(3, 1500, "B-20261121", account="111"),
        _debit(4, 1501, "B-20261121 04595257"),
        _debit(5, 1, "B-20261120 04595257"),
        _debit(6, 1500, "B-20261121", bank="0050012"),
    ])
    assert [(u.line_number, u.reason) for u in result.unmatched] == [
        (1, "unknown_debit"), (2, "unknown_debit"), (3, "wrong_account"), (4, "wrong_amount"), (5, "over_payment"),
        (6, "wrong_account")]
    assert result.unmatched[1].batch_id == "B-20250101"
    assert result.unmatched[3].message_zh == "撥付金額與指示書不符"
    assert result.unmatched[3].amount == -1501
    assert result.matches == ()


def test_over_payment_after_a_partial_and_credits_are_ignored():
    credit = StatementLine("S1", 9, dt.date(2026, 11, 22), 99, "B-20261121", "004", "123456789012", "", None)
    result = match_payouts(LINES, [_debit(1, 1000, "B-20261121"), _debit(2, 600, "B-20261121"), credit])
    assert [(u.line_number, u.reason) for u in result.unmatched] == [(2, "over_payment")]
    assert result.lines[1].matched == 1000


def test_matching_is_deterministic_whatever_the_order():
    debits = [_debit(n, 500, "B-20261121") for n in range(1, 5)]
    a = match_payouts(LINES, debits)
    b = match_payouts(list(reversed(LINES)), list(reversed(debits)))
    assert a == b
    assert [u.line_number for u in a.unmatched] == [4]


def test_shared_account_prefers_the_named_merchant_then_the_exact_amount():
    lines = [InstructionLineRef("B-20261121", "04595257", "004", "555", 300),
             InstructionLineRef("B-20261121", "22099131", "004", "555", 200)]
    by_amount = match_payouts(lines, [_debit(1, 200, "B-20261121", account="555", bank="004")])
    assert by_amount.matches[0].merchant_code == "22099131"
    by_name = match_payouts(lines, [_debit(1, 200, "B-20261121 04595257", account="555", bank="004")])
    assert by_name.matches[0].merchant_code == "04595257"


def test_duplicate_instruction_lines_are_refused():
    with pytest.raises(ValueError, match="given twice"):
        match_payouts([LINES[0], LINES[0]], [])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=8))
def test_split_payouts_never_exceed_the_line(parts):
    line = InstructionLineRef("B-20261121", "04595257", "004", "555", 1000)
    result = match_payouts([line], [_debit(n, p, "B-20261121", account="555", bank="004")
                                    for n, p in enumerate(parts, start=1)])
    matched = sum(m.amount for m in result.matches)
    assert matched == result.lines[0].matched <= 1000
    assert matched + sum(-u.amount for u in result.unmatched) == sum(parts)
    assert result.lines[0].settled == (matched == 1000)


def _credit(number: int, amount: int, reference: str) -> StatementLine:
    return StatementLine("S1", number, dt.date(2026, 11, 22), amount, reference, "012", "555", "存入", None)


def test_deposits_match_references_and_report_the_rest():
    matches, exceptions = match_deposits({"PO-2026-0001": 50_000, "PO-2026-0002": 20_000}, [
        _credit(1, 50_000, "po-2026-0001"),
        _credit(2, 20_000, "機關繳款 PO-2026-0002 謝謝"),
        _credit(3, 50_000, "PO-2026-0001"),
        _credit(4, 10, "PO-9999"),
        _debit(5, 50_000, "PO-2026-0001"),
    ])
    assert [(m.reference, m.line_number, m.amount) for m in matches] == [
        ("PO-2026-0001", 1, 50_000), ("PO-2026-0002", 2, 20_000)]
    assert [(e.line_number, e.reason, e.message_en) for e in exceptions] == [
        (3, "wrong_amount", "the purchase is already funded"),
        (4, "unknown_reference", "no purchase with this reference awaits funding")]


def test_deposit_with_the_wrong_amount():
    matches, exceptions = match_deposits({"PO-1": 1000}, [_credit(1, 999, "PO-1")])
    assert matches == ()
    assert exceptions[0].message_zh == "存入金額 NT$999 與應繳 NT$1,000 不符"
    assert exceptions[0].reference == "PO-1"
