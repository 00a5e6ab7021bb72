"""Which script a character is in, and what an unusual mix of scripts inside a reading costs.

A handwritten character the model reads out of context often comes out in the wrong script, in a
shape that looks alike: a kana inside a kana run read as a kanji (き → 手), a katakana read as a
Latin letter (レ → V), a ゛ read as ゜ (ブ → プ). The decoder's priors (:mod:`workers.pipeline.priors`)
charge each such mix a few tenths of a nat to a nat, so that only a near tie turns; the text grammar
(:mod:`workers.pipeline.charsets`) uses the predicates for its rewrites.
"""

from __future__ import annotations

import unicodedata

from ocr_service.validation.kana import is_hiragana

__all__ = [
    "LONE_KANJI",
    "LONE_LATIN",
    "ODD_HANDAKUTEN",
    "is_kanji",
    "is_katakana",
    "lone_kanji",
    "lone_latin",
    "odd_handakuten",
]

LONE_KANJI = 0.5
"""Nats against each single kanji between two hiragana. A handwritten kana inside a kana run is
read as a kanji of like shape (ねつきが → ねつ手が, き and 手 at 24 % each). A kana run goes on with
a kana more often than with one kanji, yet が悪い or を見る are common Japanese too: the cost is
small enough that only a near tie turns (dev forms +1 field; no line of any dev line set changed)."""

LONE_LATIN = 1.0
"""Nats against each single Latin letter inside a katakana word. A handwritten katakana read as a
letter of like shape (composed_hw_fields_dev: クレスト read クVスト, V 47 % and レ 24 %); building
names in letters (ABCマンション) are whole words, not one letter between katakana."""

ODD_HANDAKUTEN = 1.0
"""Nats against each semi-voiced kana (ぱ…ぽ) of a kana name that does not follow ん or っ. In
Japanese names they come only there (テッペイ, シュンペイ, ベップ); a handwritten ゛ is read as ゜
(ノブユキ → ノプユキ, プ 64 % and ブ 36 %). Small enough that a clear パ (a foreign resident's name,
パク) stays."""

_HANDAKUTEN = frozenset("ぱぴぷぺぽパピプペポ")
_BEFORE_HANDAKUTEN = frozenset("んっンッ")


def is_kanji(ch: str) -> bool:
    """A CJK ideograph (not 々 or 〇, which are symbols to Unicode)."""
    return unicodedata.category(ch) == "Lo" and unicodedata.name(ch, "").startswith("CJK")


def is_katakana(ch: str) -> bool:
    """A katakana letter or the long-vowel mark ー."""
    return "ァ" <= ch <= "ヺ" or ch == "ー"


def lone_kanji(text: str) -> int:
    """How many single kanji stand between two hiragana in ``text``."""
    # The hiragana neighbours first: is_kanji asks unicodedata for the character's name, and the beam
    # scores every prefix of every candidate text.
    return sum(
        1 for i in range(1, len(text) - 1) if is_hiragana(text[i - 1]) and is_hiragana(text[i + 1]) and is_kanji(text[i])
    )


def lone_latin(text: str) -> int:
    """How many single ASCII letters stand between two katakana in ``text``."""
    return sum(
        1
        for i in range(1, len(text) - 1)
        if text[i].isascii() and text[i].isalpha() and is_katakana(text[i - 1]) and is_katakana(text[i + 1])
    )


def odd_handakuten(text: str) -> int:
    """How many semi-voiced kana in ``text`` do not follow ん/っ."""
    return sum(
        1 for i, ch in enumerate(text) if ch in _HANDAKUTEN and (i == 0 or text[i - 1] not in _BEFORE_HANDAKUTEN)
    )
