"""citygov.core.text.masking: IDs, phone numbers and e-mail addresses are masked; nothing else changes."""

from __future__ import annotations

import pytest

from citygov.core.text.masking import mask_personal_data


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("A123456789", "[ID]", id="national-id-male"),
    pytest.param("F223456789", "[ID]", id="national-id-female"),
    pytest.param("a123456789", "[ID]", id="national-id-lower-case"),
    pytest.param("A123456780", "[ID]", id="bad-checksum-still-masked"),
    pytest.param("AB12345678", "[ID]", id="resident-old-AB"),
    pytest.param("HD12345678", "[ID]", id="resident-old-D"),
    pytest.param("A812345678", "[ID]", id="resident-new-8"),
    pytest.param("A912345678", "[ID]", id="resident-new-9"),
    pytest.param("身分證字號Ａ１２３４５６７８９，謝謝", "身分證字號[ID]，謝謝", id="fullwidth-id-in-chinese"),
    pytest.param("我的身分證是A123456789請查詢", "我的身分證是[ID]請查詢", id="id-between-cjk"),
])
def test_masks_ids(text, expected):
    assert mask_personal_data(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("0912345678", "[PHONE]", id="mobile-plain"),
    pytest.param("0912-345-678", "[PHONE]", id="mobile-dashes"),
    pytest.param("0912 345 678", "[PHONE]", id="mobile-spaces"),
    pytest.param("0912-345678", "[PHONE]", id="mobile-4-6"),
    pytest.param("０９１２－３４５－６７８", "[PHONE]", id="mobile-fullwidth"),
    pytest.param("0912—345—678", "[PHONE]", id="mobile-em-dashes"),
    pytest.param("+886 912 345 678", "[PHONE]", id="mobile-intl-spaces"),
    pytest.param("+886-912-345-678", "[PHONE]", id="mobile-intl-dashes"),
    pytest.param("+886912345678", "[PHONE]", id="mobile-intl-plain"),
    pytest.param("(+886)912345678", "[PHONE]", id="mobile-intl-brackets"),
    pytest.param("+886 (0)912-345-678", "[PHONE]", id="mobile-intl-kept-zero"),
    pytest.param("(03)332-2101", "[PHONE]", id="landline-brackets"),
    pytest.param("03-3322101", "[PHONE]", id="landline-dash"),
    pytest.param("(03) 3322101", "[PHONE]", id="landline-brackets-space"),
    pytest.param("（０３）３３２－２１０１", "[PHONE]", id="landline-fullwidth"),
    pytest.param("02-2720-8889", "[PHONE]", id="landline-taipei"),
    pytest.param("037-123456", "[PHONE]", id="landline-miaoli-6-digits"),
    pytest.param("(03)332-2101#5", "[PHONE]", id="landline-extension"),
    pytest.param("+886-3-332-2101", "[PHONE]", id="landline-intl"),
    pytest.param("請回電0912345678或03-3322101", "請回電[PHONE]或[PHONE]", id="two-phones-in-chinese"),
])
def test_masks_phone_numbers(text, expected):
    assert mask_personal_data(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("a@b.tw", "[EMAIL]", id="short"),
    pytest.param("wang.xm+faq@mail.tycg.gov.tw", "[EMAIL]", id="subdomains-plus"),
    pytest.param("信箱：ｗａｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ，謝謝", "信箱：[EMAIL]，謝謝", id="fullwidth"),
    pytest.param("0912345678@gmail.com", "[EMAIL]", id="phone-shaped-local-part"),
])
def test_masks_emails(text, expected):
    assert mask_personal_data(text) == expected


def test_masks_everything_in_one_message():
    text = "我是王小明，身分證A123456789，手機0912-345-678，信箱a@b.tw，家裡(03)332-2101。"
    assert mask_personal_data(text) == "我是王小明，身分證[ID]，手機[PHONE]，信箱[EMAIL]，家裡[PHONE]。"


def test_keeps_fullwidth_text_outside_the_spans():
    text = "（急）手機０９１２３４５６７８，地址桃園市中壢區中正路１００號"
    assert mask_personal_data(text) == "（急）手機[PHONE]，地址桃園市中壢區中正路１００號"


@pytest.mark.parametrize("text", [
    pytest.param("請撥打1999市民專線", id="1999"),
    pytest.param("報案請撥110", id="110"),
    pytest.param("火災請撥119", id="119"),
    pytest.param("保護專線113", id="113"),
    pytest.param("反詐騙諮詢專線165", id="165"),
    pytest.param("1999、110、119、113、165", id="all-public-numbers"),
    pytest.param("１９９９", id="fullwidth-1999"),
    pytest.param("免付費電話0800-000-123", id="toll-free"),
])
def test_never_masks_public_service_numbers(text):
    assert mask_personal_data(text) == text


@pytest.mark.parametrize("text", [
    pytest.param("", id="empty"),
    pytest.param("桃園市政府資訊科技局", id="plain-chinese"),
    pytest.param("桃園市中壢區中正路100號5樓", id="address"),
    pytest.param("A323456789", id="id-second-digit-3"),
    pytest.param("XA123456789", id="id-inside-longer-code"),
    pytest.param("A1234567890", id="id-with-extra-digit"),
    pytest.param("091234567", id="mobile-one-digit-short"),
    pytest.param("09123456789", id="mobile-one-digit-long"),
    pytest.param("2024-03-15", id="date"),
    pytest.param("03-15", id="short-dash-number"),
    pytest.param("訂單編號 12345678", id="order-number"),
    pytest.param("版本 3.12.1，IP 10.0.0.1", id="versions-and-ips"),
    pytest.param("user at example dot com", id="spelled-out-email"),
    pytest.param("案件 CASE-2024-000123", id="case-number"),
])
def test_nothing_masked(text):
    assert mask_personal_data(text) == text
