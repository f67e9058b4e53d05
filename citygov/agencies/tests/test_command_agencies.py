"""The ``agencies`` management command: ``locate`` (text and jsonl) and ``load``."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from citygov.agencies.models import Agency, District
from citygov.core.models import ChangeLog

REPO_ROOT = Path(__file__).resolve().parents[3]


def _run(*args, **kwargs) -> str:
    out = io.StringIO()
    call_command("agencies", *args, stdout=out, stderr=io.StringIO(), **kwargs)
    return out.getvalue()


def test_locate_text_prints_the_district():
    assert _run("locate", "桃園縣中壢市中正路100號") == "中壢區\n"


def test_locate_text_several_addresses_in_order():
    assert _run("locate", "桃園市蘆竹區桃園街108號", "桃園市 觀音區 八德一街 36號 2樓") == "蘆竹區\n觀音區\n"


def test_locate_text_unknown_prints_the_reason_and_fails_with_1():
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("agencies", "locate", "中壢區中正路1號", "台北市八德路二段10號", stdout=out)
    assert raised.value.returncode == 1
    assert str(raised.value) == "1 of 2 addresses could not be placed in a district."
    assert out.getvalue() == "中壢區\nunknown (非桃園市地址：臺北市 (outside Taoyuan City))\n"


def test_locate_text_without_addresses_is_bad_usage():
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("agencies", "locate", stdout=out)
    assert raised.value.returncode == 2
    assert out.getvalue() == ""


def test_locate_jsonl_from_stdin(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("桃園縣中壢市中正路100號\n\n   \n桃園市中正路100號\n"))
    lines = _run("locate", "--format", "jsonl").splitlines()
    assert [json.loads(line) for line in lines] == [
        {"address": "桃園縣中壢市中正路100號", "district_code": "68000020", "district": "中壢區",
         "reason": "pre2014_form", "detail": "舊制地址 桃園縣中壢市 → 中壢區 (pre-2014 county form)"},
        {"address": "桃園市中正路100號", "district_code": None, "district": "unknown", "reason": "ambiguous",
         "detail": "未寫行政區，桃園市可能是全市或舊制桃園市(今桃園區) "
                   "(district missing; 桃園市 may be the whole city or the pre-2014 city, now 桃園區)"},
    ]
    # ensure_ascii=False: the Chinese is written as is, not as \\u escapes.
    assert "中壢區" in lines[0]


def test_locate_jsonl_from_arguments_ignores_stdin(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("桃園市桃園區縣府路1號\n"))
    lines = _run("locate", "--format", "jsonl", "臺北市大安區信義路四段1號").splitlines()
    assert [json.loads(line) for line in lines] == [
        {"address": "臺北市大安區信義路四段1號", "district_code": None, "district": "unknown",
         "reason": "outside_taoyuan", "detail": "非桃園市地址：臺北市 (outside Taoyuan City)"},
    ]


def test_locate_jsonl_stdin_keyword():
    lines = _run("locate", "--format", "jsonl", stdin=io.StringIO("桃園市大溪區員林路一段120號\n")).splitlines()
    assert [json.loads(line)["district_code"] for line in lines] == ["68000030"]


def test_locate_jsonl_bad_input_fails_with_2_and_prints_nothing(monkeypatch):
    # What a terminal's stdin yields for an invalid byte (surrogateescape).
    monkeypatch.setattr("sys.stdin", io.StringIO("中壢區中正路1號\n\udcff\n"))
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("agencies", "locate", "--format", "jsonl", stdout=out)
    assert raised.value.returncode == 2
    assert str(raised.value) == "locate: line 2 of standard input is not valid UTF-8."
    assert out.getvalue() == ""


def test_missing_sub_command_is_an_error():
    with pytest.raises(CommandError, match="locate,load"):
        call_command("agencies", stdout=io.StringIO())


def test_load_twice_creates_nothing_the_second_time(db):
    first = _run("load")
    assert first == ("districts: created 13, updated 0, unchanged 0, errors 0\n"
                     "agencies: created 100, updated 0, unchanged 0, errors 0\n")
    assert (District.objects.count(), Agency.objects.count()) == (13, 100)

    second = _run("load")
    assert second == ("districts: created 0, updated 0, unchanged 13, errors 0\n"
                      "agencies: created 0, updated 0, unchanged 100, errors 0\n")
    assert (District.objects.count(), Agency.objects.count()) == (13, 100)


def test_exit_codes_from_the_command_line():
    """The real process exit codes the CLI relies on: 0 placed, 1 unknown, 2 bad usage."""

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "manage.py", "agencies", *args], cwd=REPO_ROOT, capture_output=True,
                              text=True, check=False, timeout=120)

    placed = run("locate", "桃園縣中壢市中正路100號")
    assert (placed.returncode, placed.stdout) == (0, "中壢區\n")
    unknown = run("locate", "桃園市中正路100號")
    assert unknown.returncode == 1
    assert unknown.stdout.startswith("unknown (")
    bad = run("locate", "--format", "xml", "中壢區")
    assert bad.returncode == 2
    assert "invalid choice: 'xml'" in bad.stderr


# --- acting as a user: scoping holds on the command line too ------------------------------------

def test_list_shows_only_reachable_agencies(admin_a, agency_a, agency_b):
    out = io.StringIO()
    call_command("agencies", "list", "--user", "admin-a", "--format", "jsonl", stdout=out)
    assert [json.loads(line)["code"] for line in out.getvalue().splitlines()] == ["agency-a"]


def test_set_level_on_other_agency_is_refused_and_changes_nothing(admin_a, agency_b):
    with pytest.raises(CommandError) as caught:
        call_command("agencies", "set-level", "agency-b", "A", "--user", "admin-a", stdout=io.StringIO())
    assert caught.value.returncode == 1
    agency_b.refresh_from_db()
    assert agency_b.security_level == ""
    assert ChangeLog.objects.count() == 0


def test_set_level_on_own_agency_is_logged(admin_a, agency_a):
    out = io.StringIO()
    call_command("agencies", "set-level", "agency-a", "b", "--user", "admin-a", stdout=out)
    assert out.getvalue().strip() == "agency-a: security level B"
    row = ChangeLog.objects.get()
    assert (row.actor, row.before, row.after) == (admin_a, {"security_level": ""}, {"security_level": "B"})


def test_set_level_rejects_bad_level(admin_a, agency_a):
    with pytest.raises(CommandError) as caught:
        call_command("agencies", "set-level", "agency-a", "Z", "--user", "admin-a", stdout=io.StringIO())
    assert caught.value.returncode == 2
    agency_a.refresh_from_db()
    assert agency_a.security_level == ""


def test_auditor_cannot_set_level(auditor, agency_a):
    with pytest.raises(CommandError) as caught:
        call_command("agencies", "set-level", "agency-a", "A", "--user", "auditor", stdout=io.StringIO())
    assert caught.value.returncode == 1
    agency_a.refresh_from_db()
    assert agency_a.security_level == ""
