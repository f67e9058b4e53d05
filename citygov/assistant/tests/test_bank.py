"""FAQ bank: import (streaming, bad rows by line, idempotent), versions, second-person review, serving
from the database bank, export, and agency scoping (the cross-agency leak test)."""

import io
import json

import pytest
from django.core.cache import cache

from citygov.assistant import serving
from citygov.assistant.models import EntryStatus, FaqEntry, FaqVersion, ReviewStatus
from citygov.assistant.queries import write_export
from citygov.assistant.services import do_ask, do_import_bank, do_review_batch, do_review_version
from citygov.core.errors import Forbidden, InvalidInput
from citygov.core.models import ChangeLog
from citygov.core.roles import Role

pytestmark = pytest.mark.django_db


def write_jsonl(path, rows):
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) if isinstance(r, dict) else r for r in rows) + "\n",
                    encoding="utf-8")
    return path


ROWS = [
    {"faq_id": "T1", "question": "垃圾車幾點來？", "answer": "晚上七點。", "category": "環保", "keywords": ["垃圾車"]},
    {"faq_id": "T2", "question": "如何申請育兒津貼？", "answer": "向區公所申請。", "category": "社會福利",
     "alternates": ["育兒補助怎麼領"]},
]


@pytest.fixture
def reviewer(make_user):
    return make_user("reviewer", Role.CITY_ADMIN)


@pytest.fixture(autouse=True)
def _fresh_stamp():
    cache.delete(serving.STAMP_KEY)


def test_import_creates_versions_awaiting_review_and_reports_bad_rows(tmp_path, city_admin):
    path = write_jsonl(tmp_path / "bank.jsonl", [*ROWS, "{broken", {"faq_id": "T3", "question": ""},
                                                 {"faq_id": "T4", "question": "問", "category": "火星"}])
    report = do_import_bank(city_admin, path)
    assert (report.rows, report.created, report.changed, report.unchanged) == (4, 2, 0, 0)
    assert [(e.line, e.message) for e in report.errors] == [
        (3, "not valid JSON (Expecting property name enclosed in double quotes) / 不是有效的 JSON"),
        (4, "question is missing / 缺少問題"),
        (5, "unknown category '火星' / 類別不在 24 類中"),
    ]
    assert set(FaqEntry.objects.values_list("faq_id", "status")) == {("T1", "draft"), ("T2", "draft")}
    assert set(FaqVersion.objects.values_list("review", flat=True)) == {ReviewStatus.PENDING}
    assert ChangeLog.objects.filter(object_repr="FAQ import bank.jsonl").count() == 1
    again = do_import_bank(city_admin, path)
    assert (again.created, again.changed, again.unchanged) == (0, 0, 2)
    assert FaqVersion.objects.count() == 2


def test_second_person_review_publishes_and_the_chat_answers_from_the_database(tmp_path, city_admin, reviewer):
    report = do_import_bank(city_admin, write_jsonl(tmp_path / "bank.jsonl", ROWS))
    with pytest.raises(Forbidden):
        do_review_batch(city_admin, report.batch, approve=True)
    assert FaqEntry.objects.filter(status=EntryStatus.PUBLISHED).count() == 0
    assert do_review_batch(reviewer, report.batch, approve=True) == 2
    assert set(FaqEntry.objects.values_list("status", "version")) == {(EntryStatus.PUBLISHED, 1)}
    cache.delete(serving.STAMP_KEY)  # on_commit does not run inside the test transaction
    loaded = serving.current()
    assert loaded.path is None
    assert [entry.faq_id for entry in loaded.index.entries] == ["T1", "T2"]
    result = do_ask("育兒補助怎麼領")
    assert (result.turn.decision, result.turn.faq_id) == ("answer", "T2")


def test_an_edit_keeps_the_previous_version_until_the_new_one_is_approved(tmp_path, city_admin, reviewer):
    first = do_import_bank(city_admin, write_jsonl(tmp_path / "v1.jsonl", ROWS))
    do_review_batch(reviewer, first.batch, approve=True)
    changed = [{**ROWS[0], "answer": "晚上八點。"}, ROWS[1]]
    second = do_import_bank(city_admin, write_jsonl(tmp_path / "v2.jsonl", changed))
    assert (second.changed, second.unchanged) == (1, 1)
    entry = FaqEntry.objects.get(faq_id="T1")
    assert (entry.answer, entry.version) == ("晚上七點。", 1)
    pending = FaqVersion.objects.get(entry=entry, number=2)
    with pytest.raises(Forbidden):
        do_review_version(city_admin, pending.pk, approve=True)
    do_review_version(reviewer, pending.pk, approve=True)
    entry.refresh_from_db()
    assert (entry.answer, entry.version) == ("晚上八點。", 2)
    assert list(entry.versions.values_list("number", "answer", "review")) == [
        (1, "晚上七點。", "approved"), (2, "晚上八點。", "approved")]


