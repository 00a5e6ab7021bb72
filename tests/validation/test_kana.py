"""Kana normalisation: script conversion, width, long vowel mark variants, small kana."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocr_service.validation.kana import (
    is_hiragana,
    is_katakana,
    normalize_hiragana,
    normalize_katakana,
    to_hiragana,
    to_katakana,
)

_HIRAGANA = "".join(chr(c) for c in range(0x3041, 0x3097))
_KATAKANA = "".join(chr(c) for c in range(0x30A1, 0x30F7))
_HALF_WIDTH = "".join(chr(c) for c in range(0xFF66, 0xFF9E))  # ｦ..ﾝ
_LONG_VARIANTS = ["-", "‐", "－", "―", "—", "−", "～", "〜", "ｰ", "ー"]

hiragana_text = st.text(alphabet=_HIRAGANA, min_size=1, max_size=12)
katakana_text = st.text(alphabet=_KATAKANA, min_size=1, max_size=12)


@given(hiragana_text)
def test_script_round_trip(text: str) -> None:
    """GIVEN hiragana WHEN converted to katakana and back THEN unchanged, and each side passes its check."""
    kata = to_katakana(text)
    assert is_katakana(kata)
    assert to_hiragana(kata) == text
    assert is_hiragana(text)


@given(st.one_of(hiragana_text, katakana_text, st.text(alphabet=_HALF_WIDTH, min_size=1, max_size=12)))
def test_normalisers_are_idempotent_and_typed(text: str) -> None:
    """GIVEN kana in any script or width WHEN normalised THEN idempotent, and of the target script."""
    kata = normalize_katakana(text)
    hira = normalize_hiragana(text)
    assert normalize_katakana(kata) == kata
    assert normalize_hiragana(hira) == hira
    assert is_katakana(kata)
    # ヷ-ヺ have no hiragana; everything else converts.
    assert is_hiragana(hira) or any(ch in "ヷヸヹヺ" for ch in hira)


@given(st.text(alphabet=_HALF_WIDTH, min_size=1, max_size=12))
def test_half_width_becomes_full_width(text: str) -> None:
    """GIVEN half-width katakana WHEN normalised THEN the full-width (NFKC) katakana."""
    assert normalize_katakana(text) == unicodedata.normalize("NFKC", text)


@given(katakana_text, st.lists(st.sampled_from([" ", "　"]), max_size=3), st.data())
def test_spaces_are_removed(text: str, spaces: list[str], data: st.DataObject) -> None:
    """GIVEN a reading with spaces (between surname and given name) WHEN normalised THEN no spaces."""
    spaced = text
    for space in spaces:
        at = data.draw(st.integers(min_value=0, max_value=len(spaced)))
        spaced = spaced[:at] + space + spaced[at:]
    assert normalize_katakana(spaced) == text


@given(katakana_text, st.sampled_from(_LONG_VARIANTS), katakana_text)
def test_long_vowel_variants_after_kana_become_choonpu(head: str, mark: str, tail: str) -> None:
    """GIVEN a dash-like mark after a kana WHEN normalised THEN it is the long vowel mark ー."""
    assert normalize_katakana(head + mark + tail) == head + "ー" + tail
    assert normalize_hiragana(to_hiragana(head) + mark) == to_hiragana(head) + "ー"


@pytest.mark.parametrize(
    ("written", "katakana", "hiragana"),
    [
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダタロウ", "やまだたろう"),
        ("ｶﾞｯｺｳ", "ガッコウ", "がっこう"),
        ("か゛", "ガ", "が"),
        ("は゜", "パ", "ぱ"),
        ("ら〜めん", "ラーメン", "らーめん"),
        ("キャ", "キャ", "きゃ"),
    ],
)
def test_examples(written: str, katakana: str, hiragana: str) -> None:
    """GIVEN typical variants WHEN normalised THEN the keyed reading."""
    assert normalize_katakana(written) == katakana
    assert normalize_hiragana(written) == hiragana


def test_small_kana_kept_unless_folded() -> None:
    """GIVEN small kana WHEN normalised THEN kept (キャ ≠ キヤ); folding maps them to large ones for matching."""
    assert normalize_katakana("キャッシュ") == "キャッシュ"
    assert normalize_katakana("キャッシュ", fold_small=True) == "キヤツシユ"
    assert normalize_hiragana("ちょっと", fold_small=True) == "ちよつと"


def test_script_checks_reject_other_characters() -> None:
    """GIVEN text with kanji, Latin or the other script WHEN checked THEN not kana of that script."""
    assert not is_katakana("ヤマダ太郎")
    assert not is_katakana("やまだ")
    assert not is_hiragana("ヤマダ")
    assert not is_hiragana("")
    assert is_katakana("ジョン・スミス")
