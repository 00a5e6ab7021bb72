"""Constrained greedy CTC decoding on synthetic probability matrices (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest

from workers.pipeline.charsets import CHARSETS, normalize_text
from workers.pipeline.recognizer import ctc_greedy_decode

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
    text, confs = ctc_greedy_decode(probs, CHARS, _mask("0123456789"))
    assert text == "17"
    assert len(confs) == 2 and abs(confs[0] - 0.15) < 1e-6


def test_unconstrained_decoding_collapses_repeats_and_blanks() -> None:
    """GIVEN A,A,blank,A,B frames WHEN decoded without a mask THEN repeats collapse only across no blank: 'AAB'."""
    eye = np.eye(len(CHARS))
    probs = eye[[1, 1, 0, 1, 3]]
    text, confs = ctc_greedy_decode(probs, CHARS, None)
    assert text == "AAB" and confs == [1.0, 1.0, 1.0]


def test_digits_field_never_yields_a_letter() -> None:
    """GIVEN 200 random probability matrices WHEN decoded with the digits mask THEN only digits/space come out."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        probs = rng.dirichlet(np.ones(len(CHARS)) * 0.3, size=12)
        text, confs = ctc_greedy_decode(probs, CHARS, _mask(CHARSETS["digits"]))
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
