"""Masking table: valid, invalid-checksum and borderline examples of every kind of personal data."""

import pytest

from citygov.assistant.engine.masking import Finding, id_checksum_ok, luhn_ok, mask

MASK_TABLE = [
    # national ID: valid, failing checksum (still masked), lower case, full-width, inside Chinese text
    ("身分證A123456789", "身分證[ID]", [Finding("national_id", True)]),
    ("身分證A123456788", "身分證[ID]", [Finding("national_id", False)]),
    ("a123456789補發", "[ID]補發", [Finding("national_id", True)]),
    ("Ａ１２３４５６７８９", "[ID]", [Finding("national_id", True)]),
    ("我是F223456788喔", "我是[ID]喔", [Finding("national_id", False)]),
    # resident certificates, new (8/9) and old (second letter A-D)
    ("居留證A800000014", "居留證[ID]", [Finding("resident_new", True)]),
    ("居留證A900000015", "居留證[ID]", [Finding("resident_new", False)]),
    ("舊證號AA00000009", "舊證號[ID]", [Finding("resident_old", True)]),
    ("舊證號AB00000009", "舊證號[ID]", [Finding("resident_old", False)]),
    # mobile numbers in the usual groupings and international forms
    ("手機0912345678", "手機[PHONE]", [Finding("phone", None)]),
    ("手機0912-345-678", "手機[PHONE]", [Finding("phone", None)]),
    ("手機 0912 345 678", "手機 [PHONE]", [Finding("phone", None)]),
    ("+886 912 345 678", "[PHONE]", [Finding("phone", None)]),
    ("+886-912-345-678找我", "[PHONE]找我", [Finding("phone", None)]),
    # landlines with area codes and extensions
    ("(02)2720-8889#123", "[PHONE]", [Finding("phone", None)]),
    ("電話02-27208889", "電話[PHONE]", [Finding("phone", None)]),
    ("（03）332-2101", "[PHONE]", [Finding("phone", None)]),
    # e-mail, including full-width ＠
    ("寄到a.wang@example.com.tw", "寄到[EMAIL]", [Finding("email", None)]),
    ("ａｂｃ＠ｇｍａｉｌ．ｃｏｍ", "[EMAIL]", [Finding("email", None)]),
    # payment cards: Luhn-valid test numbers, a failing one (masked anyway), grouped by spaces or dashes
    ("卡號4111111111111111", "卡號[CARD]", [Finding("card", True)]),
    ("卡號4111 1111 1111 1111", "卡號[CARD]", [Finding("card", True)]),
    ("5555-5555-5555-4444", "[CARD]", [Finding("card", True)]),
    ("3530111333300000", "[CARD]", [Finding("card", True)]),
    ("卡號4111111111111112", "卡號[CARD]", [Finding("card", False)]),
    # addresses: road through number and floor masked, city and district kept
    ("住臺北市中山區中山北路二段100巷5弄3號4樓之1", "住臺北市中山區[ADDRESS]", [Finding("address", None)]),
    ("信義路5段7號", "[ADDRESS]", [Finding("address", None)]),
    ("我住中正路100巷", "我住[ADDRESS]", [Finding("address", None)]),
    # licence plates
    ("車牌ABC-1234被拖吊", "車牌[PLATE]被拖吊", [Finding("plate", None)]),
    ("1234-AB", "[PLATE]", [Finding("plate", None)]),
    # several kinds at once
    ("A123456789 0912-345-678 a@b.tw", "[ID] [PHONE] [EMAIL]", [
        Finding("national_id", True), Finding("phone", None), Finding("email", None)]),
]

# Never masked: public service numbers, a road without a house number, dates, years, amounts, short codes.
KEEP_TABLE = [
    "請撥1999市民當家熱線", "報案請打110", "火災請撥119", "反詐騙165", "免付費0800-080-090", "0800080090",
    "忠孝東路四段怎麼走", "民國113年5月1日", "2023-1234 報告", "300元", "101年度", "第12條", "B12345678",
    "A1234567890", "統編12345678",
]


@pytest.mark.parametrize(("text", "masked", "findings"), MASK_TABLE)
def test_mask_table(text, masked, findings):
    result = mask(text)
    assert result.text == masked
    assert list(result.findings) == findings


@pytest.mark.parametrize("text", KEEP_TABLE)
def test_public_numbers_and_ordinary_text_are_kept(text):
    result = mask(text)
    assert result.text == text.replace("０", "0")
    assert result.findings == ()


def test_id_checksum_vectors():
    assert [id_checksum_ok(v) for v in ("A123456789", "A800000014", "AA00000009", "A123456788", "A1234")] == [
        True, True, True, False, False]


def test_luhn():
    assert [luhn_ok(v) for v in ("4111111111111111", "5555555555554444", "4111111111111112")] == [True, True, False]


def test_empty_text():
    assert mask("").text == ""
    assert mask("").findings == ()


def test_known_limit_road_starting_with_city_character():
    # 市民大道 starts with 市, which ends city names; the road name loses that character but the number
    # and everything after it are still masked.
    assert mask("市民大道三段8號").text == "市[ADDRESS]"