def test_retired_rows_stop_being_served_after_review(tmp_path, city_admin, reviewer):
    first = do_import_bank(city_admin, write_jsonl(tmp_path / "v1.jsonl", ROWS))
    do_review_batch(reviewer, first.batch, approve=True)
    second = do_import_bank(city_admin, write_jsonl(tmp_path / "v2.jsonl", [{**ROWS[0], "status": "retired"}]))
    do_review_batch(reviewer, second.batch, approve=True)
    cache.delete(serving.STAMP_KEY)
    assert [entry.faq_id for entry in serving.current().index.entries] == ["T2"]


def test_read_only_and_unprivileged_users_cannot_import(tmp_path, auditor, make_user):
    path = write_jsonl(tmp_path / "bank.jsonl", ROWS)
    for user in (auditor, make_user("steward", Role.DATA_STEWARD)):
        with pytest.raises(Forbidden):
            do_import_bank(user, path)
    assert FaqEntry.objects.count() == 0


def test_bad_csv_header_is_refused_whole(tmp_path, city_admin):
    path = tmp_path / "bank.csv"
    path.write_text("id,text\n1,問\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as refused:
        do_import_bank(city_admin, path)
    assert refused.value.code == "bad_header"
    assert FaqEntry.objects.count() == 0


def test_export_round_trips_through_import(tmp_path, city_admin, reviewer):
    report = do_import_bank(city_admin, write_jsonl(tmp_path / "bank.jsonl", ROWS))
    do_review_batch(reviewer, report.batch, approve=True)
    for fmt in ("csv", "jsonl"):
        stream = io.StringIO()
        assert write_export(city_admin, stream, fmt) == 2
        path = tmp_path / f"export.{fmt}"
        path.write_text(stream.getvalue(), encoding="utf-8")
        again = do_import_bank(city_admin, path)
        assert (again.created, again.changed, again.unchanged, again.errors) == (0, 0, 2, ())


def test_agency_entries_do_not_leak_across_agencies(tmp_path, admin_a, admin_b, agency_a, agency_b, client_for):
    do_import_bank(admin_a, write_jsonl(tmp_path / "a.jsonl", [ROWS[0]]), agency_a)
    do_import_bank(admin_b, write_jsonl(tmp_path / "b.jsonl", [ROWS[1]]), agency_b)
    with pytest.raises(Forbidden):
        do_import_bank(admin_a, write_jsonl(tmp_path / "x.jsonl", [ROWS[1]]), agency_b)
    stolen = do_import_bank(admin_a, write_jsonl(tmp_path / "y.jsonl", [{**ROWS[1], "answer": "改掉"}]), agency_a)
    assert [e.message for e in stolen.errors] == ["T2: another agency's entry / 屬於其他機關的問答"]
    assert FaqEntry.objects.get(faq_id="T2").versions.count() == 1
    stream = io.StringIO()
    assert write_export(admin_a, stream, "jsonl") == 1
    assert json.loads(stream.getvalue())["faq_id"] == "T1"
    page = client_for(admin_a).get("/assistant/bank/")
    assert [entry.faq_id for entry in page.context["page"]] == ["T1"]
    assert [batch["n"] for batch in page.context["batches"]] == [1]
    other_batch = FaqVersion.objects.get(entry__faq_id="T2").batch
    response = client_for(admin_a).post("/assistant/bank/review/", {"batch": other_batch, "decision": "approve"})
    assert response.status_code == 302
    assert FaqVersion.objects.get(entry__faq_id="T2").review == ReviewStatus.PENDING


def test_bank_page_review_buttons_and_export_download(tmp_path, city_admin, reviewer, client_for):
    report = do_import_bank(city_admin, write_jsonl(tmp_path / "bank.jsonl", ROWS))
    own = client_for(city_admin).get("/assistant/bank/").content.decode()
    assert "A second person must review your import." in own or "必須由另一人審核" in own
    response = client_for(reviewer).post("/assistant/bank/review/", {"batch": report.batch, "decision": "approve"})
    assert response.status_code == 302
    assert FaqEntry.objects.filter(status=EntryStatus.PUBLISHED).count() == 2
    download = client_for(reviewer).get("/assistant/bank/export.csv")
    assert download.status_code == 200
    assert download.content.decode().splitlines()[0] == (
        "faq_id,category,question,answer,source_dept,keywords,alternates,status,valid_from,valid_to")
