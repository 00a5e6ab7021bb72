"""Digits the line model dropped from an address, found as ink that no character was read from.

PP-OCR sometimes reads nothing at all for a handwritten digit inside a line: an open 4 between a
2 and 番 (24番 → 2番), the last 4 of a room number (104 → 10). Its frames go to blank, so no
decoder prior can bring it back, but its ink is still on the line. A glyph (strokes grouped by
columns, :func:`~workers.pipeline.glyphs.glyph_boxes`) that is as tall as a digit, not a lone thin
stroke, has no character of the reading aligned to it (CTC Viterbi alignment of the reading to the
frames), and has a digit or a hyphen read beside it, is read alone as a one-digit box (with the views of :mod:`workers.pipeline.views`). A digit
the views are sure of is put back where its ink is, after the character read just before it; where the
reading lacks a number there (一番町-21-11: a hyphen with no number before it, :func:`number_missing`),
the views' best digit goes in however unsure. The line never saw that digit, so the field goes to
review (its confidence is capped at :data:`RESTORED_CONFIDENCE`).

Measured on the dev forms (layout named): text fields 191/202 right against 188 (24番 for 2番, 104 for 10
twice; 14番 on a line still wrong elsewhere), no field made wrong; seven glyphs read alone in 40 scans, four
put back; a 2 read alone at 47 % where 一番町-21-11 lacked it made one more address right (194/202).
composed_hw_fields_dev and every other line set unchanged; before the margin and the placement
by ink, a piece of 町 beside 2-21-21 was read as a 1 and put back in the wrong place (2-211-21).

Pure array code; the recogniser runs the model (:mod:`workers.pipeline.recognizer`).
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from workers.pipeline.charsets import DASHES
from workers.pipeline.ctcscore import ctc_alignment
from workers.pipeline.glyphs import digit_distribution, glyph_boxes, read_digit_likelihoods
from workers.pipeline.types import TextResult

__all__ = [
    "DROPPED_TYPES",
    "RESTORED_CONFIDENCE",
    "Line",
    "dropped_glyphs",
    "lines_to_search",
    "restore_dropped_digits",
]

DROPPED_TYPES = frozenset({"text"})
"""Field types whose lines are searched for dropped digits (addresses are free text)."""
RESTORED_CONFIDENCE = 0.5
"""A digit put back is never surer than this: the line model did not read it."""

_DIGITS = "0123456789"
_HYPHENS = "".join(c for c in DASHES if c not in "ーｰ")
"""Hyphens that join the numbers of an address (not the long-vowel mark ー, ｰ)."""
_NUMBER_MARKS = _DIGITS + DASHES
"""What may stand beside a dropped digit: another digit or the hyphen of 2-21-11."""
_TALL = 0.45
"""A glyph lower than this share of the line's ink height is a mark (a dot, a hyphen, a dakuten)."""
_THIN = 0.3
"""A glyph narrower than this share of the ink height is a single stroke, often part of a character
beside it (a stroke of ハ, the upright of 1): never taken for a dropped digit."""
_SURE = 0.9
"""The lone read's share of its best digit needed to put it back."""
_MOST = 3
"""At most this many unread glyphs in one line are read alone (dev: never more than two)."""
_MARGIN = 1.0
"""Frames around a glyph where a character of the reading still counts as read from it."""


@dataclass(frozen=True)
class Line:
    """One read line as the search needs it."""

    cleaned: np.ndarray
    """The line as cleaned for the model (:func:`~workers.pipeline.linecrop.prepare_line`), not resized."""
    text: str
    confidences: Sequence[float]
    probs: np.ndarray
    """``(T, C)`` frame probabilities of the line as it was read."""
    pixels_per_frame: float
    """Columns of ``cleaned`` one frame covers."""


def lines_to_search(
    *,
    cleaned: Sequence[np.ndarray],
    resized: Sequence[np.ndarray],
    results: Sequence[TextResult],
    line_probs: Mapping[int, np.ndarray],
    input_width: Callable[[int], int],
) -> dict[int, Line]:
    """The recogniser's lines as the search needs them, by index.

    Args:
        cleaned: every crop as cleaned for the model, not yet resized.
        resized: every crop as the model read it (unpadded).
        results: every crop's reading.
        line_probs: the ``(T, C)`` output of each line to search, by index.
        input_width: a resized line's width → the (padded) model input width it was read at.
    """
    return {
        i: Line(
            cleaned[i], results[i].text, results[i].char_confidences, probs,
            # The padded model input over its frames, scaled back from the resized line to the crop.
            input_width(resized[i].shape[1]) / probs.shape[0] * cleaned[i].shape[1] / resized[i].shape[1],
        )
        for i, probs in line_probs.items()
        if probs.shape[0] and resized[i].shape[1]
    }


