"""Japanese postal codes (郵便番号): seven digits, written 〒123-4567, 123-4567 or 1234567."""

from __future__ import annotations

import re

from ocr_service.validation.text import fold_width, unify_hyphens

__all__ = ["PostalError", "format_postal", "normalize_postal"]


class PostalError(ValueError):
    """Not a postal code; ``str(exc)`` is a Japanese reason for the reviewer."""


_POSTAL = re.compile(r"^(\d{3})-?(\d{4})$")


def normalize_postal(text: str) -> str:
    """The seven digits of a written postal code (``"〒１２３－４５６７"`` → ``"1234567"``).

    Accepts a leading 〒 (or 〶), full-width digits, spaces and any hyphen-like
    character between the third and fourth digit. A hyphen elsewhere or a digit
    count other than seven is an error.
    """
    cleaned = unify_hyphens(fold_width(text)).lstrip("〒〶")
    if not cleaned:
        raise PostalError("郵便番号が空欄です")
    match = _POSTAL.match(cleaned)
    if match is None:
        digits = sum(ch.isdigit() for ch in cleaned)
        if digits != 7:
            raise PostalError(f"郵便番号は7桁です（{digits}桁）")
        raise PostalError(f"「{text}」は郵便番号の形式（123-4567）ではありません")
    return match.group(1) + match.group(2)


def format_postal(text: str) -> str:
    """``123-4567`` spelling of a written postal code; PostalError when invalid."""
    digits = normalize_postal(text)
    return f"{digits[:3]}-{digits[3:]}"
