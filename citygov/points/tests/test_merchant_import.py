"""The merchant CSV import: streamed, validated per row, bad rows by physical line, idempotent, UTF-8 or Big5."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from django.utils import translation

from citygov.core.errors import Forbidden, InvalidInput
from citygov.core.models import ChangeLog
from citygov.points.models import Hold, HoldStatus, Merchant, MerchantStatus
from citygov.points.services import ledger
from citygov.points.services.merchants import do_import_merchants, parse_date, parse_yes_no
from citygov.points.tests.support import now_plus

pytestmark = pytest.mark.django_db
S = MerchantStatus
SAMPLE = Path(__file__).parent / "data" / "merchants-sample.csv"
HEADER = "tax_id,name,category,address,bank_code,bank_account,contract_start,contract_end,status,points_enabled,lon,lat\n"

MIXED = HEADER + (
    "04595257,中壢好食堂,餐飲,桃園市中壢區中正路100號,0081234,1234-5678-9012,2023-01-01,2025-12-31,active,是,"
    "121.2249,24.9537\n"                                                        # line 2: good
    "22099131,臺北分店,零售,臺北市信義區市府路1號,,,112/01/31,114-01-30,applied,否,,\n"  # line 3: good, no district
    "04595258,錯號商店,零售,,,,,,,,,\n"                                          # line 4: bad tax_id
    "12345676,日期錯,餐飲,,,,2023-02-30,,,,,\n"                                  # line 5: bad date
    '10458575,多行地址店,小吃,"桃園市八德區\n介壽路一段\n1號",,,,,active,Y,,\n'    # lines 6-8: good
    "04595257,重複,,,,,,,,,,\n"                                                  # line 9: duplicate of line 2
    "12345675,狀態錯,,,,,,,休息中,,,\n"                                          # line 10: unknown status
    "22099136,座標錯,,,,,,,,,119.5,24.9\n"                                       # line 11: outside Taoyuan
)
MIXED_ERRORS = [
    "line 4: tax_id: Not a valid business ID (統一編號): 8 digits with a correct check digit.",
    "line 5: contract_start: Not a date: write YYYY-MM-DD or an ROC date such as 112/01/31.",
    "line 9: duplicate of line 2",
    "line 10: status: Unknown status: 休息中",
    "line 11: lon: Longitude must be between 120.9 and 121.5 (Taoyuan).",
]


@pytest.fixture(autouse=True)
def _english():
    """Messages are asserted in English (the default language is zh-Hant)."""
    with translation.override("en"):
        yield


def write(tmp_path: Path, text: str, *, encoding: str = "utf-8", name: str = "merchants.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def counts(report) -> tuple[int, int, int, int]:
    return report.created, report.updated, report.unchanged, len(report.errors)


# --- a mixed file -------------------------------------------------------------------------------

def test_good_rows_are_imported_and_bad_rows_reported_by_line(operator, reference_data, tmp_path):
    report = do_import_merchants(operator, write(tmp_path, MIXED))
    assert counts(report) == (3, 0, 0, 5)
    assert report.errors == MIXED_ERRORS
    assert [p.line for p in report.problems] == [4, 5, 9, 10, 11]
    assert report.rows == 8
    assert sorted(Merchant.objects.values_list("tax_id", flat=True)) == ["04595257", "10458575", "22099131"]

    zhongli = Merchant.objects.select_related("district").get(tax_id="04595257")
    assert (zhongli.status, zhongli.points_enabled, zhongli.bank_code, zhongli.bank_account) == (
        S.ACTIVE, True, "0081234", "123456789012")
    assert (zhongli.contract_start, zhongli.contract_end) == (dt.date(2023, 1, 1), dt.date(2025, 12, 31))
    assert (zhongli.lon, zhongli.lat) == (121.2249, 24.9537)
    assert zhongli.district.name_zh == "中壢區"

    taipei = Merchant.objects.get(tax_id="22099131")
    assert taipei.district is None  # outside Taoyuan: no district, never a guess
    assert (taipei.contract_start, taipei.contract_end) == (dt.date(2023, 1, 31), dt.date(2025, 1, 30))
    assert (taipei.status, taipei.points_enabled) == (S.APPLIED, False)

    multiline = Merchant.objects.select_related("district").get(tax_id="10458575")
    assert multiline.address == "桃園市八德區 介壽路一段 1號"
    assert multiline.district.name_zh == "八德區"
    assert (multiline.status, multiline.points_enabled) == (S.ACTIVE, True)

    notes = list(ChangeLog.objects.filter(object_type="points.merchant").order_by("id").values_list("note", flat=True))
    assert notes == ["CSV import, line 2", "CSV import, line 3", "CSV import, line 6"]


def test_reimporting_the_same_file_changes_nothing(operator, reference_data, tmp_path):
    path = write(tmp_path, MIXED)
    do_import_merchants(operator, path)
    snapshot = list(Merchant.objects.order_by("tax_id").values())
    log_rows = ChangeLog.objects.count()

    again = do_import_merchants(operator, path)

    assert counts(again) == (0, 0, 3, 5)
    assert again.errors == MIXED_ERRORS
    assert list(Merchant.objects.order_by("tax_id").values()) == snapshot
    assert ChangeLog.objects.count() == log_rows


def test_a_changed_row_is_updated_and_logged_with_its_line(operator, merchant_factory, tmp_path):
    merchant = merchant_factory("04595257", "舊名", category="餐飲", points_enabled=False)
    report = do_import_merchants(operator, write(tmp_path, "tax_id,name,category,points_enabled\n"
                                                           "04595257,新名,餐飲,是\n"))
    assert counts(report) == (0, 1, 0, 0)
    merchant.refresh_from_db()
    assert (merchant.name, merchant.points_enabled) == ("新名", True)
    row = ChangeLog.objects.get(object_type="points.merchant")
    assert (row.before, row.after, row.note) == ({"name": "舊名", "points_enabled": False},
                                                 {"name": "新名", "points_enabled": True}, "CSV import, line 2")


def test_columns_missing_from_the_header_are_left_alone(operator, merchant_factory, tmp_path):
    merchant = merchant_factory("04595257", "原名", bank_code="008", bank_account="123456789",
                                contract_end=dt.date(2026, 1, 1))
    report = do_import_merchants(operator, write(tmp_path, "name,tax_id\n原名,04595257\n"))
    assert counts(report) == (0, 0, 1, 0)
    merchant.refresh_from_db()
    assert (merchant.bank_code, merchant.bank_account, merchant.contract_end) == ("008", "123456789",
                                                                                  dt.date(2026, 1, 1))


def test_blank_status_and_points_keep_the_stored_values(operator, merchant_factory, tmp_path):
    merchant = merchant_factory("04595257", "店", status=S.SUSPENDED, points_enabled=True)
    report = do_import_merchants(operator, write(tmp_path, "tax_id,name,status,points_enabled\n04595257,店,,\n"))
    assert counts(report) == (0, 0, 1, 0)
    merchant.refresh_from_db()
    assert (merchant.status, merchant.points_enabled) == (S.SUSPENDED, True)


# --- status changes follow the lifecycle --------------------------------------------------------

def test_an_allowed_status_change_is_applied(operator, merchant_factory, tmp_path):
    merchant_factory("04595257", "店", status=S.ACTIVE)
    merchant_factory("22099131", "店二", status=S.SUSPENDED)
    report = do_import_merchants(operator, write(tmp_path, "tax_id,name,status\n04595257,店,停權\n22099131,店二,active\n"))
    assert counts(report) == (0, 2, 0, 0)
    assert dict(Merchant.objects.values_list("tax_id", "status")) == {"04595257": S.SUSPENDED, "22099131": S.ACTIVE}
    notes = list(ChangeLog.objects.order_by("id").values_list("note", flat=True))
    assert notes == ["CSV import, line 2; active → suspended; open holds voided: 0",
                     "CSV import, line 3; suspended → active; open holds voided: 0"]


@pytest.mark.parametrize(("stored", "wanted"), [
    (S.ACTIVE, S.APPLIED), (S.CLOSED, S.ACTIVE), (S.APPLIED, S.SUSPENDED), (S.NOT_RENEWED, S.SUSPENDED),
    (S.APPLIED, S.CLOSED),
])
def test_a_status_change_the_lifecycle_forbids_is_an_error_and_changes_nothing(operator, merchant_factory, tmp_path,
                                                                              stored, wanted):
    merchant = merchant_factory("04595257", "原名", status=stored)
    report = do_import_merchants(operator, write(tmp_path, f"tax_id,name,status\n04595257,新名,{wanted}\n"))
    assert counts(report) == (0, 0, 0, 1)
    assert report.errors == [f"line 2: status: A merchant cannot go from {stored} to {wanted}."]
    merchant.refresh_from_db()
    assert (merchant.name, merchant.status) == ("原名", stored)  # the row's other changes are not applied either
    assert ChangeLog.objects.count() == 0


def test_a_new_merchant_takes_the_files_status(operator, tmp_path):
    report = do_import_merchants(operator, write(tmp_path, "tax_id,name,status\n04595257,新店,not_renewed\n"))
    assert counts(report) == (1, 0, 0, 0)
    assert Merchant.objects.get().status == S.NOT_RENEWED


def test_suspension_by_import_voids_open_holds(programme, tmp_path):
    p = programme
    ledger.do_grant(p.operator, p.campaign.pk, p.members[0].card_number, now=now_plus(minutes=1))
    hold = ledger.do_hold(p.ctx, p.members[0].card_number, 20, now=now_plus(minutes=2))
    assert (hold.status, p.merchant.tax_id) == (HoldStatus.OPEN, "04595257")
    # The hold is voided with the server clock; it is still inside its 120 s in the test's timeline,
    # and the lot (T0 + 30 days) may have expired by the real clock: then the points expire at once (R4).
    report = do_import_merchants(p.operator, write(tmp_path, "tax_id,name,status\n04595257,桃園好店,suspended\n"))
    assert counts(report) == (0, 1, 0, 0)
    assert Hold.objects.get(pk=hold.pk).status == HoldStatus.VOIDED
    assert ChangeLog.objects.filter(note="CSV import, line 2; active → suspended; open holds voided: 1").count() == 1


# --- encodings, streams, line numbers -----------------------------------------------------------

BIG5_TEXT = HEADER + "04595257,龜山豆花店,甜品,桃園市龜山區萬壽路二段100號,,,113/02/01,115/01/31,營業中,是,,\n"


def test_a_big5_file_is_read(operator, reference_data, tmp_path):
    path = write(tmp_path, BIG5_TEXT, encoding="cp950")
    assert path.read_bytes()[:len(HEADER)].decode("ascii") == HEADER  # ASCII header, Big5 body
    report = do_import_merchants(operator, path)
    assert (counts(report), report.encoding) == ((1, 0, 0, 0), "cp950")
    merchant = Merchant.objects.select_related("district").get()
    assert (merchant.name, merchant.category, merchant.district.name_zh) == ("龜山豆花店", "甜品", "龜山區")
    assert (merchant.status, merchant.contract_start) == (S.ACTIVE, dt.date(2024, 2, 1))


@pytest.mark.parametrize(("encoding", "detected"), [("utf-8", "utf-8-sig"), ("utf-8-sig", "utf-8-sig")])
def test_utf8_with_or_without_bom(operator, tmp_path, encoding, detected):
    report = do_import_merchants(operator, write(tmp_path, BIG5_TEXT, encoding=encoding))
    assert (counts(report), report.encoding) == ((1, 0, 0, 0), detected)
    assert Merchant.objects.get().name == "龜山豆花店"


def test_a_file_in_neither_encoding_is_refused_whole(operator, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(HEADER.encode() + b"04595257,\xff\xfe\xff,x\n")
    with pytest.raises(InvalidInput) as caught:
        do_import_merchants(operator, path)
    assert caught.value.code == "unreadable_file"
    assert Merchant.objects.count() == 0


def test_big5_detected_when_utf8_breaks_late(operator, tmp_path):
    # 77,000 bytes of ASCII come first, more than one 64 KiB read: the first chunk alone looks like UTF-8,
    # so a file is checked to its end before the encoding is chosen. (The repeats are cheap duplicate errors.)
    text = "tax_id,name\n" + "04595257,xx\n" * 7000 + "22099131,桃園小店\n"
    report = do_import_merchants(operator, write(tmp_path, text, encoding="cp950"))
    assert (counts(report), report.encoding) == ((2, 0, 0, 6999), "cp950")
    assert report.errors[-1] == "line 7001: duplicate of line 2"
    assert Merchant.objects.get(tax_id="22099131").name == "桃園小店"


def test_streams_are_accepted(operator):
    text = "tax_id,name\n04595257,位元串流\n22099131,文字串流\n"
    assert counts(do_import_merchants(operator, io.BytesIO(text.encode("cp950")))) == (2, 0, 0, 0)
    assert counts(do_import_merchants(operator, io.StringIO(text))) == (0, 0, 2, 0)


class OneWayStream(io.RawIOBase):
    """A byte stream that cannot seek (a pipe)."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._data.read(len(buffer))
        buffer[:len(chunk)] = chunk
        return len(chunk)


