"""Shared text helpers for the normalisers: width folding, digit and hyphen variants."""

from __future__ import annotations

import unicodedata

HYPHENS = "-‐‑‒–—―−－ｰー─━"
"""Characters people and recognisers use for a hyphen between digits (ASCII, dashes, minus,
full-width hyphen-minus, half-width and full-width 長音, box-drawing lines)."""

KANJI_DIGITS = {
    "〇": 0,
    "○": 0,
    "零": 0,
    "一": 1,
    "二": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
"""Kanji numerals written digit by digit (二〇二四). ○ (U+25CB) is a common stand-in for 〇."""


def fold_width(text: str) -> str:
    """NFKC (full-width digits and Latin to ASCII, half-width kana to full width), spaces removed."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if not ch.isspace())


def unify_hyphens(text: str) -> str:
    """Every hyphen-like character becomes ASCII ``-`` (only for digit fields: 長音 is a hyphen there)."""
    return "".join("-" if ch in HYPHENS else ch for ch in text)


def kanji_number(text: str) -> int | None:
    """Value of a kanji numeral: positional (二十三, 三十一, 千九百八十九) or digit by digit (二〇二四).

    Returns None when ``text`` is not a kanji numeral.
    """
    if not text:
        return None
    if all(ch in KANJI_DIGITS for ch in text):
        value = 0
        for ch in text:
            value = value * 10 + KANJI_DIGITS[ch]
        return value
    units = {"十": 10, "百": 100, "千": 1000}
    total = 0
    pending: int | None = None
    last_unit = 10_000
    for ch in text:
        if ch in KANJI_DIGITS:
            if pending is not None:
                return None  # 二三十: two digits before a unit is not a numeral
            pending = KANJI_DIGITS[ch]
        elif ch in units:
            unit = units[ch]
            if unit >= last_unit:
                return None  # 十百: units must decrease
            total += (1 if pending is None else pending) * unit
            pending = None
            last_unit = unit
        else:
            return None
    return total + (pending or 0)
