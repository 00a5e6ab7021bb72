"""A doubtful line of handwritten digits read again glyph by glyph: the line and each digit vote.

PP-OCR reads a lone handwritten digit far better than the same digit inside a line: on
``mnist_digits_dev`` (one digit per image, read in several views, :mod:`workers.pipeline.views`)
0.8 % of digits are wrong, inside the phone numbers of the dev forms about 3 %. A phone number
or postal code is written digit by digit with gaps between them, so its glyphs can be cut apart
(:func:`split_number_line`) and each read alone as a one-digit box. Neither reading is simply
trusted: the lone reads miss what the line model sees (a glyph cut badly, a 1 read alone as 7),
so for every digit where the two disagree the candidate texts are scored by the line's own CTC
likelihood *plus* the glyph's (:func:`fuse_digits`), a product of two experts, and the field's
grammar may veto the result.

Measured on the doubtful (< 0.9) phone and postal lines: dev forms 52 → 54 of 62 lines right
(080-3244-4949 → 080-3246-6949, 070-3514-4573 → 070-3514-4513, 090-1436 → 090-1456; one made
wrong: 080-7287 → 080-7257); composed_hw_fields_dev 46 → 47 of 53. Digit boxes (``digits``)
lost one and gained none, so only phone and postal lines take part. Only the digits the line
itself reads below :data:`DIGIT_BELOW` are read alone: half the glyph reads of reading every digit
(107 vs 214 images on the dev forms), the same lines right on both sets; at 0.9 one fix was lost.

Pure array code; the recogniser runs the model on the glyphs (:mod:`workers.pipeline.recognizer`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

import cv2
import numpy as np

from workers.pipeline.ctcscore import ctc_log_likelihood, single_character_log_likelihoods
from workers.pipeline.priors import Prior
from workers.pipeline.views import extra_views

__all__ = [
    "GLYPH_BELOW",
    "GLYPH_TYPES",
    "digit_distribution",
    "digit_scores",
    "fuse_digits",
    "glyph_boxes",
    "read_digit_likelihoods",
    "reread_digits",
    "same_shape",
    "split_number_line",
]

GLYPH_TYPES = frozenset({"phone", "postal"})
"""Field types whose doubtful lines are read again glyph by glyph."""
GLYPH_BELOW = 0.9
"""A line read with less confidence than this is read again glyph by glyph."""

DIGIT_BELOW = 0.98
"""...and of such a line, a digit read with less confidence than this is read alone."""

_DIGITS = "0123456789"
_MERGE = 0.3
"""Two strokes whose columns overlap by more than this share of the narrower one are one glyph
(the bar of a 5, the two strokes of a 4)."""
_HYPHEN_HEIGHT = 0.35
"""A glyph lower than this share of the line's ink height and wider than high is a hyphen."""
_SPECK = 1 / 400
"""Ink pieces smaller than this share of the squared ink height are dust, not strokes."""

Glyph = np.ndarray | None
"""One glyph of a number line: the digit's cleaned image, or None for a hyphen."""