def test_a_stream_that_cannot_seek_is_sniffed_from_its_start(operator):
    stream = OneWayStream(BIG5_TEXT.encode("cp950"))
    assert stream.seekable() is False
    report = do_import_merchants(operator, stream)
    assert (counts(report), report.encoding) == ((1, 0, 0, 0), "cp950")


def test_blank_lines_are_skipped_but_counted(operator, tmp_path):
    report = do_import_merchants(operator, write(tmp_path, "tax_id,name\n\n04595257,店\n,\n\n04595258,壞\n"))
    assert counts(report) == (1, 0, 0, 1)
    assert report.errors == ["line 6: tax_id: Not a valid business ID (統一編號): 8 digits with a correct check digit."]


def test_a_row_with_the_wrong_number_of_cells(operator, tmp_path):
    report = do_import_merchants(operator, write(tmp_path, "tax_id,name,category\n04595257,店\n22099131,店,餐飲,多\n"))
    assert report.errors == ["line 2: Expected 3 cells, found 2.", "line 3: Expected 3 cells, found 4."]
    assert Merchant.objects.count() == 0


def test_required_cells(operator, tmp_path):
    report = do_import_merchants(operator, write(tmp_path, "tax_id,name\n,無號\n04595257,\n"))
    assert report.errors == ["line 2: tax_id: Required.", "line 3: name: Required."]
    assert Merchant.objects.count() == 0


