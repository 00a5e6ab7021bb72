"""Postal codes and phone numbers: written forms normalise to digits; wrong shapes are rejected."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocr_service.validation.phone import PhoneError, hyphenate_phone, normalize_phone, phone_kind
from ocr_service.validation.postal import PostalError, format_postal, normalize_postal
from ocr_service.validation.text import HYPHENS

_FULL = str.maketrans("0123456789", "０１２３４５６７８９")
_digits = st.text(alphabet="0123456789", min_size=1, max_size=12)


@given(
    st.text(alphabet="0123456789", min_size=7, max_size=7),
    st.sampled_from(["", "〒", "〒 "]),
    st.sampled_from(["", *HYPHENS]),
    st.booleans(),
)
def test_postal_written_forms_normalise(code: str, mark: str, hyphen: str, full_width: bool) -> None:
    """GIVEN 7 digits written with or without 〒, any hyphen, any width WHEN normalised THEN the 7 digits."""
    written = f"{mark}{code[:3]}{hyphen}{code[3:]}"
    if full_width:
        written = written.translate(_FULL)
    assert normalize_postal(written) == code
    assert format_postal(written) == f"{code[:3]}-{code[3:]}"


@given(_digits.filter(lambda d: len(d) != 7))
def test_postal_wrong_digit_count_rejected(digits: str) -> None:
    """GIVEN a digit string that is not 7 long WHEN normalised THEN PostalError names the count."""
    with pytest.raises(PostalError, match="7桁"):
        normalize_postal(digits)


@pytest.mark.parametrize("written", ["12-34567", "1234-567", "123-45-67", "123-456A", "", "〒"])
def test_postal_bad_shapes_rejected(written: str) -> None:
    """GIVEN a hyphen in the wrong place, a letter or nothing WHEN normalised THEN PostalError."""
    with pytest.raises(PostalError):
        normalize_postal(written)


@given(st.text(max_size=12))
def test_postal_never_crashes(text: str) -> None:
    """GIVEN any text WHEN normalised THEN 7 ASCII digits or PostalError."""
    try:
        result = normalize_postal(text)
    except PostalError:
        return
    assert len(result) == 7 and result.isascii() and result.isdigit()


# -- phone ----------------------------------------------------------------------------------------


def _valid_numbers() -> st.SearchStrategy[str]:
    rest = st.text(alphabet="0123456789", min_size=8, max_size=8)
    mobile = st.builds(lambda p, r: p + r, st.sampled_from(["070", "080", "090", "050"]), rest)
    free = st.builds(lambda r: "0120" + r[:6], rest)
    # Fixed: 0 + a non-zero digit + 8 more, avoiding the prefixes of other kinds.
    fixed = st.builds(lambda a, r: "0" + a + r, st.sampled_from("123456789"), rest).filter(
        lambda d: phone_kind(d)[0] == "fixed"
    )
    return st.one_of(mobile, free, fixed)


@given(_valid_numbers(), st.booleans(), st.sampled_from(["-", "－", "ー", "‐", " "]))
def test_phone_written_forms_normalise(digits: str, full_width: bool, hyphen: str) -> None:
    """GIVEN a valid number, plain or in its conventional hyphenation WHEN normalised THEN its digits."""
    for written in (digits, hyphenate_phone(digits).replace("-", hyphen)):
        text = written.translate(_FULL) if full_width else written
        number = normalize_phone(text)
        assert number.digits == digits
        assert number.kind == phone_kind(digits)[0]
        assert normalize_phone(number.hyphenated).digits == digits


@given(_valid_numbers())
def test_phone_wrong_length_rejected(digits: str) -> None:
    """GIVEN a valid number with a digit dropped or added WHEN normalised THEN PhoneError."""
    with pytest.raises(PhoneError, match="桁"):
        normalize_phone(digits[:-1])
    with pytest.raises(PhoneError, match="桁"):
        normalize_phone(digits + "1")


@pytest.mark.parametrize(
    ("written", "digits", "kind"),
    [
        ("090-1234-5678", "09012345678", "mobile"),
        ("050-1234-5678", "05012345678", "ip"),
        ("0120-123-456", "0120123456", "free_dial"),
        ("0800-123-4567", "08001234567", "free_dial"),
        ("03-1234-5678", "0312345678", "fixed"),
        ("092-209-9448", "0922099448", "fixed"),
        ("0465-12-3456", "0465123456", "fixed"),
        ("01267-1-2345", "0126712345", "fixed"),
        ("(03)1234-5678", "0312345678", "fixed"),
        ("03(1234)5678", "0312345678", "fixed"),
        ("+81 90-1234-5678", "09012345678", "mobile"),
    ],
)
def test_phone_examples(written: str, digits: str, kind: str) -> None:
    """GIVEN numbers of each kind as people write them WHEN normalised THEN digits and kind."""
    number = normalize_phone(written)
    assert (number.digits, number.kind) == (digits, kind)


@pytest.mark.parametrize(
    "written", ["090-12-345678", "03-1234-567", "0012345678", "1234567890", "03-123-45678", "090-1234-567a"]
)
def test_phone_bad_shapes_rejected(written: str) -> None:
    """GIVEN misplaced hyphens, wrong counts, no leading 0 or letters WHEN normalised THEN PhoneError."""
    with pytest.raises(PhoneError):
        normalize_phone(written)


def test_hyphenation_of_known_area_codes() -> None:
    """GIVEN fixed numbers with 2-, 3- and 5-digit area codes WHEN hyphenated THEN groups follow the code."""
    assert hyphenate_phone("0312345678") == "03-1234-5678"
    assert hyphenate_phone("0922099448") == "092-209-9448"
    assert hyphenate_phone("0126712345") == "01267-1-2345"
    assert hyphenate_phone("0123456789") == "0123-45-6789"
    assert hyphenate_phone("09012345678") == "090-1234-5678"


@given(st.text(max_size=16))
def test_phone_never_crashes(text: str) -> None:
    """GIVEN any text WHEN normalised THEN a number or PhoneError."""
    try:
        number = normalize_phone(text)
    except PhoneError:
        return
    assert number.digits.isascii() and number.digits.isdigit() and number.digits.startswith("0")
