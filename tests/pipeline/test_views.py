"""Several views of a lone character, read together (workers.pipeline.views + the recogniser)."""

from __future__ import annotations

import copy
import math
from typing import Any

import cv2
import numpy as np
import pytest

from tests.support.ctc import frames
from workers.pipeline.recognizer import OnnxCtcRecognizer, load_recognizer
from workers.pipeline.views import NARROW, extra_views, line_views, pick_by_views


def _glyph(width: int, height: int = 48) -> np.ndarray:
    line = np.full((height, width), 255, dtype=np.uint8)
    cv2.rectangle(line, (4, 6), (width - 5, height - 7), 0, 3)
    return line


def _ink_height(image: np.ndarray) -> int:
    rows = np.flatnonzero((image < 128).any(axis=1))
    return int(rows[-1] - rows[0] + 1)


def test_a_lone_character_gets_a_wider_and_a_smaller_view() -> None:
    """GIVEN a line narrower than twice its height WHEN views are made
    THEN each is at model height: one widened with paper, one with the character drawn smaller."""
    line = _glyph(40)
    views = extra_views(line)
    assert len(views) == 2
    assert all(v.shape[0] == 48 and v.dtype == np.uint8 for v in views)
    widened, smaller = views
    assert widened.shape[1] == int(NARROW * 48)
    assert np.array_equal(widened[:, :40], line) and (widened[:, 40:] == 255).all()
    assert _ink_height(line) > _ink_height(smaller) >= 0.5 * _ink_height(line)


def test_a_real_line_gets_no_extra_views() -> None:
    """GIVEN a line at least twice as wide as high WHEN views are asked for THEN there are none."""
    assert extra_views(_glyph(int(NARROW * 48))) == []
    assert extra_views(_glyph(300)) == []


def test_the_text_every_view_finds_plausible_beats_one_view_s_favourite() -> None:
    """GIVEN the crop as is prefers "1" strongly but the other views all prefer "7"
    WHEN picked THEN "7" wins, with a share below 1 (the views disagree)."""
    scores = np.array([[-0.1, -2.5], [-3.0, -0.3], [-4.0, -0.2], [-2.0, -0.4]])
    best, share = pick_by_views(scores)
    assert best == 1
    assert 0.5 < share < 1.0
    mean = scores.mean(axis=0)
    assert share == pytest.approx(1.0 / (1.0 + math.exp(mean[0] - mean[1])))


def test_a_text_one_view_cannot_produce_never_wins_and_one_candidate_is_certain() -> None:
    """GIVEN a candidate impossible under one view WHEN picked THEN the other wins;
    a single candidate has share 1; nothing possible gives share 0."""
    assert pick_by_views(np.array([[-0.1, -1.0], [-math.inf, -1.2]])) == (1, 1.0)
    assert pick_by_views(np.array([[-3.0], [-5.0]])) == (0, 1.0)
    assert pick_by_views(np.array([[-math.inf], [-math.inf]])) == (0, 0.0)
    with pytest.raises(ValueError):
        pick_by_views(np.zeros((2, 0)))


