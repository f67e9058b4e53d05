"""citygov.core.text.normalize: width folding, whitespace, 台/臺."""

from __future__ import annotations

import pytest

from citygov.core.text.normalize import collapse_spaces, normalize, remove_spaces, to_halfwidth, unify_tai


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("０１２３４５６７８９", "0123456789", id="digits"),
    pytest.param("ＡＢＣｘｙｚ", "ABCxyz", id="letters"),
    pytest.param("（０３）３３２－２１０１", "(03)332-2101", id="punctuation"),
    pytest.param("，：；！？＠", ",:;!?@", id="more-punctuation"),
    pytest.param("桃園\u3000市", "桃園 市", id="ideographic-space"),
    pytest.param("桃園市中壢區", "桃園市中壢區", id="cjk-unchanged"),
    pytest.param("abc 123", "abc 123", id="ascii-unchanged"),
    pytest.param("", "", id="empty"),
])
def test_to_halfwidth(text, expected):
    assert to_halfwidth(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("a  b", "a b", id="double-space"),
    pytest.param("a\t\nb", "a b", id="tab-newline"),
    pytest.param("a\u3000\u3000b", "a b", id="ideographic-spaces"),
    pytest.param("  a  ", " a ", id="ends-collapsed-not-stripped"),
    pytest.param("ab", "ab", id="nothing-to-do"),
])
def test_collapse_spaces(text, expected):
    assert collapse_spaces(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param(" 桃園市 觀音區\u3000八德一街 36號 ", "桃園市觀音區八德一街36號", id="spaces-everywhere"),
    pytest.param("a\tb\nc", "abc", id="tabs-newlines"),
    pytest.param("   ", "", id="only-spaces"),
])
def test_remove_spaces(text, expected):
    assert remove_spaces(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("\u3000桃園市　中壢區  中正路１００號 ", "桃園市 中壢區 中正路100號", id="address"),
    pytest.param("  Ａ１２３４５６７８９\n", "A123456789", id="fullwidth-id"),
    pytest.param("\t\n\u3000", "", id="whitespace-only"),
    pytest.param("", "", id="empty"),
])
def test_normalize(text, expected):
    assert normalize(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("台灣", "臺灣", id="taiwan"),
    pytest.param("台北市八德路", "臺北市八德路", id="taipei"),
    pytest.param("中台路台貿一街", "中臺路臺貿一街", id="every-occurrence"),
    pytest.param("臺中市", "臺中市", id="already-official"),
    pytest.param("桃園市", "桃園市", id="no-tai"),
])
def test_unify_tai(text, expected):
    assert unify_tai(text) == expected


def test_normalize_is_idempotent():
    once = normalize("（０３） ３３２－２１０１　桃園市")
    assert normalize(once) == once == "(03) 332-2101 桃園市"
