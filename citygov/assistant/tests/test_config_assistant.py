"""CITYGOV_ASSISTANT_* settings: typed, validated in citygov.config, read by the app through it."""

import pytest

from citygov.assistant import serving
from citygov.config import ConfigError, assistant_settings, environment


def test_defaults_leave_files_to_the_app():
    settings = assistant_settings(environment({}))
    assert (settings.bank, settings.synonyms, settings.handoff, settings.rate) == (None, None, "", "30/min")


def test_valid_values_are_typed(tmp_path):
    bank = tmp_path / "bank.jsonl"
    bank.write_text("", encoding="utf-8")
    words = tmp_path / "words.txt"
    words.write_text("取消 = 刪除\n", encoding="utf-8")
    settings = assistant_settings(environment({
        "CITYGOV_ASSISTANT_BANK": str(bank), "CITYGOV_ASSISTANT_SYNONYMS": str(words),
        "CITYGOV_ASSISTANT_HANDOFF": "請撥 1999", "CITYGOV_ASSISTANT_RATE": " 100/Day "}))
    assert (settings.bank, settings.synonyms, settings.handoff, settings.rate) == (bank, words, "請撥 1999", "100/day")


@pytest.mark.parametrize(("name", "value", "message"), [
    ("CITYGOV_ASSISTANT_RATE", "fast", "not a rate"),
    ("CITYGOV_ASSISTANT_RATE", "0/min", "not a rate"),
    ("CITYGOV_ASSISTANT_RATE", "30/fortnight", "not a rate"),
    ("CITYGOV_ASSISTANT_HANDOFF", "請" * 501, "at most 500"),
    ("CITYGOV_ASSISTANT_BANK", "/nowhere/bank.csv", "not a readable file"),
    ("CITYGOV_ASSISTANT_BANK", "/etc/hostname", "must name a .csv"),
    ("CITYGOV_ASSISTANT_SYNONYMS", "/nowhere/words.txt", "not a readable file"),
])
def test_malformed_values_name_the_variable_in_english_and_chinese(name, value, message):
    with pytest.raises(ConfigError, match=message) as error:
        assistant_settings(environment({name: value}))
    assert name in str(error.value)
    assert any("\u4e00" <= char <= "\u9fff" for char in str(error.value))


def test_the_app_reads_its_settings_through_config(monkeypatch):
    monkeypatch.setenv("CITYGOV_ASSISTANT_HANDOFF", "請撥打 1999")
    assert serving.handoff_text() == "請撥打 1999"
    monkeypatch.delenv("CITYGOV_ASSISTANT_HANDOFF")
    assert serving.handoff_text().startswith("很抱歉")
    assert serving.bank_path() == serving.DEFAULT_BANK
