"""Mask personal data in free text before it is logged or stored. Pure Python."""

from __future__ import annotations

import re

# Taiwan national ID / resident certificate: a letter, then 1/2 (or A-D / 8/9 for residents), then 8 digits.
_NATIONAL_ID = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][1289A-Da-d]\d{8}(?![A-Za-z0-9])")
_MOBILE = re.compile(r"(?<!\d)(?:\+?886[-\s]?9|09)\d{2}[-\s]?\d{3}[-\s]?\d{3}(?!\d)")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")

MASK = "***"


def mask_personal_data(text: str) -> str:
    """Replace national IDs, mobile numbers and e-mail addresses with a mask.

    >>> mask_personal_data("A123456789 0912-345-678 a@b.tw")
    '[ID] [PHONE] [EMAIL]'
    """
    text = _NATIONAL_ID.sub("[ID]", text)
    text = _MOBILE.sub("[PHONE]", text)
    return _EMAIL.sub("[EMAIL]", text)
