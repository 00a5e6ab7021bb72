"""Check digits of Japanese identification numbers.

* 個人番号 (My Number), 12 digits: the last digit checks the first 11
  (行政手続における特定の個人を識別するための番号の利用等に関する法律施行令 第八条).
* 法人番号 (corporate number), 13 digits: the FIRST digit checks the other 12.
* Luhn (mod 10), for card-like numbers some forms carry.
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "CHECK_DIGIT_KINDS",
    "CheckDigitKind",
    "corporate_number_check_digit",
    "has_valid_check_digit",
    "luhn_check_digit",
    "my_number_check_digit",
]

CheckDigitKind = Literal["my_number", "corporate_number", "luhn"]
CHECK_DIGIT_KINDS: tuple[CheckDigitKind, ...] = ("my_number", "corporate_number", "luhn")

_LENGTHS: dict[str, int | None] = {"my_number": 12, "corporate_number": 13, "luhn": None}
_NAMES: dict[str, str] = {"my_number": "個人番号", "corporate_number": "法人番号", "luhn": "番号"}


def _digits(text: str, count: int) -> list[int]:
    if len(text) != count or not text.isascii() or not text.isdigit():
        raise ValueError(f"expected {count} ASCII digits, got {text!r}")
    return [int(ch) for ch in text]


def my_number_check_digit(first11: str) -> int:
    """Check digit for the first 11 digits of a 個人番号.

    Weights from the right: 2..7 for positions 1..6, 2..6 for positions 7..11;
    remainder r of the weighted sum mod 11; check = 0 if r <= 1 else 11 - r.
    """
    digits = _digits(first11, 11)
    total = 0
    for n, digit in enumerate(reversed(digits), start=1):
        total += digit * (n + 1 if n <= 6 else n - 5)
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def corporate_number_check_digit(base12: str) -> int:
    """Check digit (the leading digit) of a 法人番号 from its other 12 digits.

    Weights from the right: 1 for odd positions, 2 for even; check = 9 - (sum mod 9).
    """
    digits = _digits(base12, 12)
    total = sum(d * (1 if n % 2 else 2) for n, d in enumerate(reversed(digits), start=1))
    return 9 - total % 9


def luhn_check_digit(body: str) -> int:
    """Luhn check digit to append to ``body``."""
    digits = _digits(body, len(body))
    total = 0
    for n, digit in enumerate(reversed(digits), start=1):
        if n % 2:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return (10 - total % 10) % 10


def has_valid_check_digit(number: str, kind: CheckDigitKind) -> str | None:
    """None when ``number`` (ASCII digits) passes the check of ``kind``, else a Japanese reason."""
    length = _LENGTHS[kind]
    name = _NAMES[kind]
    if not number.isascii() or not number.isdigit():
        return f"{name}は数字だけで書きます"
    if length is not None and len(number) != length:
        return f"{name}は{length}桁です（{len(number)}桁）"
    if kind == "my_number":
        ok = my_number_check_digit(number[:11]) == int(number[11])
    elif kind == "corporate_number":
        ok = corporate_number_check_digit(number[1:]) == int(number[0])
    else:
        ok = len(number) >= 2 and luhn_check_digit(number[:-1]) == int(number[-1])
    return None if ok else f"{name}のチェックデジットが一致しません（読み誤りの可能性があります）"
