"""The ``assistant`` command: file-only answer/evaluate/check, ask through the service, purge."""

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from citygov.assistant.models import Turn
from citygov.core.models import ChangeLog


def run(*args, stdin: str = ""):
    out, err = io.StringIO(), io.StringIO()
    import sys

    saved = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        call_command("assistant", *args, stdout=out, stderr=err)
    finally:
        sys.stdin = saved
    return out.getvalue(), err.getvalue()


@pytest.fixture
def small_bank(tmp_path):
    path = tmp_path / "bank.jsonl"
    rows = [{"faq_id": "P1", "question": "路邊停車費如何繳納？", "answer": "超商繳納。", "keywords": ["停車費"]},
            {"faq_id": "P2", "question": "如何申請補發國民身分證？", "answer": "戶政事務所。"}]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def test_answer_reads_stdin_and_prints_jsonl_without_a_database(small_bank):
    out, _ = run("answer", "--bank", str(small_bank), "--top", "2", "--format", "jsonl",
                 stdin="停车费怎么缴\n\n我的身分證A123456789要補發\n你好\n")
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["decision"] for line in lines] == ["answer", "answer", "handoff"]
    assert [line["answers"][0]["id"] for line in lines[:2]] == ["P1", "P2"]
    assert lines[1]["query"] == "我的身分證[ID]要補發"
    assert lines[2]["answers"] == []
    assert set(lines[0]) == {"query", "answers", "decision"}
    assert set(lines[0]["answers"][0]) == {"id", "score"}


def test_evaluate_prints_the_figures(small_bank, tmp_path):
    queries = tmp_path / "queries.csv"
    queries.write_text("query,expected_faq_id\n停車費怎麼繳,P1\n身分證要補發,P2\n身份证补发,P2\n今天天氣如何,none\n"
                       "推薦牛肉麵,none\n", encoding="utf-8")
    out, _ = run("evaluate", "--bank", str(small_bank), "--queries", str(queries), "--format", "jsonl")
    figures = json.loads(out)
    assert {key: figures[key] for key in ("queries", "in_scope", "out_of_scope", "top1", "top5", "oos_precision",
                                          "oos_recall")} == {
        "queries": 5, "in_scope": 3, "out_of_scope": 2, "top1": 1.0, "top5": 1.0, "oos_precision": 1.0,
        "oos_recall": 1.0}
    text, _ = run("evaluate", "--bank", str(small_bank), "--queries", str(queries))
    assert text.splitlines()[1] == "top-1 1.000  top-5 1.000  (top-1 by exact id 1.000)"


def test_missing_files_and_bad_queries_exit_2(small_bank, tmp_path):
    with pytest.raises(CommandError) as missing:
        run("answer", "--bank", str(tmp_path / "nope.csv"))
    assert missing.value.returncode == 2
    bad = tmp_path / "q.csv"
    bad.write_text("question,answer\n停車,P1\n", encoding="utf-8")
    with pytest.raises(CommandError) as header:
        run("evaluate", "--bank", str(small_bank), "--queries", str(bad))
    assert header.value.returncode == 2
    assert "expected_faq_id" in str(header.value)


def test_check_reports_bad_rows_by_line(tmp_path):
    path = tmp_path / "bank.csv"
    path.write_text("faq_id,question\nA,問一\nB,\nA,重複\n", encoding="utf-8")
    with pytest.raises(CommandError) as failed:
        run("check", str(path), "--format", "jsonl")
    assert failed.value.returncode == 1


@pytest.mark.django_db
def test_ask_goes_through_the_service_and_is_logged_masked():
    out, _ = run("ask", "手機0912345678 路邊停車費如何繳納", "--format", "jsonl")
    assert json.loads(out)["faq_id"] == "GIP_119667419"
    turn = Turn.objects.get()
    assert (turn.question, turn.conversation.channel) == ("手機[PHONE] 路邊停車費如何繳納", "cli")


@pytest.mark.django_db
def test_purge_needs_the_manage_capability_and_is_in_the_change_log(city_admin, auditor):
    import datetime as dt

    from django.utils import timezone

    from citygov.assistant.services import do_ask

    do_ask("停車費怎麼繳", now=timezone.now() - dt.timedelta(days=200))
    do_ask("停車費怎麼繳")
    with pytest.raises(CommandError) as refused:
        run("purge", "--days", "180", "--user", auditor.username)
    assert refused.value.returncode == 1
    assert Turn.objects.count() == 2
    out, _ = run("purge", "--days", "180", "--user", city_admin.username)
    assert out.strip() == "purged 1 turns"
    assert Turn.objects.count() == 1
    assert ChangeLog.objects.filter(object_repr="assistant conversation logs").count() == 1