def _read_places(text: str) -> list[tuple[str, int]]:
    """Each character :func:`ctc_alignment` aligns (NFKC, spaces dropped) and its index in ``text``."""
    return [(c, index) for index, ch in enumerate(text) for c in unicodedata.normalize("NFKC", ch) if not c.isspace()]


def dropped_glyphs(line: Line, characters: Sequence[str]) -> list[tuple[int, np.ndarray]]:
    """The glyphs of ``line`` that look like a digit read as nothing, left to right, each with the
    index in ``line.text`` where its digit belongs.

    The reading is aligned to the frames (:func:`~workers.pipeline.ctcscore.ctc_alignment`: a digit
    the decoder's grammar added counts as read where the model saw it best). A glyph qualifies when
    it is tall and wide enough for a digit, no character of the reading sits on its columns or
    within :data:`_MARGIN` frames of them (a piece of the character beside it, the 丁 of 町), and the
    character just before or just after it is a digit or a hyphen.
    """
    boxes, height = glyph_boxes(line.cleaned)
    if not boxes or line.pixels_per_frame <= 0:
        return []
    frames = ctc_alignment(line.probs, characters, line.text)
    if frames is None:
        return []
    places = _read_places(line.text)
    if len(places) != len(frames):
        return []  # the text normalises differently as a whole (a combining mark): leave it be
    read = [(frame, ch, place) for frame, (ch, place) in zip(frames, places, strict=True) if not math.isnan(frame)]
    found: list[tuple[int, np.ndarray]] = []
    for x0, y0, x1, y1 in boxes:
        if y1 - y0 < _TALL * height or x1 - x0 < _THIN * height:
            continue
        first, last = x0 / line.pixels_per_frame - _MARGIN, x1 / line.pixels_per_frame + _MARGIN
        if any(first <= frame <= last for frame, _, _ in read):
            continue
        before = [(ch, place) for frame, ch, place in read if frame < first]
        after = [ch for frame, ch, _ in read if frame > last]
        beside = (before[-1][0] if before else "") + (after[0] if after else "")
        if any(ch in _NUMBER_MARKS for ch in beside):
            at = before[-1][1] + 1 if before else 0
            found.append((at, np.ascontiguousarray(line.cleaned[y0:y1, x0:x1])))
    # More unread glyphs than a line drops is noise or a smudge, not dropped digits: nothing is read.
    return found if len(found) <= _MOST else []


def restore_dropped_digits(
    *,
    lines: Mapping[int, Line],
    characters: Sequence[str],
    as_lone: Callable[[np.ndarray], list[np.ndarray]],
    infer: Callable[[Sequence[np.ndarray]], Iterator[tuple[int, np.ndarray]]],
) -> dict[int, tuple[str, list[float]]]:
    """Lines with a dropped digit put back: per line index, the new text and its confidences.

    Args:
        lines: the free-text lines to search, by index.
        characters: class index → character.
        as_lone: a glyph image → the images the model reads it in (a one-digit box and its views).
        infer: model images → ``(position, (T, C) probabilities)`` pairs, in any order.
    """
    images: dict[tuple[int, int], list[np.ndarray]] = {}
    for index, line in lines.items():
        if not any(ch in _DIGITS for ch in line.text):
            continue
        for at, glyph in dropped_glyphs(line, characters):
            images[(index, at)] = as_lone(glyph)
    restored: dict[int, tuple[str, list[float]]] = {}
    # Right to left, so that a digit put back does not move the places of those before it.
    for (index, at), likelihoods in sorted(read_digit_likelihoods(infer, images, characters).items(), reverse=True):
        scores = digit_distribution(likelihoods)
        share = float(np.exp(scores.max()))
        text, confidences = restored.get(index, (lines[index].text, list(lines[index].confidences)))
        if share < _SURE and not number_missing(text, at):
            continue
        digit = _DIGITS[int(np.argmax(scores))]
        confidence = min(share, RESTORED_CONFIDENCE)
        restored[index] = (text[:at] + digit + text[at:], [*confidences[:at], confidence, *confidences[at:]])
    return restored


def number_missing(text: str, at: int) -> bool:
    """A number must stand at ``at``: a hyphen there has no number on that side (町-21-11, 3-4-).

    A hyphen in an address joins numbers (2-21-11); with a letter or nothing on one side, the
    number of that side is missing, so the ink found there is a digit whatever digit it looks most
    like, and its best reading goes in even when the lone read is unsure of it (for review). The
    long-vowel mark is no such hyphen (コーポ).
    """
    before = text[at - 1] if at > 0 else ""
    after = text[at] if at < len(text) else ""

    def hyphen(ch: str) -> bool:
        return ch != "" and ch in _HYPHENS

    def digit(ch: str) -> bool:
        return ch != "" and ch in _DIGITS

    return (hyphen(after) and not digit(before)) or (hyphen(before) and not digit(after))