def glyph_boxes(line: np.ndarray) -> tuple[list[tuple[int, int, int, int]], int]:
    """The glyphs of a cleaned line as ``(x0, y0, x1, y1)`` boxes, left to right, and its ink height.

    Connected strokes are grouped when their columns overlap (the bar of a 5, the two strokes of
    a 4); dust is left out. No boxes and height 0 without ink.
    """
    _, inv = cv2.threshold(line, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    rows = np.flatnonzero(inv.any(axis=1))
    if rows.size == 0:
        return [], 0
    height = int(rows[-1] - rows[0] + 1)
    count, _, stats, _ = cv2.connectedComponentsWithStats(inv, connectivity=8)
    pieces = sorted(
        (int(x), int(y), int(x + w), int(y + h))
        for x, y, w, h, area in stats[1:count].tolist()
        if area >= max(3, height * height * _SPECK)
    )
    groups: list[tuple[int, int, int, int]] = []
    for x0, y0, x1, y1 in pieces:
        if groups:
            gx0, gy0, gx1, gy1 = groups[-1]
            if min(gx1, x1) - max(gx0, x0) > _MERGE * min(x1 - x0, gx1 - gx0):
                groups[-1] = (min(gx0, x0), min(gy0, y0), max(gx1, x1), max(gy1, y1))
                continue
        groups.append((x0, y0, x1, y1))
    return groups, height


def split_number_line(line: np.ndarray) -> list[Glyph]:
    """The glyphs of a cleaned number line, left to right (:func:`~workers.pipeline.linecrop.prepare_line`).

    Strokes are grouped as :func:`glyph_boxes` groups them; a low, wide group is a hyphen.

    Args:
        line: the cleaned grayscale line (dark ink on white).

    Returns:
        one entry per glyph: its image cut from ``line``, or None for a hyphen; empty without ink.
    """
    boxes, height = glyph_boxes(line)
    glyphs: list[Glyph] = []
    for x0, y0, x1, y1 in boxes:
        low_and_wide = y1 - y0 < _HYPHEN_HEIGHT * height and x1 - x0 > y1 - y0
        glyphs.append(None if low_and_wide else np.ascontiguousarray(line[y0:y1, x0:x1]))
    return glyphs


def same_shape(text: str, glyphs: Sequence[Glyph]) -> bool:
    """The reading has one digit per digit glyph and a hyphen per hyphen glyph, in the same order."""
    shape = "".join("-" if g is None else "d" for g in glyphs)
    return bool(text) and shape == "".join("d" if ch in _DIGITS else ch for ch in text)


def digit_scores(views: Sequence[np.ndarray], characters: Sequence[str]) -> np.ndarray:
    """``log P(digit)`` of one glyph, its views' mean CTC log-likelihoods normalised over 0–9.

    Args:
        views: ``(T, C)`` probabilities of each view of the glyph.
        characters: class index → character of the model.
    """
    return digit_distribution([single_character_log_likelihoods(probs, characters, _DIGITS) for probs in views])


def digit_distribution(likelihoods: Sequence[np.ndarray]) -> np.ndarray:
    """The views' mean digit log-likelihoods as a distribution over 0–9."""
    scores = np.array(likelihoods).mean(axis=0)
    return np.asarray(scores - np.logaddexp.reduce(scores), dtype=np.float64)


def fuse_digits(
    text: str, line_probs: np.ndarray, characters: Sequence[str], glyphs: Mapping[int, np.ndarray], prior: Prior | None
) -> tuple[str, dict[int, float]]:
    """``text`` with each digit the line and its glyph together find likelier (left to right).

    Args:
        text: the line's reading, of :func:`same_shape` with the glyphs.
        line_probs: the line's ``(T, C)`` probabilities.
        characters: class index → character.
        glyphs: :func:`digit_scores` of the digit glyphs read alone, by their place among the
            line's digits (0 = the first digit); the others keep the line's digit.
        prior: the field's grammar; a result it likes less than ``text`` is refused.

    Returns:
        the text, and for every place where the line and the glyph disagreed the winner's share
        of the two readings' joint probability: two reads that disagree make a doubtful digit,
        whichever wins (the caller caps that character's confidence with it).
    """
    current = text
    current_ll = ctc_log_likelihood(line_probs, characters, current)
    positions = [i for i, ch in enumerate(text) if ch in _DIGITS]
    shares: dict[int, float] = {}
    for k, scores in sorted(glyphs.items()):
        i = positions[k]
        alone = _DIGITS[int(np.argmax(scores))]
        if alone == current[i]:
            continue
        candidate = current[:i] + alone + current[i + 1 :]
        candidate_ll = ctc_log_likelihood(line_probs, characters, candidate)
        keep = current_ll + scores[_DIGITS.index(current[i])]
        take = candidate_ll + scores[_DIGITS.index(alone)]
        shares[i] = float(1.0 / (1.0 + np.exp(-abs(take - keep)))) if np.isfinite(take - keep) else 1.0
        if take > keep:
            current, current_ll = candidate, candidate_ll
    if prior is not None and prior(current, True) < prior(text, True):
        return text, shares
    return current, shares


def reread_digits(
    *,
    lines: Mapping[int, tuple[np.ndarray, str, Sequence[float], np.ndarray]],
    priors: Mapping[int, Prior | None],
    characters: Sequence[str],
    as_lone: Callable[[np.ndarray], np.ndarray],
    infer: Callable[[Sequence[np.ndarray]], Iterator[tuple[int, np.ndarray]]],
) -> dict[int, tuple[str, dict[int, float]]]:
    """Doubtful number lines read again where their doubtful digits, read alone, vote otherwise.

    Args:
        lines: per line index: the line as cleaned for the model (:func:`~workers.pipeline.linecrop.prepare_line`,
            not yet resized), its reading, the reading's per-character confidences and its ``(T, C)``
            probabilities.
        priors: per line index, the field's grammar (None: no veto).
        characters: class index → character.
        as_lone: a glyph image → the image the model reads for a lone character.
        infer: model images → ``(position, (T, C) probabilities)`` pairs, in any order.

    Returns:
        the line indices where a glyph read alone disagreed with the line: the reading (changed or
        not) and the doubt per character place (:func:`fuse_digits`).
    """
    doubtful: dict[tuple[int, int], np.ndarray] = {}
    for index, (line, text, confidences, _) in lines.items():
        glyphs = split_number_line(line)
        if not same_shape(text, glyphs) or len(confidences) != len(text):
            continue
        # Only a digit the line itself doubts is read alone: a glyph read costs as much as a
        # quarter of the line, and a digit the line is sure of never changed.
        digit_confidences = [c for ch, c in zip(text, confidences, strict=True) if ch in _DIGITS]
        digit_glyphs = [g for g in glyphs if g is not None]
        for k, (glyph, confidence) in enumerate(zip(digit_glyphs, digit_confidences, strict=True)):
            if confidence < DIGIT_BELOW:
                doubtful[(index, k)] = as_lone(glyph)
    # Each is read as it is; one the line disagrees with, or that is itself in doubt, is read in the
    # other views of a lone digit too (mnist_digits_dev's error rate comes with them).
    seen = read_digit_likelihoods(infer, {key: [image] for key, image in doubtful.items()}, characters)
    again: dict[tuple[int, int], list[np.ndarray]] = {}
    for (index, k), likelihoods in seen.items():
        first = digit_distribution(likelihoods)
        digit = _DIGITS[int(np.argmax(first))]
        if digit != _digits_of(lines[index][1])[k] or float(np.exp(first.max())) < GLYPH_BELOW:
            again[(index, k)] = extra_views(doubtful[(index, k)])
    for key, likelihoods in read_digit_likelihoods(infer, again, characters).items():
        seen[key].extend(likelihoods)
    by_line: dict[int, dict[int, np.ndarray]] = {}
    for (index, k), likelihoods in seen.items():
        by_line.setdefault(index, {})[k] = digit_distribution(likelihoods)
    changed: dict[int, tuple[str, dict[int, float]]] = {}
    for index, scores in by_line.items():
        _, text, _, line_probs = lines[index]
        fused, shares = fuse_digits(text, line_probs, characters, scores, priors.get(index))
        if shares:
            changed[index] = (fused, shares)
    return changed


def _digits_of(text: str) -> str:
    return "".join(ch for ch in text if ch in _DIGITS)


def read_digit_likelihoods(
    infer: Callable[[Sequence[np.ndarray]], Iterator[tuple[int, np.ndarray]]],
    images: Mapping[tuple[int, int], Sequence[np.ndarray]],
    characters: Sequence[str],
) -> dict[tuple[int, int], list[np.ndarray]]:
    """Every image's log-likelihood of each digit, grouped by key, read in one batched pass.

    Only the ten numbers are kept: one image's ``(T, C)`` output over an 18 000-class dictionary is
    about 2 MB, and a page may hold dozens of glyph views.
    """
    flat = [(key, image) for key, group in images.items() for image in group]
    out: dict[tuple[int, int], list[np.ndarray]] = {}
    for position, probs in infer([image for _, image in flat]):
        out.setdefault(flat[position][0], []).append(single_character_log_likelihoods(probs, characters, _DIGITS))
    return out
