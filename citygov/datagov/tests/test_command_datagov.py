"""The ``datagov`` command: the file-only freshness check (no database), import and check, exit codes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from citygov.datagov.models import Dataset
from citygov.datagov.tests.support import FULL, SAMPLE, sample_text

ROOT = Path(__file__).resolve().parents[3]
KEYS = ["id", "title", "agency", "frequency_text", "frequency_class", "interval", "last_updated", "status", "due",
        "days_overdue"]


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("datagov", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_failing(*args) -> tuple[int, str, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("datagov", *args, stdout=out, stderr=err)
    return raised.value.returncode, str(raised.value), out.getvalue(), err.getvalue()


def test_freshness_on_a_file_needs_no_database(tmp_path):
    """Run as an auditor would, with a database URL that cannot be reached: stdout is JSON lines only."""
    env = {**os.environ, "DATABASE_URL": "postgres://nobody@127.0.0.1:9/unreachable",
           "CITYGOV_VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "citygov.cli", "datagov", "freshness", str(FULL), "--as-of", "2018-07-08",
         "--stale-months", "0", "--format", "jsonl"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 1444
    assert all(list(r) == KEYS for r in records)
    statuses = [r["status"] for r in records]
    assert (statuses.count("overdue"), statuses.count("on_time"), statuses.count("not_evaluated")) == (164, 350, 930)
    last = records[-1]
    assert last == {"id": "1444", "title": "桃園市其他天然災害出動救災人次", "agency": "消防局", "frequency_text": "每年",
                    "frequency_class": "periodic", "interval": "P1Y", "last_updated": "2018-03-30T11:02:25+08:00",
                    "status": "on_time", "due": "2019-03-30T11:02:25+08:00", "days_overdue": 0}
    assert "overdue=164 on_time=350 stale=0 not_evaluated=930 unreadable=0 rejected=0" in result.stderr


def test_freshness_exit_codes(tmp_path):
    missing = tmp_path / "missing.csv"
    code, message, out, _err = run_failing("freshness", str(missing))
    assert code == 2 and "無法讀取檔案" in message
    bad_columns = tmp_path / "bad.csv"
    bad_columns.write_text(sample_text().replace("更新頻率", "頻率", 1), encoding="utf-8")
    code, message, out, _err = run_failing("freshness", str(bad_columns))
    assert (code, out) == (2, "")
    assert "Missing columns: 更新頻率." in message
    code, message, *_ = run_failing("freshness", str(SAMPLE), "--as-of", "2018/07/08")
    assert code == 2
    truncated = tmp_path / "truncated.csv"
    lines = sample_text().split("\r\n")
    lines[1] = ",".join(lines[1].split(",")[:10])
    truncated.write_text("\r\n".join(lines), encoding="utf-8")
    code, message, out, err = run_failing("freshness", str(truncated), "--format", "jsonl", "--as-of", "2018-07-08")
    assert code == 1
    assert len(out.splitlines()) == 35
    assert "line 2: expected 29 cells, found 10" in err


def test_import_and_check(reference_data, city_admin, make_user, tmp_path):
    out, err = run("import", str(SAMPLE), "--user", city_admin.username, "--format", "jsonl")
    record = json.loads(out)
    assert (record["created"], record["rejected"], record["layout"]) == (36, 0, "city_portal")
    assert Dataset.objects.count() == 36
    out, err = run("check", "--as-of", "2018-07-08", "--stale-months", "0")
    assert out.strip() == "as of 2018-07-08T00:00:00+08:00: overdue=3 on_time=16 stale=0 not_evaluated=17 unreadable=0"
    code, message, *_ = run_failing("import", str(SAMPLE), "--user", "nobody")
    assert code == 2
    auditor = make_user("auditor-2", "auditor")
    code, message, *_ = run_failing("import", str(SAMPLE), "--user", auditor.username)
    assert code == 1
    out, _err = run("snapshot")
    from django.db.models import Sum

    from citygov.datagov.models import FreshnessSnapshot
    from citygov.datagov.queries import snapshots_for

    agencies = Dataset.objects.values("agency").distinct().count()
    assert out.strip() == f"{agencies} snapshot rows written"
    totals = FreshnessSnapshot.objects.aggregate(*(Sum(f) for f in ("overdue", "on_time", "stale", "not_evaluated",
                                                                      "unreadable")))
    assert sum(totals.values()) == 36
    day = FreshnessSnapshot.objects.values_list("day", flat=True).first()
    assert snapshots_for(city_admin) == [(day, totals["overdue__sum"], totals["overdue__sum"] + totals["on_time__sum"])]
    run("snapshot")  # re-running the same day replaces the rows
    assert FreshnessSnapshot.objects.count() == agencies


def test_the_nightly_job_stores_nothing_for_an_empty_catalogue(db):
    from citygov.datagov import jobs
    from citygov.datagov.models import FreshnessSnapshot

    assert jobs.snapshot_freshness.call_local() == 0
    assert FreshnessSnapshot.objects.count() == 0
