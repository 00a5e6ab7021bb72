"""Check digits (個人番号, 法人番号, Luhn) and representability in target encodings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocr_service.validation.checkdigit import (
    corporate_number_check_digit,
    has_valid_check_digit,
    luhn_check_digit,
    my_number_check_digit,
)
from ocr_service.validation.encoding import is_representable, representability, unrepresentable


def test_my_number_known_example() -> None:
    """GIVEN the published sample 個人番号 1234 5678 9018 WHEN checked THEN valid; any other last digit is not."""
    assert my_number_check_digit("12345678901") == 8
    assert has_valid_check_digit("123456789018", "my_number") is None
    for wrong in "012345679":
        assert "チェックデジット" in (has_valid_check_digit("12345678901" + wrong, "my_number") or "")


def test_corporate_number_known_example() -> None:
    """GIVEN 国税庁's 法人番号 7000012050002 WHEN checked THEN valid (the check digit is the first)."""
    assert corporate_number_check_digit("000012050002") == 7
    assert has_valid_check_digit("7000012050002", "corporate_number") is None
    assert has_valid_check_digit("6000012050002", "corporate_number") is not None


def test_luhn_known_example() -> None:
    """GIVEN the textbook Luhn number 79927398713 WHEN checked THEN valid."""
    assert luhn_check_digit("7992739871") == 3
    assert has_valid_check_digit("79927398713", "luhn") is None


@pytest.mark.parametrize(("number", "problem"), [("12345678901", "12桁"), ("1234567890１8", "数字")])
def test_my_number_shape_errors(number: str, problem: str) -> None:
    """GIVEN a number of the wrong length or with non-ASCII digits WHEN checked THEN the reason says so."""
    assert problem in (has_valid_check_digit(number, "my_number") or "")


@given(st.text(alphabet="0123456789", min_size=11, max_size=11), st.integers(0, 10), st.integers(1, 9))
def test_my_number_catches_single_digit_misreads(body: str, position: int, delta: int) -> None:
    """GIVEN a valid 個人番号 WHEN one of the first 11 digits is misread THEN the check digit catches it,
    except where both sums leave remainder 0 or 1 (the algorithm maps both to check digit 0)."""
    valid = body + str(my_number_check_digit(body))
    assert has_valid_check_digit(valid, "my_number") is None
    misread = valid[:position] + str((int(valid[position]) + delta) % 10) + valid[position + 1 :]
    caught = has_valid_check_digit(misread, "my_number") is not None
    assert caught or (valid[-1] == "0" and my_number_check_digit(misread[:11]) == 0)


def test_representability_of_the_classic_characters() -> None:
    """GIVEN 𠮷, 髙 and 﨑 WHEN checked THEN 𠮷 fits only UTF-8; 髙 and 﨑 fit CP932 but not Shift_JIS/EUC-JP."""
    result = representability("𠮷野髙﨑")
    assert result["utf-8"] == []
    assert result["cp932"] == ["𠮷"]
    assert result["shift_jis"] == ["𠮷", "髙", "﨑"]
    assert result["euc-jp"] == ["𠮷", "髙", "﨑"]
    assert is_representable("山田太郎", "shift_jis")
    assert unrepresentable("①①", "shift_jis") == ["①"]
    assert is_representable("①", "cp932")


def test_unknown_encoding_is_an_error() -> None:
    """GIVEN an encoding that is not a target WHEN checked THEN ValueError names the choices."""
    with pytest.raises(ValueError, match="cp932"):
        unrepresentable("a", "latin-1")  # type: ignore[arg-type]
