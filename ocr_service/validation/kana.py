"""Katakana / hiragana normalisation for name readings (フリガナ / ふりがな).

What varies between writers, keyboards and the recogniser but means the same:

* width: half-width ｶﾀｶﾅ (and ﾞ ﾟ as separate marks) → full width (NFKC);
* the long vowel mark: ー is often written or read as a hyphen, minus, dash or
  wave dash (-, ‐, －, ―, —, −, ～, 〜); after a kana they become ー;
* spaces between surname and given name (removed; the reading is keyed without them);
* script: hiragana ⇄ katakana by code point offset (ゔ ⇄ ヴ too; ヷ-ヺ have no hiragana).

Small kana (ャュョッァィゥェォヮヵヶ) are kept by default — they change the
reading (キヤ vs キャ); ``fold_small=True`` maps them to their large forms for
fuzzy matching only.
"""

from __future__ import annotations

import unicodedata

__all__ = [
    "is_hiragana",
    "is_katakana",
    "normalize_hiragana",
    "normalize_katakana",
    "to_hiragana",
    "to_katakana",
]

_LONG_VOWEL_VARIANTS = "-‐‑‒–—―−－ｰ~～〜〰"
_SMALL_TO_LARGE = str.maketrans(
    "ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ",
    "あいうえおつやゆよわかけアイウエオツヤユヨワカケクシストヌハヒフヘホムラリルレロ",
)
_HIRA_FIRST, _HIRA_LAST = 0x3041, 0x3096  # ぁ .. ゖ
_KATA_OFFSET = 0x60
_MARKS = "ー・ゝゞヽヾ"  # long vowel, middle dot (foreign names), iteration marks


def _is_kana(ch: str) -> bool:
    return "\u3041" <= ch <= "\u309f" or "\u30a0" <= ch <= "\u30ff" or "\u31f0" <= ch <= "\u31ff"


def to_katakana(text: str) -> str:
    """Hiragana → katakana; every other character is kept."""
    return "".join(
        chr(ord(ch) + _KATA_OFFSET) if _HIRA_FIRST <= ord(ch) <= _HIRA_LAST else ch for ch in text
    ).translate({ord("ゝ"): "ヽ", ord("ゞ"): "ヾ"})


def to_hiragana(text: str) -> str:
    """Katakana → hiragana (ヷヸヹヺ and ㇰ-ㇿ have no hiragana and stay); other characters kept."""
    out = []
    for ch in text:
        code = ord(ch)
        if _HIRA_FIRST + _KATA_OFFSET <= code <= _HIRA_LAST + _KATA_OFFSET:
            out.append(chr(code - _KATA_OFFSET))
        else:
            out.append({"ヽ": "ゝ", "ヾ": "ゞ"}.get(ch, ch))
    return "".join(out)


def _common(text: str, *, fold_small: bool) -> str:
    # Spacing ゛゜ become combining marks first (NFKC would turn them into a space + mark);
    # NFKC then composes か + ゛ → が, joins half-width kana with ﾞﾟ (ｶﾞ → ガ) and widens them.
    text = unicodedata.normalize("NFKC", text.replace("゛", "\u3099").replace("゜", "\u309a"))
    out: list[str] = []
    for ch in text:
        if ch.isspace() or ch == "\u3000":
            continue
        if ch in _LONG_VOWEL_VARIANTS and out and _is_kana(out[-1]):
            out.append("ー")
        else:
            out.append(ch)
    result = "".join(out)
    return result.translate(_SMALL_TO_LARGE) if fold_small else result


def normalize_katakana(text: str, *, fold_small: bool = False) -> str:
    """Full-width katakana reading without spaces, hiragana converted, long vowel marks unified."""
    return to_katakana(_common(text, fold_small=fold_small))


def normalize_hiragana(text: str, *, fold_small: bool = False) -> str:
    """Full-width hiragana reading without spaces, katakana converted, long vowel marks unified."""
    return to_hiragana(_common(text, fold_small=fold_small))


def is_katakana(text: str) -> bool:
    """True when ``text`` is non-empty and only katakana, ー, ・ or iteration marks."""
    return bool(text) and all(
        "\u30a1" <= ch <= "\u30fa" or "\u31f0" <= ch <= "\u31ff" or ch in _MARKS for ch in text
    )


def is_hiragana(text: str) -> bool:
    """True when ``text`` is non-empty and only hiragana, ー, ・ or iteration marks."""
    return bool(text) and all(_HIRA_FIRST <= ord(ch) <= _HIRA_LAST or ch in _MARKS for ch in text)
