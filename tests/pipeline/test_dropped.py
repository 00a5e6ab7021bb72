"""A digit the line model read as nothing is put back from its ink (workers.pipeline.dropped)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import cv2
import numpy as np
import pytest

from tests.pipeline.conftest import FONT_PATH
from tests.support.ctc import frames
from tests.support.render import printed_line
from workers.pipeline.ctcscore import ctc_alignment
from workers.pipeline.dropped import (
    RESTORED_CONFIDENCE,
    Line,
    dropped_glyphs,
    number_missing,
    restore_dropped_digits,
)
from workers.pipeline.recognizer import load_recognizer

CHARS = ["", *"0123456789-", "番", "あ", "い", " "]
_SLOT = 40
"""Columns per written character in the drawn lines; one frame covers 10 columns."""


def _drawn(pattern: str) -> np.ndarray:
    """``o`` a digit-sized ring, ``|`` a thin upright stroke, ``.`` nothing, one per 40-column slot."""
    line = np.full((60, _SLOT * len(pattern) + 20), 255, dtype=np.uint8)
    for k, ch in enumerate(pattern):
        x = 15 + _SLOT * k
        if ch == "o":
            cv2.ellipse(line, (x + 12, 30), (11, 20), 0, 0, 360, 0, 3)
        elif ch == "|":
            cv2.line(line, (x + 12, 10), (x + 12, 50), 0, 3)
    return line


def _read(line: np.ndarray, spikes: dict[int, dict[str, float]]) -> np.ndarray:
    """``(T, C)`` output of a drawn line: one frame per 10 columns, the named frames' classes set."""
    return frames(CHARS, [spikes.get(t, {}) for t in range(line.shape[1] // 10)])


def _line(pattern: str, text: str, spikes: dict[int, dict[str, float]]) -> Line:
    cleaned = _drawn(pattern)
    return Line(cleaned, text, [0.99] * len(text), _read(cleaned, spikes), pixels_per_frame=10.0)


def test_alignment_puts_each_character_on_its_frames() -> None:
    """GIVEN frames reading 1, then 番 WHEN 1番 is aligned THEN 1 on frame 3, 番 on frame 11; a text with
    a character no class reads is unreachable."""
    probs = frames(CHARS, [{}, {}, {}, {"1": 0.99}, *[{}] * 7, {"番": 0.99}, {}])
    assert ctc_alignment(probs, CHARS, "1番") == [3.0, 11.0]
    assert ctc_alignment(probs, CHARS, "1号") is None


def test_a_digit_sized_glyph_read_as_nothing_beside_a_digit_is_found() -> None:
    """GIVEN three glyphs, the first read 1 and the last 番, the middle one read as nothing WHEN searched
    THEN the middle glyph is the one found."""
    line = _line("ooo", "1番", {3: {"1": 0.99}, 11: {"番": 0.99}})
    ((_, glyph),) = dropped_glyphs(line, CHARS)
    assert glyph.shape[0] >= 35 and glyph.shape[1] < _SLOT


def test_a_glyph_between_kana_a_thin_stroke_or_a_read_digit_is_not_a_dropped_digit() -> None:
    """GIVEN an unread glyph between あ and い, an unread thin stroke beside a 1, and a weak 4 the
    decoder's grammar added (the greedy path skips it) WHEN searched THEN nothing is found."""
    assert dropped_glyphs(_line("ooo", "あい", {3: {"あ": 0.99}, 11: {"い": 0.99}}), CHARS) == []
    assert dropped_glyphs(_line("o|o", "1番", {3: {"1": 0.99}, 11: {"番": 0.99}}), CHARS) == []
    added = _line("ooo", "14番", {3: {"1": 0.99}, 7: {"4": 0.3}, 11: {"番": 0.99}})
    assert dropped_glyphs(added, CHARS) == []


def test_a_line_with_more_unread_glyphs_than_a_slip_is_left_alone() -> None:
    """GIVEN a 1 read on the first of six glyphs and nothing on the other five (a smudge, noise) WHEN
    searched THEN nothing is read alone; with two unread it would be."""
    assert dropped_glyphs(_line("oooooo", "1", {3: {"1": 0.99}}), CHARS) == []
    assert len(dropped_glyphs(_line("ooo", "1", {3: {"1": 0.99}}), CHARS)) == 2


def test_a_dropped_digit_belongs_after_the_character_read_before_its_ink() -> None:
    """GIVEN 1 and 番 read on the first and last of three glyphs, and 1 0 read on the first two of three
    WHEN searched THEN the unread glyphs' digits belong after the 1 (1_番) and at the end (10_)."""
    ((at, _),) = dropped_glyphs(_line("ooo", "1番", {3: {"1": 0.99}, 11: {"番": 0.99}}), CHARS)
    assert at == 1
    ((at, _),) = dropped_glyphs(_line("ooo", "10", {3: {"1": 0.99}, 7: {"0": 0.99}}), CHARS)
    assert at == 2


class _LoneModel:
    """Stands in for the recogniser's model: every lone glyph reads as ``read_as``."""

    def __init__(self, read_as: dict[str, float]) -> None:
        self.read_as = read_as
        self.images = 0

    def infer(self, images: Sequence[np.ndarray]) -> Iterator[tuple[int, np.ndarray]]:
        for position, _ in enumerate(images):
            self.images += 1
            yield position, frames(CHARS, [{}, self.read_as, {}])


@pytest.mark.parametrize(
    ("read_as", "expected"),
    [({"4": 0.97}, "14番"), ({"4": 0.55, "9": 0.35}, None)],
)
def test_a_sure_lone_read_is_put_back_and_sent_to_review(read_as: dict[str, float], expected: str | None) -> None:
    """GIVEN 1番 with an unread glyph between WHEN that glyph alone reads 4 at 97 % THEN 14番 with the 4
    at the restored confidence and the others unchanged; WHEN it reads 4 at 55 % and 9 at 35 % THEN
    the line is left as it was."""
    line = _line("ooo", "1番", {3: {"1": 0.99}, 7: {"4": 0.02}, 11: {"番": 0.99}})
    model = _LoneModel(read_as)
    changed = restore_dropped_digits(
        lines={5: line}, characters=CHARS, as_lone=lambda glyph: [glyph, glyph], infer=model.infer
    )
    assert model.images == 2
    if expected is None:
        assert changed == {}
        return
    text, confidences = changed[5]
    assert text == expected
    assert confidences == [0.99, RESTORED_CONFIDENCE, 0.99]


def test_a_hyphen_with_no_number_on_one_side_marks_a_missing_number() -> None:
    """GIVEN address readings and a place in them WHEN asked whether a number must stand there THEN
    yes where a hyphen has a letter or the end on that side, no between digits, beside ー or nothing."""
    assert number_missing("一番町-21-11", 3)
    assert number_missing("3-4-", 4)
    assert not number_missing("2-21-11", 1) and not number_missing("2-21-11", 2)
    assert not number_missing("コーポ", 2) and not number_missing("1番", 1)
    # Every dash of the shared table but the long-vowel marks (full and half width) is such a hyphen.
    assert number_missing("一番町–21", 3) and number_missing("一番町―21", 3)
    assert not number_missing("ｺｰﾎﾟ", 2)


def test_an_unsure_lone_read_goes_in_where_the_address_lacks_a_number() -> None:
    """GIVEN 町-1 read with an unread glyph between 町 and the hyphen WHEN that glyph alone reads 2 at
    45 % (9 at 40 %, 7 at 10 %) THEN 町2-1 with the 2 at its share among the digits, below the restored
    confidence (a number must stand there; for review); an unsure read beside 1番 puts nothing back
    (above)."""
    chars = [*CHARS[:-1], "町", " "]
    cleaned = _drawn("oooo")
    spikes = {3: {"町": 0.99}, 11: {"-": 0.99}, 15: {"1": 0.99}}
    line = Line(cleaned, "町-1", [0.99] * 3, frames(chars, [spikes.get(t, {}) for t in range(cleaned.shape[1] // 10)]), 10.0)
    model = _LoneModel({"2": 0.45, "9": 0.4, "7": 0.1})
    changed = restore_dropped_digits(lines={0: line}, characters=chars, as_lone=lambda glyph: [glyph], infer=model.infer)
    text, confidences = changed[0]
    assert text == "町2-1"
    assert confidences[1] < RESTORED_CONFIDENCE and confidences[0] == confidences[2] == 0.99


@pytest.mark.slow
def test_a_clearly_written_address_gains_no_digit() -> None:
    """GIVEN printed addresses with house and room numbers WHEN read as free text THEN each reads as
    written: every glyph is read, so nothing is put back."""
    recognizer = load_recognizer(None, intra_op_threads=2)
    texts = ["東京都千代田区丸の内1丁目14番2号", "大阪市北区梅田3-24-19ハイツ104"]
    results = recognizer.recognize([printed_line(t, FONT_PATH) for t in texts], ["text", "text"])
    assert [r.text for r in results] == texts
