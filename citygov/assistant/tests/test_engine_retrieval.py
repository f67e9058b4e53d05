"""Retrieval engine: normalisation, tokens, synonyms, small talk, decisions, and the evaluation run."""

import copy
import json
from pathlib import Path

import pytest

from citygov.assistant import serving
from citygov.assistant.engine.bank import Entry, bank_version, read_bank
from citygov.assistant.engine.chitchat import detect
from citygov.assistant.engine.evaluate import evaluate, read_queries
from citygov.assistant.engine.index import BankIndex, FieldIndex, FieldWeights
from citygov.assistant.engine.retrieval import ANSWER, HANDOFF, SUGGEST, answer
from citygov.assistant.engine.text import Synonyms, canonical, intents, tokens

DATA = Path(__file__).resolve().parent / "data"
SYNONYMS = Synonyms.parse(["身分證 = 身份證, id card", "取消 = 刪除", "停車費 = parking fee"])
ENTRIES = [
    Entry("F1", "如何申請補發國民身分證？", "攜帶戶口名簿至戶政事務所辦理。", "戶政", "戶政事務所", ("身分證", "補發")),
    Entry("F2", "路邊停車費如何繳納？", "可至超商、悠遊卡或行動支付繳納。", "停車", "停車管理工程處", ("停車費",),
          alternates=("停車單要去哪裡繳",)),
    Entry("F3", "如何取消市民卡的預約？", "登入網站後於預約紀錄中取消。", "市民卡", "資訊局", ()),
    Entry("F4", "老人假牙補助申請資格", "年滿65歲設籍本市者可申請。", "社會福利", "社會局", ("假牙", "補助")),
    Entry("F5", "已下架的舊問題", "舊答案", "其他", "", (), status="retired"),
]


@pytest.fixture(scope="module")
def small_index():
    return BankIndex(ENTRIES, SYNONYMS)


def test_canonical_folds_width_script_tai_case_punctuation_and_masks():
    assert canonical("怎么申请台北市的ＹｏｕＢｉｋｅ？我的电话0912345678") == "怎麼申請臺北市的youbike 我的電話"


def test_tokens_are_unigrams_and_bigrams_without_stop_characters():
    assert tokens("補發身分證") == ["補", "發", "身", "分", "證", "補發", "發身", "身分", "分證"]
    assert tokens("請問youbike 2") == ["youbike", "2"]


def test_synonyms_rewrite_longest_alias_and_simplified_alias():
    table = Synonyms.parse(["身分證 = 身份證, 身份證字號", "# comment", ""])
    assert table.apply(canonical("身份证字號遺失")) == "身分證遺失"


def test_synonym_line_without_equals_names_the_line():
    with pytest.raises(ValueError, match="line 2"):
        Synonyms.parse(["取消 = 刪除", "這一行沒有等號"])


def test_small_talk_is_whole_question_only():
    assert detect("你好")[0] == "greeting"
    assert detect("謝謝你")[0] == "thanks"
    assert detect("哈哈哈")[0] == "laugh"
    assert detect("你好 停車費怎麼繳") is None


def test_answer_decision_with_simplified_and_personal_data(small_index):
    reply = answer(small_index, "我的身份证A123456789丢了，怎么补发身份证")
    assert reply.decision == ANSWER
    assert reply.best.entry.faq_id == "F1"
    assert reply.personal_data == ("national_id",)
    assert "A123456789" not in reply.question_masked


def test_synonym_and_alternate_question_find_the_entry(small_index):
    assert answer(small_index, "parking fee 怎麼繳").best.entry.faq_id == "F2"
    assert answer(small_index, "刪除市民卡預約").best.entry.faq_id == "F3"
    assert answer(small_index, "停車單去哪裡繳").best.entry.faq_id == "F2"


def test_retired_entries_are_not_served(small_index):
    assert [entry.faq_id for entry in small_index.entries] == ["F1", "F2", "F3", "F4"]
    assert all(hit.entry.faq_id != "F5" for hit in answer(small_index, "已下架的舊問題").hits)


