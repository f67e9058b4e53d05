"""The ``points`` command: ``import-merchants`` (text and jsonl, exit codes) and ``merchants`` (list)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from citygov.core.models import ChangeLog
from citygov.points.models import Merchant, MerchantStatus

pytestmark = pytest.mark.django_db
SAMPLE = Path(__file__).parent / "data" / "merchants-sample.csv"


@pytest.fixture(autouse=True)
def _english():
    """Messages are asserted in English (the default language is zh-Hant)."""
    with translation.override("en"):
        yield


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("points", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_failing(*args) -> tuple[int, str, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("points", *args, stdout=out, stderr=err)
    return raised.value.returncode, str(raised.value), out.getvalue(), err.getvalue()


def test_import_a_clean_file_exits_0(operator, tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text("tax_id,name,status\n04595257,中壢好食堂,active\n22099131,八德果行,applied\n", encoding="utf-8")
    out, err = run("import-merchants", str(path), "--user", operator.username)
    assert out == f"{path}: created 2, updated 0, unchanged 0, errors 0\n"
    assert err == ""
    assert Merchant.objects.count() == 2
    out, _err = run("import-merchants", str(path), "--user", operator.username)
    assert out == f"{path}: created 0, updated 0, unchanged 2, errors 0\n"


def test_import_with_bad_rows_exits_1_and_keeps_the_good_rows(operator, reference_data):
    code, message, out, err = run_failing("import-merchants", str(SAMPLE), "--user", operator.username)
    assert code == 1
    assert message == "4 of 20 rows were not imported; the other rows were."
    assert out == f"{SAMPLE}: created 16, updated 0, unchanged 0, errors 4\n"
    assert err.splitlines() == [
        f"{SAMPLE}: line 17: tax_id: Not a valid business ID (統一編號): 8 digits with a correct check digit.",
        f"{SAMPLE}: line 18: contract_start: Not a date: write YYYY-MM-DD or an ROC date such as 112/01/31.",
        f"{SAMPLE}: line 19: duplicate of line 2",
        f"{SAMPLE}: line 20: status: Unknown status: 休息中",
    ]
    assert Merchant.objects.count() == 16


def test_import_jsonl(operator, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes("tax_id,name\n04595257,好店\n04595258,壞號\n".encode("cp950"))
    code, _message, out, err = run_failing("import-merchants", str(path), "--user", operator.username,
                                           "--format", "jsonl")
    assert code == 1
    assert err == ""
    assert [json.loads(line) for line in out.splitlines()] == [
        {"file": str(path), "line": 3, "tax_id": "04595258",
         "error": "tax_id: Not a valid business ID (統一編號): 8 digits with a correct check digit."},
        {"file": str(path), "encoding": "cp950", "rows": 2, "created": 1, "updated": 0, "unchanged": 0, "errors": 1},
    ]


def test_import_unreadable_file_exits_2(operator, tmp_path):
    path = tmp_path / "binary.csv"
    path.write_bytes(b"tax_id,name\n\xff\xfe\xff\n")
    code, message, out, _err = run_failing("import-merchants", str(path), "--user", operator.username)
    assert (code, message, out) == (2, f"{path}: The file is neither UTF-8 nor Big5 text.", "")
    assert Merchant.objects.count() == 0


def test_import_missing_file_exits_2(operator, tmp_path):
    code, _message, _out, _err = run_failing("import-merchants", str(tmp_path / "nope.csv"), "--user",
                                             operator.username)
    assert code == 2


def test_import_bad_header_exits_2(operator, tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("統編,名稱\n04595257,店\n", encoding="utf-8")
    code, message, _out, _err = run_failing("import-merchants", str(path), "--user", operator.username)
    assert (code, message) == (2, f"{path}: Bad header: missing columns: tax_id, name; unknown columns: 統編, 名稱")
    assert Merchant.objects.count() == 0


def test_import_unknown_user_exits_2(db, tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text("tax_id,name\n04595257,店\n", encoding="utf-8")
    code, _message, _out, _err = run_failing("import-merchants", str(path), "--user", "nobody")
    assert code == 2
    assert Merchant.objects.count() == 0


def test_import_by_a_user_without_the_role_exits_1(auditor, tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text("tax_id,name\n04595257,店\n", encoding="utf-8")
    code, message, _out, _err = run_failing("import-merchants", str(path), "--user", auditor.username)
    assert (code, message) == (1, f"{path}: Your role is read-only.")
    assert Merchant.objects.count() == 0
    assert ChangeLog.objects.count() == 0


def test_import_without_user_is_bad_usage(tmp_path):
    with pytest.raises(CommandError) as raised:
        call_command("points", "import-merchants", str(tmp_path / "x.csv"), stdout=io.StringIO(),
                     stderr=io.StringIO())
    assert "--user" in str(raised.value)


def test_list_merchants_text_and_jsonl(operator, merchant_factory, reference_data):
    from citygov.agencies.models import District

    merchant_factory("04595257", "中壢好食堂", district=District.objects.get(name_zh="中壢區"))
    merchant_factory("22099131", "停權商店", status=MerchantStatus.SUSPENDED, points_enabled=False)
    out, _err = run("merchants", "--user", operator.username)
    assert out == "04595257\t中壢好食堂\t中壢區\tactive\tpoints\n22099131\t停權商店\t-\tsuspended\t-\n"
    out, _err = run("merchants", "--user", operator.username, "--status", "suspended", "--format", "jsonl")
    assert [json.loads(line) for line in out.splitlines()] == [{
        "tax_id": "22099131", "name": "停權商店", "category": "", "address": "", "district": None,
        "status": "suspended", "points_enabled": False, "lon": None, "lat": None, "contract_start": None,
        "contract_end": None,
    }]


def test_list_merchants_needs_a_role_that_views_points(make_user, merchant_factory):
    from citygov.core.roles import Role

    merchant_factory()
    user = make_user("analyst", Role.SECURITY_ANALYST)
    code, message, out, _err = run_failing("merchants", "--user", user.username)
    assert (code, message, out) == (1, "Your role does not allow this action.", "")


def test_a_sub_command_is_required():
    with pytest.raises(CommandError):
        call_command("points", stdout=io.StringIO(), stderr=io.StringIO())
