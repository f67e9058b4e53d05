"""Synonym list edited by city administrators: capability checks, versions, change log, and the index
rebuilt once per saved version (never per question)."""

import pytest
from django.core.cache import cache

from citygov.assistant import serving
from citygov.assistant.engine.retrieval import answer
from citygov.assistant.models import SynonymList
from citygov.assistant.services import do_save_synonyms
from citygov.core.errors import Forbidden, InvalidInput
from citygov.core.models import ChangeLog

pytestmark = pytest.mark.django_db

LIST = "垃圾車 = 清運車, garbage truck\n取消 = 刪除\n"


@pytest.fixture(autouse=True)
def _fresh_stamp():
    cache.delete(serving.STAMP_KEY)


@pytest.fixture
def tiny_bank(tmp_path, monkeypatch):
    bank = tmp_path / "bank.csv"
    bank.write_text("faq_id,question,answer\nG1,垃圾車幾點來,晚上七點。\nP1,路邊停車費怎麼繳,超商。\n", encoding="utf-8")
    monkeypatch.setenv("CITYGOV_ASSISTANT_BANK", str(bank))
    monkeypatch.setattr(serving, "_current", None)
    builds = []
    real = serving.BankIndex

    def counting(*args, **kwargs):
        builds.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(serving, "BankIndex", counting)
    return builds


def test_city_admin_saves_a_version_logged_with_the_aliases_added(city_admin):
    row = do_save_synonyms(city_admin, LIST, note="清運車")
    assert (row.number, row.pairs, row.author) == (1, 3, city_admin)
    log = ChangeLog.objects.get(object_repr=str(row))
    assert (log.action, log.note) == ("update", "清運車")
    assert log.after["added"] == ["garbage truck=垃圾車", "刪除=取消", "清運車=垃圾車"]
    second = do_save_synonyms(city_admin, "垃圾車 = 清運車\n")
    assert second.number == 2
    assert ChangeLog.objects.get(object_repr=str(second)).after["removed"] == ["garbage truck=垃圾車", "刪除=取消"]
    assert do_save_synonyms(city_admin, "垃圾車 = 清運車") is None  # the same list: no new version
    assert list(SynonymList.objects.values_list("number", flat=True)) == [2, 1]


def test_agency_admin_and_auditor_may_not_edit_and_nothing_changes(admin_a, auditor):
    for user in (admin_a, auditor):
        with pytest.raises(Forbidden):
            do_save_synonyms(user, LIST)
    assert SynonymList.objects.count() == 0
    assert ChangeLog.objects.filter(note="assistant.synonyms").count() == 0


def test_a_malformed_line_is_named_in_english_and_chinese_and_nothing_is_saved(city_admin):
    with pytest.raises(InvalidInput) as error:
        do_save_synonyms(city_admin, "取消 = 刪除\n沒有等號的一行\n")
    assert "line 2" in error.value.message and "第 2 行" in error.value.message
    with pytest.raises(InvalidInput):
        do_save_synonyms(city_admin, "# only a comment\n")
    assert SynonymList.objects.count() == 0


def test_index_is_rebuilt_once_per_saved_version_not_per_question(city_admin, tiny_bank,
                                                                   django_capture_on_commit_callbacks):
    first = serving.current()
    assert "清運車" not in dict(first.index.synonyms.table)
    for _ in range(3):
        assert serving.current() is first
    assert len(tiny_bank) == 1
    with django_capture_on_commit_callbacks(execute=True):
        do_save_synonyms(city_admin, LIST)
    second = serving.current()
    assert second.version != first.version
    assert answer(second.index, "清運車幾點來").best.entry.faq_id == "G1"
    for _ in range(3):
        assert serving.current() is second
    assert len(tiny_bank) == 2


def test_synonym_page_capabilities(client_for, city_admin, admin_a, client):
    assert client.get("/assistant/synonyms/").status_code == 302  # sign in first
    agency = client_for(admin_a)
    page = agency.get("/assistant/synonyms/")
    assert page.status_code == 200 and page.context["can_edit"] is False
    assert agency.post("/assistant/synonyms/", {"text": LIST}).status_code == 403
    assert SynonymList.objects.count() == 0
    admin = client_for(city_admin)
    page = admin.get("/assistant/synonyms/")
    assert page.context["can_edit"] is True
    assert "身分證 = 身份證" in page.context["form"]["text"].value()  # the packaged list to start from
    bad = admin.post("/assistant/synonyms/", {"text": "取消 = 刪除\n壞行"})
    assert bad.status_code == 200 and "第 2 行" in bad.content.decode()
    saved = admin.post("/assistant/synonyms/", {"text": LIST, "note": "清運車"}, follow=True)
    assert saved.redirect_chain[-1][0] == "/assistant/synonyms/"
    assert SynonymList.objects.get().author == city_admin
    assert "清運車" in saved.content.decode()