def test_out_of_scope_and_small_talk_hand_off(small_index):
    assert answer(small_index, "今天天氣如何").decision == HANDOFF
    reply = answer(small_index, "你好")
    assert (reply.decision, reply.chitchat, reply.hits) == (HANDOFF, "greeting", ())


def test_middle_confidence_suggests_top_three(taipei_index):
    reply = answer(taipei_index, "敬老卡怎么申请")
    assert reply.decision == SUGGEST
    assert 0.32 <= reply.confidence < 0.5
    assert len(reply.hits) == 5


def test_confidence_is_one_for_an_exact_question(small_index):
    reply = answer(small_index, "路邊停車費如何繳納？")
    assert reply.confidence == 1.0
    assert reply.decision == ANSWER


def test_bank_version_changes_with_content_and_synonyms():
    base = bank_version(ENTRIES, SYNONYMS.table)
    assert base == bank_version(list(ENTRIES), SYNONYMS.table)
    assert base != bank_version(ENTRIES[:-1], SYNONYMS.table)
    assert base != bank_version(ENTRIES, ())


def test_read_bank_reports_bad_rows_by_line_and_keeps_good_ones(tmp_path):
    path = tmp_path / "bank.jsonl"
    rows = [json.dumps({"faq_id": "A", "question": "問題一", "answer": "答一", "keywords": ["甲"]}, ensure_ascii=False),
            "{not json", json.dumps({"faq_id": "", "question": "沒有編號"}, ensure_ascii=False), "",
            json.dumps({"faq_id": "A", "question": "重複"}, ensure_ascii=False),
            json.dumps({"faq_id": "B", "question": "問題二", "status": "secret"}, ensure_ascii=False),
            json.dumps({"faq_id": "C", "question": "問題三", "alternates": ["說法"]}, ensure_ascii=False)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = read_bank(path)
    assert [entry.faq_id for entry in result.entries] == ["A", "C"]
    assert result.entries[1].alternates == ("說法",)
    assert [error.line for error in result.errors] == [2, 3, 5, 6]
    assert "duplicate faq_id A" in result.errors[2].message


def test_read_bank_csv_line_numbers_count_multiline_answers(tmp_path):
    path = tmp_path / "bank.csv"
    path.write_text('faq_id,question,answer,keywords\nA,問一,"第一行\n第二行",甲|乙\n,沒有編號,答\n', encoding="utf-8")
    result = read_bank(path)
    assert [(e.faq_id, e.keywords) for e in result.entries] == [("A", ("甲", "乙"))]
    assert [(error.line, error.message) for error in result.errors] == [(4, "faq_id is missing / 缺少 faq_id")]


def test_read_bank_refuses_other_formats(tmp_path):
    with pytest.raises(ValueError, match=r"\.csv or \.jsonl"):
        read_bank(tmp_path / "bank.xlsx")


def test_evaluation_on_the_taipei_paraphrase_set_meets_the_targets(taipei_index):
    pairs = read_queries(DATA / "paraphrases.csv")
    assert len(pairs) == 318
    assert sum(expected == "none" for _, expected in pairs) == 38
    result = evaluate(taipei_index, pairs)
    assert result.top1 >= 0.88
    assert result.top5 >= 0.97
    assert result.oos_recall >= 0.8
    assert result.oos_precision >= 0.8


def test_handwritten_paraphrases_beat_the_bigram_baseline(taipei_index):
    # 192 questions written by hand the way citizens type (see data/README.md): the development sets the
    # engine's weights, intents, synonyms and thresholds were tuned on. This guards the level reached
    # (0.854 top-1, 0.948 top-5).
    pairs = read_queries(DATA / "handwritten.csv") + read_queries(DATA / "handwritten2.csv")
    assert len(pairs) == 192
    full = evaluate(taipei_index, pairs)
    bigram_index = copy.copy(taipei_index)
    bigram_index.weights = FieldWeights(1.0, 0.0, 0.0)
    bigram_index.analyse = _bigrams_only
    bigram_index.questions = FieldIndex([_bigrams_only(t) for e in taipei_index.entries
                                         for t in (e.question, *e.alternates)])
    baseline = evaluate(bigram_index, pairs)
    assert full.top1 >= 0.84
    assert full.top5 >= 0.93
    assert full.top1 - baseline.top1 >= 0.2


def test_held_out_questions_are_scored_but_not_tuned_on(taipei_index):
    # 80 in-scope + 20 out-of-scope questions written before any tuning and never used to choose a
    # weight, a synonym or a threshold: the honest figure (0.6875 top-1, 0.925 top-5, out-of-scope
    # recall 0.95; see docs/benchmarks.md). The floors only catch a regression.
    pairs = read_queries(DATA / "heldout.csv")
    assert (len(pairs), sum(expected == "none" for _, expected in pairs)) == (100, 20)
    result = evaluate(taipei_index, pairs)
    assert result.top1 >= 0.65
    assert result.top5 >= 0.9
    assert result.oos_recall >= 0.8


def test_intent_tokens_match_a_question_to_the_entry_asking_the_same_thing():
    assert intents("中低收入老人生活津貼去哪辦 要帶什麼") == ["?where", "?documents"]
    assert intents("輪狀病毒疫苗補助到什麼時候") == ["?when"]
    assert intents("補助對象") == ["?eligibility"]
    assert intents("停車費") == []
    index = BankIndex([Entry("W", "疫苗補助實施期間", "一年。"), Entry("M", "疫苗補助金額", "一千元。")], Synonyms(()))
    assert answer(index, "疫苗補助到什麼時候").best.entry.faq_id == "W"
    assert answer(index, "疫苗補助多少錢").best.entry.faq_id == "M"


def _bigrams_only(text: str, *, user_text: bool = True) -> list[str]:
    flat = canonical(text, user_text=user_text).replace(" ", "")
    return [flat[i:i + 2] for i in range(len(flat) - 1)]


@pytest.mark.django_db
def test_serving_index_is_built_once_per_process_and_swapped_on_reload(monkeypatch, tmp_path):
    monkeypatch.setattr(serving, "_current", None)
    bank = tmp_path / "bank.csv"
    bank.write_text("faq_id,question,answer\nX0,停車費怎麼繳,超商。\n", encoding="utf-8")
    monkeypatch.setenv("CITYGOV_ASSISTANT_BANK", str(bank))
    first = serving.current()
    assert serving.current() is first
    assert serving.reload().index is first.index  # same bank version: the index is kept
    bank.write_text("faq_id,question,answer\nX1,垃圾車幾點來,晚上七點。\n", encoding="utf-8")
    second = serving.reload()
    assert second is not first
    assert serving.current() is second
    assert [entry.faq_id for entry in second.index.entries] == ["X1"]


def test_entries_with_the_same_question_are_served_once():
    entries = [Entry("OLD", "溫泉季活動有什麼優惠？", "2015 年的優惠。", valid_from="2015-10-01"),
               Entry("NEW", "溫泉季活動有什麼優惠?", "2016 年的優惠。", valid_from="2016-10-01",
                     alternates=("溫泉季折扣",)),
               Entry("P", "路邊停車費如何繳納", "超商。")]
    index = BankIndex(entries, Synonyms(()))
    assert [entry.faq_id for entry in index.entries] == ["NEW", "P"]
    assert (index.served_id("OLD"), index.served_id("NEW"), index.served_id("P")) == ("NEW", "NEW", "P")
    reply = answer(index, "溫泉季有什麼優惠")
    assert [hit.entry.faq_id for hit in reply.hits] == ["NEW"]
    result = evaluate(index, [("溫泉季有什麼優惠", "OLD")])
    assert (result.top1, result.top1_strict) == (1.0, 0.0)