@pytest.mark.parametrize(("header", "message"), [
    ("name,category\n", "Bad header: missing columns: tax_id"),
    ("tax_id,name,phone\n", "Bad header: unknown columns: phone"),
    ("tax_id,name,name\n", "Bad header: repeated columns: name"),
    ("", "The file has no header row."),
])
def test_a_bad_header_imports_nothing(operator, tmp_path, header, message):
    with pytest.raises(InvalidInput) as caught:
        do_import_merchants(operator, write(tmp_path, header + "04595257,店,x\n" if header else ""))
    assert (caught.value.code, caught.value.message) == ("bad_header", message)
    assert Merchant.objects.count() == 0


def test_a_missing_file(operator, tmp_path):
    with pytest.raises(InvalidInput) as caught:
        do_import_merchants(operator, tmp_path / "nope.csv")
    assert caught.value.code == "unreadable_file"


def test_only_merchant_managers_may_import(admin_a, auditor, tmp_path):
    path = write(tmp_path, "tax_id,name\n04595257,店\n")
    for user in (admin_a, auditor):
        with pytest.raises(Forbidden):
            do_import_merchants(user, path)
    assert Merchant.objects.count() == 0
    assert ChangeLog.objects.count() == 0


# --- the sample file ----------------------------------------------------------------------------

