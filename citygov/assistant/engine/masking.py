"""Personal-data masking for citizens' questions, before anything is logged, stored or matched.

Builds on :func:`citygov.core.text.masking.mask_personal_data` (IDs, phones, e-mail) and adds what a
consultation brings in: payment card numbers, street addresses and licence plates. Anything of the right
*shape* is masked whether or not its checksum passes (a mistyped ID is still someone's ID); the checksum
only labels what was found, for analytics. Public service numbers (1999, 110, 119, 113, 165, 0800-…)
are never masked.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from citygov.core.text.masking import mask_personal_data

CARD_MASK = "[CARD]"
ADDRESS_MASK = "[ADDRESS]"
PLATE_MASK = "[PLATE]"
TOKENS = ("[ID]", "[PHONE]", "[EMAIL]", CARD_MASK, ADDRESS_MASK, PLATE_MASK)

_LETTER_VALUES = {
    "A": 10, "B": 11, "C": 12, "D": 13, "E": 14, "F": 15, "G": 16, "H": 17, "I": 34, "J": 18, "K": 19,
    "L": 20, "M": 21, "N": 22, "O": 35, "P": 23, "Q": 24, "R": 25, "S": 26, "T": 27, "U": 28, "V": 29,
    "W": 32, "X": 30, "Y": 31, "Z": 33,
}
_ID_WEIGHTS = (1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1)

_ID_SHAPE = re.compile(r"(?<![A-Za-z0-9])([A-Za-z])([12A-Da-d89])(\d{8})(?![A-Za-z0-9])")
# 13-19 digits written together, or grouped as printed on cards: 4-4-4-4(-3) or 4-6-5 (American Express),
# with spaces or dashes. A run of unrelated numbers (an ID then a phone) is not one card.
_CARD = re.compile(
    r"(?<![\dA-Za-z+])(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{3})?|\d{4}([ -])\d{6}\2\d{5})(?![\dA-Za-z])"
)
_CJK = r"\u3400-\u9fff"
# Street address: a road (…路/街/大道, optional 段), optional 巷/弄/衖, then a house number (號, 之N) and
# an optional floor. The road's name excludes administrative suffixes so a leading 臺北市中山區 is kept
# (a bare city and district are useful for analytics and identify nobody).
_ADDR_NAME = rf"[{_CJK}A-Za-z0-9]"
_NUM = r"(?:\d+|[一二三四五六七八九十百零〇]+)"
_ADDRESS = re.compile(
    rf"(?:(?!(?:[縣市區鄉鎮里村鄰在住於到是的我])){_ADDR_NAME}){{1,6}}?(?:路|街|大道)"
    rf"(?:{_NUM}段)?(?:{_NUM}巷)?(?:{_NUM}弄)?(?:{_NUM}衖)?"
    rf"(?:{_NUM}號(?:之{_NUM})?(?:{_NUM}(?:樓|F|f)(?:之{_NUM})?)?|{_NUM}巷)"
)
_PLATE = re.compile(r"(?<![A-Za-z0-9-])(?:[A-Za-z]{2,3}-\d{4}|\d{4}-[A-Za-z]{2}|[A-Za-z]{3}-\d{3})(?![A-Za-z0-9-])")
_DASHES = dict.fromkeys(map(ord, "‐‑‒–—―−"), "-")


@dataclass(frozen=True)
class Finding:
    """One piece of personal data found: its kind and whether its checksum passed (``None``: none exists)."""

    kind: str
    valid: bool | None


@dataclass(frozen=True)
class Masked:
    """Masked text (NFKC-folded) and what was found in it."""

    text: str
    findings: tuple[Finding, ...]

    @property
    def kinds(self) -> tuple[str, ...]:
        """Sorted distinct kinds found, e.g. ``("card", "national_id")``."""
        return tuple(sorted({finding.kind for finding in self.findings}))


def id_checksum_ok(value: str) -> bool:
    """True when ``value`` is a national ID or resident certificate number whose checksum passes.

    Rules: national ID ``[A-Z][12]\\d{8}``, new resident certificate ``[A-Z][89]\\d{8}`` (from 2021),
    old resident certificate ``[A-Z][A-D]\\d{8}`` whose second letter counts as (letter value mod 10).

    >>> id_checksum_ok("A123456789"), id_checksum_ok("A800000014"), id_checksum_ok("AA00000009")
    (True, True, True)
    >>> id_checksum_ok("A123456788")
    False
    """
    value = value.upper()
    if len(value) != 10 or value[0] not in _LETTER_VALUES or not value[2:].isdigit():
        return False
    second = value[1]
    if second in "ABCD":
        gender = _LETTER_VALUES[second] % 10
    elif second in "1289":
        gender = int(second)
    else:
        return False
    first = _LETTER_VALUES[value[0]]
    digits = (first // 10, first % 10, gender, *map(int, value[2:]))
    return sum(d * w for d, w in zip(digits, _ID_WEIGHTS, strict=True)) % 10 == 0


def id_kind(value: str) -> str:
    """``national_id``, ``resident_new`` or ``resident_old`` from the second character of an ID shape."""
    second = value[1].upper()
    if second in "12":
        return "national_id"
    return "resident_new" if second in "89" else "resident_old"


def luhn_ok(digits: str) -> bool:
    """Luhn check on a string of digits (payment cards).

    >>> luhn_ok("4111111111111111"), luhn_ok("4111111111111112")
    (True, False)
    """
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def mask(text: str) -> Masked:
    """Mask every kind of personal data in a citizen's text and report what was found.

    The text is NFKC-folded first (full-width digits, ＠, dashes), so the result is a half-width copy
    with ``[ID]``, ``[PHONE]``, ``[EMAIL]``, ``[CARD]``, ``[ADDRESS]`` and ``[PLATE]`` in place of the data.

    >>> mask("我的身分證A123456789，卡號4111 1111 1111 1111，住中山路100號3樓").text
    '我的身分證[ID],卡號[CARD],住[ADDRESS]'
    >>> mask("請撥1999或0800-000-123").text
    '請撥1999或0800-000-123'
    """
    if not text:
        return Masked(text="", findings=())
    folded = unicodedata.normalize("NFKC", text).translate(_DASHES)
    findings: list[Finding] = []
    for match in _ID_SHAPE.finditer(folded):
        value = match.group(0)
        findings.append(Finding(id_kind(value), id_checksum_ok(value)))

    def card(match: re.Match) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        findings.append(Finding("card", luhn_ok(digits)))
        return CARD_MASK

    folded = _CARD.sub(card, folded)
    before = folded
    folded = mask_personal_data(folded)
    for token, kind in (("[PHONE]", "phone"), ("[EMAIL]", "email")):
        for _ in range(folded.count(token) - before.count(token)):
            findings.append(Finding(kind, None))

    def tagged(kind: str, token: str):
        def replace(match: re.Match) -> str:
            findings.append(Finding(kind, None))
            return token

        return replace

    folded = _ADDRESS.sub(tagged("address", ADDRESS_MASK), folded)
    folded = _PLATE.sub(tagged("plate", PLATE_MASK), folded)
    return Masked(text=folded, findings=tuple(findings))


def mask_text(text: str) -> str:
    """Just the masked text of :func:`mask`."""
    return mask(text).text
