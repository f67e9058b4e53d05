"""The 統一編號 checksum (pure engine): weights 1,2,1,2,1,2,4,1, digit sums, divisible by 5, the 7th-digit rule."""

from __future__ import annotations

import pytest

from citygov.points.engine.taxid import is_valid_tax_id


@pytest.mark.parametrize("tax_id", [
    # 0,4,5,9,5,2,5,7 × 1,2,1,2,1,2,4,1 → 0,8,5,18,5,4,20,7 → digit sums 0+8+5+9+5+4+2+7 = 40
    "04595257",
    # 2,2,0,9,9,1,3,1 → 2,4,0,18,9,2,12,1 → 2+4+0+9+9+2+3+1 = 30
    "22099131",
    # 1,2,3,4,5,6,7,6 → 1,4,3,8,5,12,28,6 → 1+4+3+8+5+3+10+6 = 40 (28 counted as 10)
    "12345676",
    "00000000",  # 0
])
def test_valid_numbers(tax_id):
    assert is_valid_tax_id(tax_id) is True


def test_seventh_digit_seven_may_count_as_one():
    # 1,2,3,4,5,6,7,5 → 1+4+3+8+5+3+10+5 = 39; the 7th digit is 7, so 28 may count as 1: 39 + 1 = 40.
    assert is_valid_tax_id("12345675") is True


def test_the_seventh_digit_rule_needs_a_seven():
    # 1,2,3,4,5,6,0,5 → 1+4+3+8+5+3+0+5 = 29; 29 + 1 = 30 would pass, but the 7th digit is 0, not 7.
    assert is_valid_tax_id("12345605") is False


def test_divisible_by_five_is_enough_since_2023():
    # 2,2,0,9,9,1,3,6 → 2+4+0+9+9+2+3+6 = 35: not divisible by 10 (the old rule), divisible by 5.
    assert is_valid_tax_id("22099136") is True


@pytest.mark.parametrize("tax_id", ["04595258", "22099132", "12345672", "12345677"])
def test_wrong_check_digit(tax_id):
    assert is_valid_tax_id(tax_id) is False


@pytest.mark.parametrize("value", ["", "0459525", "045952570", "0459525A", "04 95257", " 04595257", "-4595257"])
def test_wrong_shape(value):
    assert is_valid_tax_id(value) is False


# The engine checks ASCII digits only: callers fold width and strip explicitly (DESIGN rule 6).


def test_trailing_newline_is_wrong_shape():
    assert is_valid_tax_id("04595257\n") is False


def test_full_width_digits_are_wrong_shape():
    assert is_valid_tax_id("０４５９５２５７") is False


@pytest.mark.parametrize("value", [None, 4595257, b"04595257"])
def test_not_a_string(value):
    assert is_valid_tax_id(value) is False
