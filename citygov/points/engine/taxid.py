"""Taiwan's business identification number (統一編號): format and checksum. Pure Python."""

from __future__ import annotations

import re

_WEIGHTS = (1, 2, 1, 2, 1, 2, 4, 1)
_FORMAT = re.compile(r"[0-9]{8}")


def is_valid_tax_id(value: str) -> bool:
    """Whether ``value`` is a valid 統一編號 (8 digits, weighted checksum divisible by 5).

    Each digit is multiplied by 1,2,1,2,1,2,4,1 and the digits of each product are added. The sum
    must be divisible by 5 (the rule from 2023; it was 10 before, and every old number still passes).
    When the 7th digit is 7 its product 28 may count as 10 or as 1, so the sum + 1 may also pass.

    >>> is_valid_tax_id("04595257")
    True
    >>> is_valid_tax_id("04595258")
    False
    """
    if not isinstance(value, str) or not _FORMAT.fullmatch(value):
        return False
    total = 0
    for digit, weight in zip(value, _WEIGHTS, strict=True):
        product = int(digit) * weight
        total += product // 10 + product % 10
    if total % 5 == 0:
        return True
    return value[6] == "7" and (total + 1) % 5 == 0
