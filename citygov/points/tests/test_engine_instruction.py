"""The usage instruction engine: canonical JSON and hash, CSV, the Chinese PDF, and Ed25519 signatures."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import io
import json
import re
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citygov.points.engine import signing_keys
from citygov.points.engine.instruction import (
    CSV_HEADER,
    Instruction,
    InstructionLine,
    batch_id_for,
    canonical_json,
    content_hash,
    roc_date,
    to_csv,
    to_pdf,
)

DAY = dt.date(2026, 11, 21)
TAIPEI = dt.timezone(dt.timedelta(hours=8))
GENERATED = dt.datetime(2026, 11, 22, 0, 5, tzinfo=TAIPEI)


def _line(code: str, amount: int = 1500, **kwargs) -> InstructionLine:
    values = {"merchant_name": "好味小吃", "bank_code": "0040012", "bank_account": "123456789012",
              "transaction_count": 3} | kwargs
    return InstructionLine(merchant_code=code, amount=amount, **values)


def _instruction(lines, **kwargs) -> Instruction:
    values = {"batch_id": "B-20261121", "business_day": DAY, "operator_name": "桃園點數股份有限公司",
              "trust_bank_name": "臺灣銀行", "trust_account": "012345678901"} | kwargs
    return Instruction(lines=tuple(lines), **values)


def test_lines_are_sorted_by_merchant_code_and_totals_add_up():
    instr = _instruction([_line("22099131", 1000, transaction_count=2), _line("04595257", 1500)])
    assert [line.merchant_code for line in instr.lines] == ["04595257", "22099131"]
    assert (instr.total_amount, instr.line_count, instr.transaction_count) == (2500, 2, 5)
    assert batch_id_for(DAY) == "B-20261121"
    assert roc_date(DAY) == "民國115年11月21日"


def test_canonical_json_is_exact_and_sorted():
    instr = _instruction([_line("04595257", final=True)], late_transfer_count=1)
    assert canonical_json(instr).decode("utf-8") == (
        '{"batch_id":"B-20261121","business_day":"2026-11-21","format":"citygov-points-instruction/1",'
        '"late_transfer_count":1,"line_count":1,"lines":[{"amount":1500,"bank_account":"123456789012",'
        '"bank_code":"0040012","final":true,"line_no":1,"merchant_code":"04595257","merchant_name":"好味小吃",'
        '"transaction_count":3}],"operator_name":"桃園點數股份有限公司","total_amount":1500,"transaction_count":3,'
        '"trust_account":"012345678901","trust_bank_name":"臺灣銀行"}')
    assert content_hash(instr) == "sha256:" + hashlib.sha256(canonical_json(instr)).hexdigest()


def test_hash_is_deterministic_whatever_the_input_order_and_changes_with_content():
    a = _instruction([_line("04595257"), _line("22099131", 10)])
    b = _instruction([_line("22099131", 10), _line("04595257")])
    assert content_hash(a) == content_hash(b)
    assert content_hash(a) != content_hash(_instruction([_line("04595257"), _line("22099131", 11)]))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"merchant_code": "1234567"}, "merchant code must be 8 digits"),
    ({"bank_code": "04"}, "bank code must be 3 or 7 digits"),
    ({"bank_account": "12a45"}, "bank account must be digits"),
    ({"amount": 0}, "amount must be a whole NT\\$ amount > 0"),
    ({"amount": 10.5}, "amount must be a whole"),
    ({"transaction_count": -1}, "transaction count"),
    ({"merchant_name": "  "}, "merchant name is empty"),
])
def test_bad_lines_are_refused(kwargs, message):
    values = {"merchant_code": "04595257", "merchant_name": "店", "bank_code": "004", "bank_account": "1",
              "amount": 1, "transaction_count": 1} | kwargs
    with pytest.raises(ValueError, match=message):
        InstructionLine(**values)


def test_bad_instructions_are_refused():
    with pytest.raises(ValueError, match="does not match business day"):
        _instruction([_line("04595257")], batch_id="B-20261120")
    with pytest.raises(ValueError, match="listed twice: 04595257"):
        _instruction([_line("04595257"), _line("04595257", 3)])
    with pytest.raises(ValueError, match="trust_account is empty"):
        _instruction([], trust_account="")


def test_csv_layout_with_bom_totals_and_hash():
    instr = _instruction([_line("22099131", 1000, transaction_count=2, final=True), _line("04595257", 1500,
                                                                                        merchant_name="=SUM(A1)")])
    data = to_csv(instr)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows == [
        list(CSV_HEADER),
        ["D", "B-20261121", "1", "04595257", "'=SUM(A1)", "0040012", "123456789012", "1500", "3", "0", ""],
        ["D", "B-20261121", "2", "22099131", "好味小吃", "0040012", "123456789012", "1000", "2", "1", ""],
        ["T", "B-20261121", "2", "", "", "", "", "2500", "5", "", content_hash(instr)],
    ]
    assert to_csv(instr) == data
    assert json.loads(canonical_json(instr))["lines"][0]["merchant_name"] == "=SUM(A1)"


def _pdf_content(pdf: bytes) -> bytes:
    """The page content streams, decoded (reportlab writes them ASCII85 + Flate)."""
    out = b""
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        body = match.group(1).strip()
        if body.endswith(b"~>"):
            out += zlib.decompress(base64.a85decode(body[:-2]))
    return out


def _pdf_string(text: str) -> bytes:
    """How MSung-Light text appears in the content stream: UTF-16BE in a PDF string, escaped."""
    from reportlab.pdfbase import pdfmetrics
    return pdfmetrics.getFont("MSung-Light").formatForPdf(text).encode("latin-1")


def test_pdf_is_chinese_a4_with_hash_and_page_numbers_for_1300_lines():
    lines = [_line(f"{10_000_000 + i:08d}", 1000 + i, merchant_name=f"商店{i}", bank_account=f"{5550000 + i}")
             for i in range(1300)]
    instr = _instruction(lines)
    pdf = to_pdf(instr, generated_at=GENERATED)
    assert pdf.startswith(b"%PDF-")
    assert b"/MSung-Light" in pdf
    assert b"/MediaBox [ 0 0 595.2756 841.8898 ]" in pdf  # A4
    pages = len(re.findall(rb"/Type /Page\b", pdf))
    assert pages > 20
    assert b"/Encoding /UniCNS-UCS2-H" in pdf  # the Traditional Chinese CMap, matching the CNS1 font
    content = _pdf_content(pdf)

    def has(text: str) -> bool:
        return _pdf_string(text) in content

    assert has("運用指示書")
    assert has("民國115年11月21日")
    assert has(f"第 {pages} 頁，共 {pages} 頁")
    assert has("第 1 頁，共")
    assert not has("not in the document")
    assert has(content_hash(instr))
    assert has("商店1299")
    assert has(f"{instr.total_amount:,}")


def test_short_pdf_is_one_page_and_deterministic():
    instr = _instruction([_line("04595257", final=True)])
    pdf = to_pdf(instr, generated_at=GENERATED)
    assert len(re.findall(rb"/Type /Page\b", pdf)) == 1
    content = _pdf_content(pdf)
    assert _pdf_string("好味小吃（結清）") in content
    assert _pdf_string("第 1 頁，共 1 頁") in content
    assert _pdf_string("產製時間 2026-11-22 00:05 UTC+08:00") in content
    # the same instruction and generation time give the same bytes
    assert to_pdf(instr, generated_at=GENERATED) == pdf


# --- signatures ------------------------------------------------------------------------------------------

def test_sign_and_verify_the_canonical_json():
    private_pem, public_pem = signing_keys.generate_key_pair()
    payload = canonical_json(_instruction([_line("04595257")]))
    key = signing_keys.load_private_key(private_pem)
    signature = signing_keys.sign(key, payload)
    assert len(signature) == 64
    assert signing_keys.verify(public_pem, payload, signature) is True
    assert signing_keys.verify(public_pem, payload + b" ", signature) is False
    assert signing_keys.verify(public_pem, payload, signature[:-1] + bytes([signature[-1] ^ 1])) is False
    assert signing_keys.verify(public_pem, payload, b"short") is False
    _, other_public = signing_keys.generate_key_pair()
    assert signing_keys.verify(other_public, payload, signature) is False


def test_private_key_forms_raw_hex_base64_and_encrypted_pem():
    private_pem, public_pem = signing_keys.generate_key_pair(password=b"s3cret")
    key = signing_keys.load_private_key(private_pem, password=b"s3cret")
    from cryptography.hazmat.primitives import serialization
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    for form in (raw, raw.hex().encode(), base64.b64encode(raw), base64.b64encode(raw) + b"\n"):
        assert signing_keys.verify(public_pem, b"x", signing_keys.sign(signing_keys.load_private_key(form), b"x"))
    assert signing_keys.key_fingerprint(public_pem) == signing_keys.key_fingerprint(key.public_key())
    with pytest.raises(ValueError, match="password"):
        signing_keys.load_private_key(private_pem)
    with pytest.raises(ValueError, match="cannot be read"):
        signing_keys.load_private_key(private_pem, password=b"wrong")


@pytest.mark.parametrize("bad", [b"", b"not a key", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                                 b"\x00" * 31])
def test_malformed_private_keys_raise_clear_errors(bad):
    with pytest.raises(ValueError, match="/"):  # English / Chinese
        signing_keys.load_private_key(bad)


def test_malformed_public_key_raises_on_verify():
    with pytest.raises(ValueError, match="公鑰"):
        signing_keys.verify(b"garbage", b"x", b"\x00" * 64)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    ec_pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(ValueError, match="not an Ed25519 key"):
        signing_keys.verify(ec_pem, b"x", b"\x00" * 64)


def test_detached_signature_file_round_trip_and_failures():
    private_pem, public_pem = signing_keys.generate_key_pair()
    payload = canonical_json(_instruction([_line("04595257")]))
    sigfile = signing_keys.signature_file(private_pem, payload)
    lines = sigfile.decode("ascii").splitlines()
    assert lines[:2] == ["citygov-points-signature: 1", "algorithm: ed25519"]
    assert lines[2] == f"key-fingerprint: {signing_keys.key_fingerprint(public_pem)}"
    assert lines[3] == f"content-hash: sha256:{hashlib.sha256(payload).hexdigest()}"
    assert len(base64.b64decode(lines[4].removeprefix("signature: "))) == 64
    ok = signing_keys.check_signature_file(public_pem, payload, sigfile)
    assert (ok.ok, ok.reason) == (True, "ok")
    assert signing_keys.check_signature_file(public_pem, payload + b"x", sigfile).reason == "hash_mismatch"
    _, other_public = signing_keys.generate_key_pair()
    assert signing_keys.check_signature_file(other_public, payload, sigfile).reason == "wrong_key"
    forged = sigfile.replace(lines[4].encode(), b"signature: " + base64.b64encode(b"\x01" * 64))
    assert signing_keys.check_signature_file(public_pem, payload, forged).reason == "bad_signature"
    broken = signing_keys.check_signature_file(public_pem, payload, b"hello")
    assert (broken.ok, broken.reason) == (False, "malformed")
    assert broken.message_zh != broken.message_en


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=99_999_999), st.integers(min_value=1, max_value=10**9),
                          st.text(min_size=1, max_size=12).filter(str.strip)),
                min_size=0, max_size=15, unique_by=lambda t: t[0]))
def test_json_round_trips_and_hash_ignores_line_order(items):
    lines = [_line(f"{code:08d}", amount, merchant_name=name) for code, amount, name in items]
    forward, backward = _instruction(lines), _instruction(list(reversed(lines)))
    assert canonical_json(forward) == canonical_json(backward)
    data = json.loads(canonical_json(forward))
    assert data["total_amount"] == sum(amount for _, amount, _ in items)
    assert [line["merchant_code"] for line in data["lines"]] == sorted(f"{code:08d}" for code, _, _ in items)
