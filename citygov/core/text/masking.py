"""Mask personal data in free text before it is logged or stored. Pure Python.

Masked: Taiwan national IDs and resident certificate numbers, mobile and landline numbers, e-mail
addresses. Detection runs on a half-width copy, so full-width digits and letters (common when people type
with a Chinese input method) are caught too, but the text returned is the original with only the
matched spans replaced: nothing else about the message changes.
"""

from __future__ import annotations

import re
import unicodedata

ID_MASK = "[ID]"
PHONE_MASK = "[PHONE]"
EMAIL_MASK = "[EMAIL]"

# Numbers anyone may publish and that people quote all the time: 1999 citizen hotline, 110 police,
# 119 fire and ambulance, 113 protection hotline, 165 anti-fraud. They must stay readable.
PUBLIC_SERVICE_NUMBERS = frozenset({"1999", "110", "119", "113", "165"})

_NOT_ALNUM_BEFORE = r"(?<![A-Za-z0-9])"
_NOT_ALNUM_AFTER = r"(?![A-Za-z0-9])"

# National ID: a letter, 1 or 2, 8 digits. Resident certificate: a letter then A-D (old form) or 8/9
# (new form from 2021), 8 digits. No checksum test: a mistyped ID is still someone's personal data.
_ID = re.compile(rf"{_NOT_ALNUM_BEFORE}[A-Za-z][12A-Da-d89]\d{{8}}{_NOT_ALNUM_AFTER}")

_SEP = r"[-\s.]?"
_INTL = r"(?:\+\s?886|\(\+?886\)|00886)"
# Mobile: 09 + 8 digits, in any grouping; or +886 9 + 8 digits, with an optional (0) people often keep.
_MOBILE = re.compile(
    rf"(?<![\d+])(?:09|{_INTL}{_SEP}(?:\(0\))?9)(?:{_SEP}\d){{8}}(?!\d)"
)
_EXTENSION = r"(?:\s?(?:#|ext\.?|分機)\s?\d{1,5})?"
# Landline: an area code (02, 03, 037, 049, 082, 0836 …) in brackets or followed by a separator, then a
# 6-8 digit local number. 09 is mobile and 080x is toll-free (public), so neither is an area code here.
_LANDLINE = re.compile(
    rf"(?<![\d+])(?:\(0(?!9|80)\d{{1,3}}\)\s?|0(?!9|80)\d{{1,3}}[-\s])\d{{2,4}}[-\s]?\d{{4}}{_EXTENSION}(?!\d)"
    rf"|{_INTL}{_SEP}\(?[2-8]\d{{0,2}}\)?{_SEP}\d{{2,4}}[-\s]?\d{{4}}{_EXTENSION}(?!\d)"
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")

_PATTERNS = ((_EMAIL, EMAIL_MASK), (_ID, ID_MASK), (_MOBILE, PHONE_MASK), (_LANDLINE, PHONE_MASK))

# Dashes NFKC leaves alone but people (and word processors) put in phone numbers.
_DASHES = dict.fromkeys(map(ord, "‐‑‒–—―−"), "-")


def _detection_copy(text: str) -> tuple[str, list[int]]:
    """Half-width copy of ``text`` and, for each of its characters, the index it came from in ``text``.

    NFKC may turn one character into several (㈱ → (株)), so positions are mapped rather than assumed.
    """
    if text.isascii():
        return text, list(range(len(text)))
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        folded = unicodedata.normalize("NFKC", char).translate(_DASHES)
        chars.append(folded)
        origin.extend([index] * len(folded))
    return "".join(chars), origin


def _spans(copy: str) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, token) spans in the detection copy; the longest wins an overlap."""
    found = []
    for pattern, token in _PATTERNS:
        for match in pattern.finditer(copy):
            if re.sub(r"\D", "", match.group(0)) in PUBLIC_SERVICE_NUMBERS:
                continue
            found.append((match.start(), match.end(), token))
    # An e-mail such as 0912345678@example.tw also contains a phone shape: the longer span is the truth.
    found.sort(key=lambda span: (span[0], -(span[1] - span[0])))
    chosen: list[tuple[int, int, str]] = []
    for span in found:
        if chosen and span[0] < chosen[-1][1]:
            continue
        chosen.append(span)
    return chosen


def mask_personal_data(text: str) -> str:
    """Replace IDs, phone numbers and e-mail addresses with ``[ID]``, ``[PHONE]`` and ``[EMAIL]``.

    Parameters
    ----------
    text : str
        Free text, e.g. a citizen's question or a log message.

    Returns
    -------
    str
        ``text`` with each personal-data span replaced by its token; everything else, including full-width
        characters outside the spans and public service numbers (1999, 110, 119, 113, 165), unchanged.

    Examples
    --------
    >>> mask_personal_data("A123456789 0912-345-678 a@b.tw")
    '[ID] [PHONE] [EMAIL]'
    >>> mask_personal_data("請撥1999或（03）332-2101")
    '請撥1999或[PHONE]'
    """
    if not text:
        return text
    copy, origin = _detection_copy(text)
    spans = _spans(copy)
    if not spans:
        return text
    pieces = []
    cursor = 0
    for start, end, token in spans:
        original_start, original_end = origin[start], origin[end - 1] + 1
        pieces.append(text[cursor:original_start])
        pieces.append(token)
        cursor = original_end
    pieces.append(text[cursor:])
    return "".join(pieces)