class _FakeSession:
    """Stands in for the onnxruntime session: the first call is the crop as is, later ones the views."""

    def __init__(self, chars: list[str], first: list[dict[str, float]], later: list[dict[str, float]]) -> None:
        self.chars = chars
        self.first = first
        self.later = later
        self.calls: list[int] = []
        self.ink: list[int] = []
        """Dark input pixels the model saw per call (ink is below zero after normalisation)."""

    def run(self, _outputs: Any, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        batch = next(iter(feed.values()))
        self.ink.append(int(np.count_nonzero(batch[:, 0] < -0.5)))
        rows = self.first if not self.calls else self.later
        self.calls.append(batch.shape[0])
        probs = frames(self.chars, [{}, *rows, {}] + [{}] * (batch.shape[3] // 8 - len(rows) - 2))
        return [np.repeat(probs[None], batch.shape[0], axis=0)]


def _with_session(first: list[dict[str, float]], later: list[dict[str, float]]) -> tuple[OnnxCtcRecognizer, _FakeSession]:
    recognizer = copy.copy(load_recognizer(None, intra_op_threads=1))
    session = _FakeSession(recognizer.characters, first, later)
    recognizer._session = session
    return recognizer, session


def test_a_doubtful_lone_digit_is_read_in_every_view_and_they_decide() -> None:
    """GIVEN a digit box the crop as is reads "1" at 0.55 and every other view reads "7"
    WHEN recognised THEN the other views are read in one more call, "7" wins and its
    confidence is capped by the views' doubt."""
    recognizer, session = _with_session([{"1": 0.55, "7": 0.4}], [{"7": 0.9, "1": 0.08}])
    (result,) = recognizer.recognize([_glyph(30)], ["digits"])
    assert session.calls == [1, 2]
    assert result.text == "7"
    assert result.confidence < 0.9


def test_a_confident_digit_and_free_text_are_read_once() -> None:
    """GIVEN a confident lone digit and a doubtful free-text character WHEN recognised
    THEN both are read once (the views are for doubtful constrained characters only)."""
    recognizer, session = _with_session([{"7": 0.97}], [{"1": 0.99}])
    assert [r.text for r in recognizer.recognize([_glyph(30)], ["digits"])] == ["7"]
    assert session.calls == [1]
    recognizer, session = _with_session([{"人": 0.5, "入": 0.45}], [{"入": 0.99}])
    assert [r.text for r in recognizer.recognize([_glyph(30)], [None])] == ["人"]
    assert session.calls == [1]


def _digits(text: str, p: float, runner_up: dict[str, float] | None = None) -> list[dict[str, float]]:
    """One frame per character (blank frames between), the second at ``p`` with an optional runner-up."""
    rows: list[dict[str, float]] = []
    for i, ch in enumerate(text):
        rows.append({ch: p, **(runner_up or {})} if i == 1 else {ch: 0.99})
        rows.append({})
    return rows


def test_a_line_of_digits_gets_a_view_with_thinner_strokes() -> None:
    """GIVEN a resized line WHEN line views are made THEN one, at the line's size, with less ink."""
    line = _glyph(300)
    (thinner,) = line_views(line)
    assert thinner.shape == line.shape and thinner.dtype == np.uint8
    assert 0 < int((thinner < 128).sum()) < int((line < 128).sum())


def test_a_doubtful_phone_line_is_read_in_one_more_view_and_they_decide() -> None:
    """GIVEN a phone line the crop as is reads 0312345678 with its second digit in doubt (3 at 55 %,
    6 at 40 %) and the other view reads 0612345678 WHEN recognised THEN one more line is read and the reading
    both views find likelier wins, its confidence capped."""
    recognizer, session = _with_session(_digits("0312345678", 0.55, {"6": 0.4}), _digits("0612345678", 0.9, {"3": 0.08}))
    (result,) = recognizer.recognize([_glyph(300)], ["phone"])
    assert session.calls == [1, 1]
    assert result.text == "0612345678"
    assert result.confidence < 0.9


def test_a_view_the_number_plan_likes_less_is_not_taken() -> None:
    """GIVEN a doubtful 10-digit landline and views that all read one digit fewer (no Japanese
    number) WHEN recognised THEN the crop's own reading stays: the views only choose among readings
    the field's grammar accepts as well."""
    recognizer, _ = _with_session(_digits("0312345678", 0.55, {"6": 0.4}), _digits("031234567", 0.99))
    assert [r.text for r in recognizer.recognize([_glyph(300)], ["phone"])] == ["0312345678"]


def test_confident_number_lines_and_doubtful_kana_lines_are_read_once() -> None:
    """GIVEN a phone line read at 70 % (doubtful, but above the line-view bar), and a doubtful hiragana
    line WHEN recognised THEN each is read once: line views are for number fields in real doubt only."""
    recognizer, session = _with_session(_digits("0312345678", 0.7, {"6": 0.25}), _digits("0612345678", 0.99))
    assert [r.text for r in recognizer.recognize([_glyph(300)], ["phone"])] == ["0312345678"]
    assert session.calls == [1]
    recognizer, session = _with_session([{"あ": 0.5, "お": 0.45}, {}, {"い": 0.99}], [{"お": 0.99}])
    assert [r.text for r in recognizer.recognize([_glyph(300)], ["hiragana"])] == ["あい"]
    assert session.calls == [1]


def test_a_thin_lone_kana_is_read_firmed_and_free_text_as_drawn() -> None:
    """GIVEN the same lone character drawn with 1-px strokes WHEN read for a hiragana field and as
    free text THEN the model sees thicker strokes for the hiragana field only."""
    thin = np.full((48, 60), 255, dtype=np.uint8)
    cv2.rectangle(thin, (8, 8), (51, 39), 0, 1)
    seen = []
    for field_type in ("hiragana", None):
        recognizer, session = _with_session([{"あ": 0.99}], [{"あ": 0.99}])
        recognizer.recognize([thin], [field_type])
        seen.append(session.ink[0])
    assert seen[0] > 1.5 * seen[1]


def _two_glyphs() -> np.ndarray:
    line = np.full((48, 60), 255, dtype=np.uint8)
    cv2.rectangle(line, (4, 6), (25, 41), 0, 3)
    cv2.rectangle(line, (34, 6), (55, 41), 0, 3)
    return line


def test_one_connected_stroke_in_a_digit_box_is_read_as_one_digit() -> None:
    """GIVEN a digit box holding one connected stroke that the model, sure of itself, splits into
    "48" and whose other views lean to "8" WHEN recognised THEN the views are read although the
    reading was confident, one digit comes out, and its confidence is no higher than the split
    reading's."""
    recognizer, session = _with_session([{"4": 0.95}, {}, {"8": 0.93}], [{"8": 0.7, "4": 0.2}])
    (result,) = recognizer.recognize([_glyph(30)], ["digits"])
    assert session.calls == [1, 2]
    assert result.text == "8"
    assert result.confidence <= 0.93


def test_two_strokes_or_another_field_type_keep_a_two_character_reading() -> None:
    """GIVEN "12" read confidently from two separate strokes in a digit box, and the split
    reading of one stroke in a free-text and a phone field WHEN recognised THEN each is read once
    and keeps its two characters: only a digit box is one character per stroke."""
    recognizer, session = _with_session([{"1": 0.99}, {}, {"2": 0.99}], [{"8": 0.99}])
    assert [r.text for r in recognizer.recognize([_two_glyphs()], ["digits"])] == ["12"]
    assert session.calls == [1]
    for field_type in (None, "phone"):
        recognizer, session = _with_session([{"4": 0.95}, {}, {"8": 0.95}], [{"8": 0.99}])
        assert [r.text for r in recognizer.recognize([_glyph(30)], [field_type])] == ["48"]
        assert session.calls == [1]


def test_a_doubtful_phone_digit_is_read_alone_and_the_two_reads_decide() -> None:
    """GIVEN a phone line written ring, bar, ring and read "1-2" with the 2 in doubt (70 %, 7 at 20 %),
    and the model reading the second ring alone as 7 in every view WHEN recognised THEN only that
    glyph is read alone (one call as it is, one for its two other views), the line becomes 1-7, and
    its confidence stays below the doubtful line's."""
    line = np.full((60, 140), 255, dtype=np.uint8)
    cv2.ellipse(line, (27, 30), (10, 20), 0, 0, 360, 0, 3)
    cv2.rectangle(line, (55, 28), (75, 32), 0, -1)
    cv2.ellipse(line, (107, 30), (10, 20), 0, 0, 360, 0, 3)
    recognizer, session = _with_session(
        [{"1": 0.99}, {}, {"-": 0.99}, {}, {"2": 0.7, "7": 0.2}], [{"7": 0.97}]
    )
    (result,) = recognizer.recognize([line], ["phone"])
    assert result.text == "1-7"
    assert session.calls == [1, 1, 2]
    assert result.confidence <= 0.7
