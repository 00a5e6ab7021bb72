"""Several views of one crop, read together: test-time augmentation for single characters and digit lines.

PP-OCR reads whole lines. A lone character (a year or month box, one hiragana) is far
from what it was trained on, and its reading swings with details that carry no
information: how much paper is around the character, and how large it is drawn in the
model's 48-pixel input. On ``etl8b2_hiragana_dev`` the character error rate was 5.3 %
as cropped, 4.5 % with the crop widened to twice its height with paper, and 3.0 % with
the character shrunk to about 60 % of the height; which single setting is best differs
from set to set (the digits of ``mnist_digits_dev`` preferred the crop as is), so no
single setting is chosen. Instead every view is read, and the candidate texts they give
are scored under *all* views with the CTC forward algorithm
(:func:`workers.pipeline.ctcscore.ctc_log_likelihood`); the text with the highest
summed log-likelihood wins. A reading that only one view likes loses to one every view
finds plausible.

Lines of handwritten digits (phone numbers, dates, postal codes) get a view of their own
(:func:`line_views`: strokes thinner), and there the field's grammar also
votes and may veto (:meth:`~workers.pipeline.recognizer.OnnxCtcRecognizer._read_together`).

This is pure array code; the recogniser (:mod:`workers.pipeline.recognizer`) runs the
model on the views and calls :func:`pick_by_views`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from workers.pipeline.charsets import NUMBER_TYPES
from workers.pipeline.ctcscore import single_character_log_likelihoods
from workers.pipeline.decoding import DecodeContext
from workers.pipeline.linecrop import LONE
from workers.pipeline.priors import Prior, prior_for

__all__ = [
    "NARROW",
    "extra_views",
    "line_views",
    "pick_by_views",
    "pick_one_character",
    "view_candidates",
    "view_prior",
]

NARROW = LONE
"""A resized line narrower than this many times its height is short enough to get extra views."""

_SHRINK = 1 / 3
"""Paper added on every side before scaling back to the model height, as a fraction of that
height: the character drawn at about 60 % of the height. A second shrunk view at 75 % gained 3
more characters of 1 500 on etl8b2_hiragana_dev (2.07 % vs 2.27 %) for a third more view reads."""


def extra_views(line: np.ndarray) -> list[np.ndarray]:
    """The other views of a short resized line (dark ink on white, model height), or none.

    Args:
        line: the crop as fed to the model.

    Returns:
        for a line narrower than :data:`NARROW` × its height: the line widened to that width
        with paper on the right, and the line with the character shrunk (paper on all sides,
        scaled back to the model height); otherwise an empty list (a real line is read once).
    """
    height, width = line.shape[:2]
    target = int(NARROW * height)
    if width >= target:
        return []
    widened = cv2.copyMakeBorder(line, 0, 0, 0, target - width, cv2.BORDER_CONSTANT, value=255)
    border = max(1, round(_SHRINK * height))
    framed = cv2.copyMakeBorder(line, border, border, border, border, cv2.BORDER_CONSTANT, value=255)
    scaled_width = max(8, round(framed.shape[1] * height / framed.shape[0]))
    shrunk = cv2.resize(framed, (scaled_width, height), interpolation=cv2.INTER_AREA)
    return [np.ascontiguousarray(v, dtype=np.uint8) for v in (widened, shrunk)]


_STROKE = np.ones((2, 2), np.uint8)
"""Paper grown by one pixel at the model's 48-pixel height: strokes about 1 px thinner."""


def line_views(line: np.ndarray) -> list[np.ndarray]:
    """The other view of a resized line of handwritten digits: its strokes thinner.

    How thick the pen is, after scanner blur and the resize to the model height, moves
    PP-OCR's reading of a handwritten digit; the two views decide together as for a lone
    character. Measured on doubtful number fields (candidates scored under both views plus the
    field's grammar): dev forms 080-7257-1498 → 080-7287-1498 and 令和6年4月1日 → 令和6年4月4日, nothing
    made worse; composed_hw_fields_dev CER 1.80 → 1.64 %; mnist_digits_dev unchanged. Thicker
    strokes (composed 1.88 %) and a 15 % stretch (dev one more right, one more wrong) did not pay
    for their reads.
    """
    return [np.ascontiguousarray(cv2.dilate(line, _STROKE), dtype=np.uint8)]


def view_prior(field_type: str | None, context: DecodeContext | None) -> Prior | None:
    """The grammar the views of a number field answer to, or None (kana: the surname lexicon is a
    prior for whole names, not one character; etl8b2_hiragana_dev lost a character with it)."""
    if field_type not in NUMBER_TYPES:
        return None
    if context is None:
        return prior_for(field_type)
    return prior_for(field_type, role=context.role, span=context.span, check_digit=context.check_digit)


def view_candidates(texts: Sequence[str], prior: Prior | None) -> tuple[list[str], np.ndarray]:
    """The distinct readings of the views worth scoring, and the prior's score of each.

    ``texts[0]`` is the crop's own reading. With a ``prior``, a reading the grammar likes less
    than that one is dropped (a date missing its day never wins); without one every score is 0.
    """
    candidates = list(dict.fromkeys(texts))
    if prior is None:
        return candidates, np.zeros(len(candidates))
    grammar = {t: prior(t, True) for t in candidates}
    kept = [t for t in candidates if grammar[t] >= grammar[texts[0]]]
    return kept, np.array([grammar[t] for t in kept], dtype=np.float64)


def pick_by_views(scores: np.ndarray) -> tuple[int, float]:
    """The candidate every view finds most likely, and how sure the views are of it.

    Args:
        scores: ``(views, candidates)`` log-likelihoods of each candidate text under each view
            (``-inf`` where a view cannot produce the text).

    Returns:
        ``(index, share)``: the candidate with the highest summed log-likelihood, and its share
        of the probability when the views' mean log-likelihoods are normalised over the
        candidates (1.0 when it is the only one). The share caps the reading's confidence, so
        views that disagree send the field to review.
    """
    if scores.ndim != 2 or scores.shape[1] == 0:
        raise ValueError("scores must be (views, candidates) with at least one candidate")
    mean = scores.mean(axis=0)
    best = int(np.argmax(mean))
    top = float(mean[best])
    if not math.isfinite(top):
        return 0, 0.0
    weights = np.exp(np.where(np.isfinite(mean), mean - top, -np.inf))
    return best, float(weights[best] / weights.sum())


def pick_one_character(views: Sequence[np.ndarray], characters: Sequence[str], alphabet: str) -> tuple[str, float]:
    """The one character of ``alphabet`` the views find most likely, and their share for it.

    For a crop known to hold a single character (one stroke in a digit box) that the model read
    as two: every character of the alphabet is scored as the whole text under every view's
    ``(T, C)`` probabilities (:func:`~workers.pipeline.ctcscore.ctc_log_likelihood`) and
    :func:`pick_by_views` decides. On ``mnist_digits_dev`` an 8 with an open top loop read ``48``
    and a wide 6 read ``20``; read as one digit each costs one error instead of two.
    """
    scores = np.array([single_character_log_likelihoods(probs, characters, alphabet) for probs in views])
    best, share = pick_by_views(scores)
    return alphabet[best], share
