"""Constrained greedy CTC decoding on synthetic probability matrices (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest

from workers.pipeline.charsets import CHARSETS, normalize_text
from workers.pipeline.decoding import greedy, restrict

CHARS = ["", "A", "1", "B", "7", "-", " "]
"""index 0 = blank, last = space, like PaddleOCR's dictionary layout."""


def _mask(allowed: str) -> np.ndarray:
    return np.array([i == 0 or c == " " or (c != "" and c in allowed) for i, c in enumerate(CHARS)])


def test_disallowed_winner_is_replaced_by_best_allowed_not_blank() -> None:
    """GIVEN frames where a letter wins, blank is second and a digit third
    WHEN decoded with a digits mask
    THEN the digit is emitted (blank does not swallow the character)."""
    probs = np.array(
        [
            [0.9, 0.05, 0.02, 0.01, 0.01, 0.005, 0.005],  # blank
            [0.30, 0.50, 0.15, 0.02, 0.02, 0.005, 0.005],  # "A" > blank > "1"
            [0.9, 0.05, 0.02, 0.01, 0.01, 0.005, 0.005],  # blank
            [0.05, 0.02, 0.01, 0.02, 0.88, 0.01, 0.01],  # "7"
        ]
    )
    text, confs = greedy(restrict(probs, _mask("0123456789")), CHARS)
    assert text == "17"
    assert len(confs) == 2 and abs(confs[0] - 0.15) < 1e-6


def test_unconstrained_decoding_collapses_repeats_and_blanks() -> None:
    """GIVEN A,A,blank,A,B frames WHEN decoded without a mask THEN repeats collapse only across no blank: 'AAB'."""
    eye = np.eye(len(CHARS))
    probs = eye[[1, 1, 0, 1, 3]]
    text, confs = greedy(restrict(probs, None), CHARS)
    assert text == "AAB" and confs == [1.0, 1.0, 1.0]


def test_digits_field_never_yields_a_letter() -> None:
    """GIVEN 200 random probability matrices WHEN decoded with the digits mask THEN only digits/space come out."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        probs = rng.dirichlet(np.ones(len(CHARS)) * 0.3, size=12)
        text, confs = greedy(restrict(probs, _mask(CHARSETS["digits"])), CHARS)
        assert set(text) <= set("0123456789 ")
        assert len(confs) == len(text)


def test_normalisation_of_digits_and_hyphens() -> None:
    """GIVEN full-width digits and a long-vowel dash WHEN normalised as postal THEN ASCII with one hyphen."""
    assert normalize_text("〒１２３ー４５６７", "postal") == "123-4567"
    assert normalize_text("０３－１２３４－５６７８", "phone") == "03-1234-5678"


def test_separate_voicing_mark_merges_into_kana() -> None:
    """GIVEN か followed by a stand-alone ゛ WHEN normalised THEN が."""
    assert normalize_text("か゛き", "hiragana") == "がき"


def test_cuda_device_is_refused_without_the_cuda_provider() -> None:
    """GIVEN CPU-only onnxruntime WHEN device=cuda is asked THEN a clear error; auto falls back to the CPU."""
    import onnxruntime as ort

    from workers.pipeline.recognizer import execution_providers

    if "CUDAExecutionProvider" in ort.get_available_providers():
        assert execution_providers("cuda")[0] == "CUDAExecutionProvider"
        return
    with pytest.raises(RuntimeError, match="onnxruntime-gpu"):
        execution_providers("cuda")
    assert execution_providers("auto") == ["CPUExecutionProvider"]


def test_text_field_never_emits_excluded_symbols_and_keeps_the_character() -> None:
    """GIVEN a frame where '/' wins, blank is second and '1' third WHEN decoded with the text exclusions
    THEN '1' is emitted: the symbol is replaced, the character is not dropped."""
    from workers.pipeline.charsets import EXCLUDED

    chars = ["", "/", "1", "A", " "]
    mask = np.array([c not in EXCLUDED["text"] or i == 0 for i, c in enumerate(chars)])
    probs = np.array([[0.9, 0.05, 0.03, 0.01, 0.01], [0.3, 0.5, 0.15, 0.04, 0.01], [0.9, 0.05, 0.03, 0.01, 0.01]])
    text, _ = greedy(restrict(probs, mask), chars)
    assert text == "1"


def test_house_number_grammar() -> None:
    """GIVEN address readings with digit look-alikes WHEN the text grammar runs THEN digits and hyphens;
    words without digits nearby are untouched; a lone dash is no value."""
    from workers.pipeline.charsets import apply_text_grammar

    def fix(value: str, field_type: str | None = "text") -> str:
        chars, confs = apply_text_grammar(list(value), [0.9] * len(value), field_type)
        assert len(chars) == len(confs)
        return "".join(chars)

    assert fix("大通ノ丁目2ノ番s号") == "大通1丁目21番5号"
    assert fix("若里3ー7ー4") == "若里3-7-4"
    assert fix("大路南4-17-a3") == "大路南4-17-23"
    assert fix("Gate") == "Gate"
    assert fix("コーポ桜ノ森") == "コーポ桜ノ森"
    assert fix("-") == "" and fix("ー一") == ""
    assert fix("2ノ", "digits") == "2ノ"


def test_kana_grammar_small_ya_and_long_vowel() -> None:
    """GIVEN kana readings WHEN the kana grammar runs THEN small ゃゅょ only after i-row kana; no ー in
    hiragana fields; katakana keeps ー; other field types untouched."""
    from workers.pipeline.charsets import apply_kana_grammar

    def fix(value: str, field_type: str) -> str:
        return "".join(apply_kana_grammar(list(value), [1.0] * len(value), field_type)[0])

    assert fix("おおつかかずゃ", "hiragana") == "おおつかかずや"
    assert fix("しょうへい", "hiragana") == "しょうへい"
    assert fix("やまだーみゆ", "hiragana") == "やまだみゆ"
    assert fix("ヒグチカズャ", "katakana") == "ヒグチカズヤ"
    assert fix("ケーコ", "katakana") == "ケーコ"
    assert fix("ゃ", "text") == "ゃ"
