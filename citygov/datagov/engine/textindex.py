"""Search tokens for catalogue full-text search: character bigrams, spelled in plain ASCII letters.

Chinese has no spaces between words, so a word index cannot find 停車 inside 停車場. Instead every run of
letters and digits in the (already normalised) search text is cut into overlapping character bigrams,
and the last character of each run is kept on its own, so that:

- a query term of two or more characters matches every bigram of it (``AND``); the caller then checks
  the exact substring on the few candidates, so the result is exactly "the text contains the term";
- a one-character term matches, as a prefix, every token that starts with that character (each
  character either starts a bigram or ends its run).

Each character is spelt as five lower-case ASCII letters (base 26 of its code point), so a token is a
plain word to SQLite FTS5's ``unicode61`` tokenizer and to PostgreSQL's ``simple`` text-search
configuration alike: no Unicode category, diacritic folding or locale can make the two databases cut
it differently. Pure Python, no Django.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_WIDTH = 5  # 26**5 = 11,881,376 > 0x10FFFF


_RUN = re.compile(r"[^\W_]+")  # maximal runs of characters for which str.isalnum() holds
_SPELT: dict[str, str] = {}


def _spell(char: str) -> str:
    """Five letters for one character (base 26 of its code point, most significant first); cached."""
    found = _SPELT.get(char)
    if found is None:
        value = ord(char)
        out = []
        for _ in range(_WIDTH):
            value, digit = divmod(value, 26)
            out.append(_LETTERS[digit])
        found = "".join(reversed(out))
        if len(_SPELT) < 200_000:
            _SPELT[char] = found
    return found


def _runs(text: str) -> list[str]:
    """Maximal runs of letters and digits (CJK ideographs count as letters)."""
    return _RUN.findall(text)


def _spell_gram(gram: str) -> str:
    """The token of a bigram, or of one character followed by a space (the end of a run); cached."""
    found = _GRAMS.get(gram)
    if found is None:
        found = "".join(_spell(c) for c in gram.rstrip(" "))
        if len(_GRAMS) < 500_000:
            _GRAMS[gram] = found
    return found


_GRAMS: dict[str, str] = {}


def index_tokens(text: str) -> str:
    """The space-separated, de-duplicated, sorted tokens to index for ``text``.

    The runs are joined by single spaces (with one after the last), and every pair of neighbouring
    characters taken at once: a pair of two run characters is a bigram, a character followed by the space
    is the end of its run (indexed on its own), and a pair starting with the space is dropped. Spelling
    keeps the order of code points (fixed width, most significant letter first) and the space sorts below
    every letter and digit, so the pairs are sorted before they are spelt and the dropped ones lead.
    """
    joined = " ".join(_runs(text)) + " "
    pairs = sorted(set(map(str.__add__, joined, joined[1:])))
    pairs = pairs[bisect.bisect_left(pairs, "!"):]
    try:
        return " ".join(map(_GRAMS.__getitem__, pairs))
    except KeyError:  # a pair not seen before (or the cache is full): spell them one by one
        return " ".join(map(_spell_gram, pairs))


@dataclass(frozen=True)
class QueryToken:
    """One token a query term requires; ``prefix``: any indexed token starting with it will do."""

    token: str
    prefix: bool


def query_tokens(term: str) -> tuple[QueryToken, ...]:
    """The tokens every match of ``term`` must hold (empty when the term has no letter or digit)."""
    found: dict[str, QueryToken] = {}
    for run in _runs(term):
        letters = [_spell(c) for c in run]
        if len(letters) == 1:
            found.setdefault(letters[0], QueryToken(letters[0], True))
        for a, b in zip(letters, letters[1:], strict=False):
            found.setdefault(a + b, QueryToken(a + b, False))
    return tuple(found.values())


def is_exact(term: str) -> bool:
    """Whether the index alone decides ``term`` (one run of at most two characters, nothing else)."""
    runs = _runs(term)
    return len(runs) == 1 and runs[0] == term and len(term) <= 2
