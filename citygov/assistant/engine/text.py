"""Matching text for Chinese FAQ retrieval: normalisation, synonyms and character n-gram tokens.

The same steps run on the bank and on every question, so both sides meet on one canonical form:
personal data masked → NFKC (full-width → half-width) → Simplified → Traditional (OpenCC ``s2twp``) →
台 → 臺 → lower-case Latin → punctuation to spaces → synonyms rewritten to their canonical term.
Chinese runs become character unigrams and bigrams (a word tokeniser scores Chinese at zero and a
segmenter trained on Simplified text splits Traditional words badly); Latin words and numbers stay whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from citygov.assistant.engine.masking import TOKENS, mask_text
from citygov.core.text.normalize import normalize, to_traditional, unify_tai

_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+|[a-z]+|\d+")
_PUNCT = re.compile(r"[^\w\u3400-\u9fff\uf900-\ufaff]+")
# Characters and pairs that carry no topic: question words, particles, polite openers. They still count
# for the bigrams they form with a content character (如何 → 何申 is not a token but 申請 is).
STOP_UNIGRAMS = frozenset("的了嗎呢吧啊呀喔哦請問我你他她們是有在要想會能可以怎麼何什麼為哪些誰一個這那就都也還和與及或等")
STOP_BIGRAMS = frozenset({
    "請問", "如何", "怎麼", "什麼", "可以", "想要", "知道", "為何", "是否", "哪些", "哪裡", "我想", "我要", "我的",
    "是什", "麼辦", "怎樣", "一下", "有沒", "沒有", "需要", "應該", "要怎", "要如", "能不", "不能", "可不", "不可",
    "問一", "何處", "哪個", "的話", "有什", "要去", "你們", "我們", "嗎?",
})


def canonical(text: str, *, user_text: bool = True) -> str:
    """Mask personal data, then fold width, script, 台/臺, case and punctuation (no synonyms).

    ``user_text=False`` skips masking: FAQ entries are the city's own text, and the agency numbers and
    addresses quoted in them are public (masking them would only cost build time).

    >>> canonical("怎么申请台北市的ＹｏｕＢｉｋｅ？我的电话0912345678")
    '怎麼申請臺北市的youbike 我的電話'
    """
    if user_text:
        text = mask_text(text)
        for token in TOKENS:
            text = text.replace(token, " ")
    text = unify_tai(to_traditional(normalize(text))).lower()
    return _PUNCT.sub(" ", text).replace("_", " ").strip()


@dataclass(frozen=True)
class Synonyms:
    """Alias → canonical term table; aliases are rewritten longest first so 身份證字號 beats 身份證."""

    table: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, lines) -> Synonyms:
        """Read ``canonical = alias, alias`` lines (``#`` comments, blank lines ignored).

        Raises ``ValueError`` naming the line for a malformed one.
        """
        pairs: dict[str, str] = {}
        for number, raw in enumerate(lines, start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if "=" not in line:
                raise ValueError(f"line {number}: expected 'term = alias, alias' / 第 {number} 行格式應為「詞 = 同義詞, 同義詞」")
            head, tail = line.split("=", 1)
            term = canonical(head)
            aliases = [canonical(alias) for alias in re.split(r"[,，、]", tail)]
            if not term or not any(aliases):
                raise ValueError(f"line {number}: empty term or alias list / 第 {number} 行缺少詞或同義詞")
            for alias in aliases:
                if alias and alias != term:
                    pairs[alias] = term
        return cls(tuple(sorted(pairs.items(), key=lambda pair: (-len(pair[0]), pair[0]))))

    def apply(self, text: str) -> str:
        """Rewrite every alias in an already :func:`canonical` text to its term."""
        if not self.table:
            return text
        pattern = self._pattern()
        return pattern.sub(lambda match: self._lookup()[match.group(0)], text)

    def _pattern(self) -> re.Pattern:
        cached = _PATTERNS.get(self.table)
        if cached is None:
            cached = re.compile("|".join(re.escape(alias) for alias, _ in self.table))
            _PATTERNS[self.table] = cached
            _LOOKUPS[self.table] = dict(self.table)
        return cached

    def _lookup(self) -> dict[str, str]:
        return _LOOKUPS[self.table]


_PATTERNS: dict[tuple, re.Pattern] = {}
_LOOKUPS: dict[tuple, dict[str, str]] = {}


# What a question asks for, whatever words it uses: 「去哪辦」 and 「申辦單位」 both ask *which office*,
# 「到什麼時候」 and 「實施期間」 both ask *when*. Each intent found adds one token (``?where`` …) to the
# question and to the FAQ phrasing, so two texts asking the same kind of thing share a token that BM25
# weighs by its rarity. Cues are matched on canonical, synonym-rewritten text.
INTENT_CUES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("when", ("何時", "時候", "幾時", "哪時", "期間", "日期", "多久", "幾點", "截止", "期限", "幾號", "哪天", "時程")),
    ("where", ("哪裡", "哪邊", "地點", "地址", "在哪", "位置", "據點", "去哪", "哪家", "哪個地方")),
    ("office", ("找誰", "問誰", "通報誰", "單位", "窗口", "機關", "向哪", "洽詢", "聯絡", "聯繫", "電話")),
    ("why", ("為什麼", "為何", "原因", "怎麼會")),
    ("penalty", ("罰", "取締")),
    ("cost", ("多少錢", "費用", "金額", "收費", "價格", "價錢", "花錢", "要錢", "免費", "票價", "多少元", "付費", "繳費")),
    ("eligibility", ("資格", "條件", "對象", "誰可以", "哪些人", "誰能", "符合", "限制")),
    ("documents", ("文件", "證件", "要帶", "應備", "攜帶", "檢附", "表格", "申請表", "書表")),
    ("handling", ("怎麼辦", "處理", "該怎麼做", "可以怎麼做", "怎麼做")),
    ("items", ("哪些", "項目", "內容", "有什麼")),
)
_INTENT_PATTERNS = tuple((f"?{name}", re.compile("|".join(map(re.escape, cues)))) for name, cues in INTENT_CUES)


def intents(text: str) -> list[str]:
    """Intent tokens (``?when``, ``?office`` …) of a canonical, synonym-rewritten text.

    >>> intents("中低收入老人生活津貼去哪辦 要帶什麼")
    ['?where', '?documents']
    """
    return [token for token, pattern in _INTENT_PATTERNS if pattern.search(text)]


def tokens(text: str) -> list[str]:
    """Character unigrams and bigrams of Chinese runs plus whole Latin words and numbers.

    ``text`` must already be :func:`canonical` (and synonym-rewritten). Stop characters and pairs are left out.

    >>> tokens("申請youbike 2.0")
    ['申', '申請', 'youbike', '2', '0']
    """
    out: list[str] = []
    for run in _CJK_RUN.findall(text):
        if not ("\u3400" <= run[0] <= "\u9fff" or "\uf900" <= run[0] <= "\ufaff"):
            out.append(run)
            continue
        out.extend(char for char in run if char not in STOP_UNIGRAMS)
        out.extend(pair for pair in (run[i:i + 2] for i in range(len(run) - 1)) if pair not in STOP_BIGRAMS)
    return out

