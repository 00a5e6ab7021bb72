"""A doubtful number line read again digit by digit (workers.pipeline.glyphs); no model needed."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import cv2
import numpy as np

from tests.support.ctc import frames
from workers.pipeline.ctcscore import ctc_log_likelihood, single_character_log_likelihoods
from workers.pipeline.glyphs import digit_scores, fuse_digits, reread_digits, same_shape, split_number_line
from workers.pipeline.priors import phone_prior

CHARS = ["", *"0123456789-", " "]


def _number_line(pattern: str) -> np.ndarray:
    """``d`` a ring and ``b`` a filled oval (digits), ``-`` a short bar, left to right with gaps."""
    line = np.full((60, 40 * len(pattern) + 20), 255, dtype=np.uint8)
    for k, ch in enumerate(pattern):
        x = 15 + 40 * k
        if ch == "-":
            cv2.rectangle(line, (x, 28), (x + 20, 32), 0, -1)
        else:
            cv2.ellipse(line, (x + 12, 30), (10, 20), 0, 0, 360, 0, 3 if ch == "d" else -1)
    return line


def test_a_number_line_splits_into_digits_and_hyphens() -> None:
    """GIVEN three digits, a hyphen and two digits written apart WHEN split THEN six glyphs in
    order, the hyphen as None, each digit its own image; a blank crop has none."""
    glyphs = split_number_line(_number_line("ddd-dd"))
    assert ["-" if g is None else "d" for g in glyphs] == list("ddd-dd")
    assert all(g.shape[0] >= 40 for g in glyphs if g is not None)
    assert split_number_line(np.full((40, 100), 255, dtype=np.uint8)) == []


def test_the_reading_must_have_the_line_s_shape() -> None:
    """GIVEN glyphs d d - d WHEN compared with readings THEN only one with digits and the hyphen in
    those places matches."""
    digit = np.zeros((10, 10), dtype=np.uint8)
    glyphs = [digit, digit, None, digit]
    assert same_shape("12-3", glyphs)
    assert not same_shape("123", glyphs)
    assert not same_shape("1-23", glyphs)
    assert not same_shape("", [])


def test_one_character_likelihoods_match_the_forward_algorithm() -> None:
    """GIVEN frames with a 7 and a weaker 1 WHEN every digit is scored at once THEN each score is the
    full CTC forward algorithm's, and the digit scores are a distribution led by 7."""
    probs = frames(CHARS, [{}, {"7": 0.7, "1": 0.2}, {"7": 0.4}, {}])
    at_once = single_character_log_likelihoods(probs, CHARS, "0123456789")
    one_by_one = [ctc_log_likelihood(probs, CHARS, d) for d in "0123456789"]
    assert np.allclose(at_once, one_by_one, atol=1e-5)
    scores = digit_scores([probs, probs], CHARS)
    assert np.isclose(np.exp(scores).sum(), 1.0) and int(np.argmax(scores)) == 7


def _line(text: str, doubtful: int, runner_up: str, p: float = 0.55) -> np.ndarray:
    rows: list[dict[str, float]] = [{}]
    for i, ch in enumerate(text):
        rows += [{ch: p, runner_up: 0.9 - p} if i == doubtful else {ch: 0.99}, {}]
    return frames(CHARS, rows)


def _lone(digit: str, p: float, others: dict[str, float] | None = None) -> np.ndarray:
    return frames(CHARS, [{}, {digit: p, **(others or {})}, {}])


def test_a_digit_the_line_doubts_and_its_glyph_reads_clearly_is_changed() -> None:
    """GIVEN a line reading 0312345678 with its 3rd digit 1 at 55 % (7 at 35 %) and the glyph alone
    reading 7 at 95 % WHEN fused THEN 0372345678, that digit's doubt reported; glyphs that agree with
    the line change nothing and report no doubt."""
    line = _line("0312345678", 2, "7")
    confident = [digit_scores([_lone(d, 0.99)], CHARS) for d in "0312345678"]
    seven = list(confident)
    seven[2] = digit_scores([_lone("7", 0.95)], CHARS)
    text, shares = fuse_digits("0312345678", line, CHARS, dict(enumerate(seven)), None)
    assert text == "0372345678"
    assert list(shares) == [2] and 0.5 < shares[2] < 1.0
    assert fuse_digits("0312345678", line, CHARS, dict(enumerate(confident)), None) == ("0312345678", {})
    assert fuse_digits("0312345678", line, CHARS, {0: seven[0]}, None) == ("0312345678", {})


def test_a_glyph_never_overturns_a_confident_line_digit_nor_the_number_plan() -> None:
    """GIVEN a line sure of every digit and a glyph leaning the other way WHEN fused THEN the line
    stays; GIVEN a change that would make the number no Japanese phone number THEN it is refused."""
    sure = _line("0312345678", 2, "7", p=0.89)
    lean = [digit_scores([_lone(d, 0.99)], CHARS) for d in "0312345678"]
    lean[2] = digit_scores([_lone("7", 0.6, {"1": 0.3})], CHARS)
    text, shares = fuse_digits("0312345678", sure, CHARS, dict(enumerate(lean)), None)
    assert text == "0312345678"
    assert list(shares) == [2] and 0.5 < shares[2] < 1.0  # kept, but the disagreement is doubt
    mobile = _line("09012345678", 1, "1")
    glyphs = [digit_scores([_lone(d, 0.99)], CHARS) for d in "01012345678"]
    assert fuse_digits("09012345678", mobile, CHARS, dict(enumerate(glyphs)), None)[0] == "01012345678"
    assert fuse_digits("09012345678", mobile, CHARS, dict(enumerate(glyphs)), phone_prior)[0] == "09012345678"


def test_reread_reads_the_doubtful_digits_alone_and_disagreeing_ones_in_more_views() -> None:
    """GIVEN a doubtful line written ring, hyphen, filled oval and read "1-2" (the 2 at 50 %), where
    the model reads a ring alone as 1 and a filled oval as 7 WHEN reread THEN only the oval is read
    alone (the line is sure of its 1), again in its two other views as it disagrees, and the line
    becomes 1-7; a line whose glyphs do not match its reading's shape is left out."""
    calls: list[int] = []

    def infer(images: Sequence[np.ndarray]) -> Iterator[tuple[int, np.ndarray]]:
        calls.append(len(images))
        for position, image in enumerate(images):
            ink = image < 128
            rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
            filled = ink.sum() > 0.5 * (rows[-1] - rows[0] + 1) * (cols[-1] - cols[0] + 1)
            yield position, _lone("7" if filled else "1", 0.97)

    def as_lone(glyph: np.ndarray) -> np.ndarray:
        return cv2.resize(glyph, (max(8, glyph.shape[1] * 48 // glyph.shape[0]), 48))

    line = _line("1-2", 2, "7", p=0.5)
    changed = reread_digits(
        lines={
            0: (_number_line("d-b"), "1-2", [0.99, 0.99, 0.5], line),
            1: (_number_line("db"), "1-2", [0.99, 0.99, 0.5], line),
        },
        priors={0: None, 1: None},
        characters=CHARS,
        as_lone=as_lone,
        infer=infer,
    )
    assert list(changed) == [0]
    text, shares = changed[0]
    assert text == "1-7" and list(shares) == [2]
    assert calls == [1, 2]
