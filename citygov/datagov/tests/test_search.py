"""Catalogue full-text search: the bigram tokens (engine) and the index (FTS5 / PostgreSQL GIN) give exactly
the datasets whose normalised text holds every term, and the index follows imports."""

from __future__ import annotations

import io
import re

from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from citygov.datagov import queries
from citygov.datagov.engine import textindex
from citygov.datagov.models import Dataset
from citygov.datagov.services import do_import_catalog
from citygov.datagov.tests.support import SAMPLE, datagovtw_csv, datagovtw_row


def test_tokens_are_ascii_bigrams_and_run_ends():
    tokens = textindex.index_tokens("停車場 ab").split()
    spelt = {c: textindex.index_tokens(c) for c in "停車場ab"}
    assert all(len(t) in (5, 10) and t.isascii() and t.isalpha() for t in tokens)
    assert sorted(tokens) == sorted([spelt["停"] + spelt["車"], spelt["車"] + spelt["場"], spelt["場"],
                                     spelt["a"] + spelt["b"], spelt["b"]])
    assert textindex.query_tokens("停車") == (textindex.QueryToken(spelt["停"] + spelt["車"], False),)
    assert textindex.query_tokens("停") == (textindex.QueryToken(spelt["停"], True),)
    assert textindex.query_tokens("--") == ()
    assert [textindex.is_exact(t) for t in ("停", "停車", "停車場", "a-b", "--")] == [True, True, False, False, False]


def _reference_tokens(text: str) -> str:
    """The tokens by their definition: per run, every bigram and the last character, spelt, sorted."""
    def spell(char: str) -> str:
        value, letters = ord(char), ""
        for _ in range(5):
            value, digit = divmod(value, 26)
            letters = "abcdefghijklmnopqrstuvwxyz"[digit] + letters
        return letters

    grams = set()
    for run in re.findall(r"[^\W_]+", text):
        grams.update(run[i:i + 2] for i in range(len(run) - 1))
        grams.add(run[-1])
    return " ".join(sorted("".join(spell(c) for c in gram) for gram in grams))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("停車場公園桃園地價 \t-_,.，。a1Z９\U00020000\u00e9"), max_size=40)
       | st.text(max_size=40))
def test_index_tokens_match_their_definition(text):
    assert textindex.index_tokens(text) == _reference_tokens(text)


def _expected(*terms: str) -> set[int]:
    qs = Dataset.objects.all()
    for term in terms:
        qs = qs.filter(search_text__contains=term)
    return set(qs.values_list("pk", flat=True))


def test_search_equals_substring_match_on_the_taoyuan_sample(reference_data, city_admin, monkeypatch):
    """The 36-row sample keeps this quick; the full catalogue's search is checked by the page tests."""
    from citygov.datagov import searchindex

    with SAMPLE.open("rb") as handle:
        do_import_catalog(city_admin, handle, "sample.csv")
    assert connection.vendor in ("sqlite", "postgresql")
    cases = [("桃園",), ("桃",), ("地號",), ("桃園", "統計"), ("登革熱",), ("csv",), ("a1",), ("ａ１",),
             ("臺",), ("1",), ("救災救護",), ("區", "資料"), ("不存在的詞",)]
    for broad in (2000, 0):  # SQLite's two plans (few hits: by id; many: index walk) give the same rows
        monkeypatch.setattr(searchindex, "BROAD_HITS", broad)
        for terms in cases:
            wanted = _expected(*(queries_text(t) for t in terms))
            found = queries.search(Dataset.objects.all(), " ".join(terms))
            assert set(found.values_list("pk", flat=True)) == wanted, terms
            assert found.count() == len(wanted)
    assert len(_expected("桃園")) > 20 and len(_expected("地號")) == 2
    sql = str(queries.search(Dataset.objects.all(), "地號").query)
    assert ("datagov_dataset_fts" in sql) if connection.vendor == "sqlite" else ("to_tsquery" in sql)


def queries_text(term: str) -> str:
    from citygov.datagov.services import search_text

    return search_text(term)


def test_index_follows_created_updated_and_deleted_datasets(db, city_admin):
    row = datagovtw_row(資料集識別碼="9001", 資料集名稱="溫泉水質監測", 提供機關="桃園市政府環境保護局", 更新頻率="每月",
                        詮釋資料更新時間="2026-01-01 00:00:00")
    do_import_catalog(city_admin, io.BytesIO(datagovtw_csv([row])), "a.csv")
    assert queries.search(Dataset.objects.all(), "溫泉").count() == 1
    row[1] = "地熱水質監測"
    do_import_catalog(city_admin, io.BytesIO(datagovtw_csv([row])), "b.csv")
    assert queries.search(Dataset.objects.all(), "溫泉").count() == 0
    assert queries.search(Dataset.objects.all(), "地熱 水質").count() == 1
    Dataset.objects.all().delete()
    assert queries.search(Dataset.objects.all(), "地熱").count() == 0