def test_the_sample_file(operator, reference_data):
    report = do_import_merchants(operator, SAMPLE)
    assert (counts(report), report.encoding, report.rows) == ((16, 0, 0, 4), "utf-8-sig", 20)
    assert report.errors == [
        "line 17: tax_id: Not a valid business ID (統一編號): 8 digits with a correct check digit.",
        "line 18: contract_start: Not a date: write YYYY-MM-DD or an ROC date such as 112/01/31.",
        "line 19: duplicate of line 2",
        "line 20: status: Unknown status: 休息中",
    ]
    districts = dict(Merchant.objects.values_list("tax_id", "district__name_zh"))
    assert districts["33343251"] == "桃園區"  # the two-line address
    assert districts["20399018"] == "中壢區"  # district without the city
    assert districts["65627516"] is None  # Taipei head office
    assert len({name for name in districts.values() if name}) == 13  # every Taoyuan district has a merchant
    assert counts(do_import_merchants(operator, SAMPLE)) == (0, 0, 16, 4)


# --- value parsers --------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("2023-01-31", dt.date(2023, 1, 31)), ("2023/1/5", dt.date(2023, 1, 5)), ("112/01/31", dt.date(2023, 1, 31)),
    ("112-01-31", dt.date(2023, 1, 31)), ("99/12/31", dt.date(2010, 12, 31)), ("１１２/０１/３１", dt.date(2023, 1, 31)),
    ("", None), ("  ", None),
])
def test_parse_date(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["2023-02-30", "112/13/01", "31/01/2023", "20230131", "明天", "1/2/3"])
def test_parse_date_refuses(text):
    with pytest.raises(ValueError):
        parse_date(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("是", True), ("否", False), ("Y", True), ("n", False), ("1", True), ("0", False), ("TRUE", True),
    ("false", False), ("", None),
])
def test_parse_yes_no(text, expected):
    assert parse_yes_no(text) is expected


def test_parse_yes_no_refuses():
    with pytest.raises(ValueError):
        parse_yes_no("也許")
