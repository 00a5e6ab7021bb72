"""Checkbox reading by ink coverage.

A mark (✓, ×, ○, a filled square) is ink *inside* the printed square. The
printed border itself must not count, so the caller passes the field crop with
the template's ink already removed (see :mod:`workers.pipeline.page`), and the
border is additionally excluded by shrinking the box inward a little: after
alignment the border can be off by a pixel or two and leave a thin sliver.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["CheckboxResult", "ChoiceResult", "read_checkbox", "read_choice"]


@dataclass(frozen=True)
class CheckboxResult:
    """Value of one checkbox.

    Attributes:
        checked: a mark was found.
        confidence: in [0.5, 1]; 0.5 exactly at the threshold, rising as the ink
            ratio moves away from it (on a log scale, since marks vary from a thin
            tick to a filled box).
        ink_ratio: share of ink pixels inside the (shrunk) box.
    """

    checked: bool
    confidence: float
    ink_ratio: float
    score: float = 0.0
    """Evidence in units of the threshold: >= 1 is checked."""


def ink_mask(gray: np.ndarray, *, threshold: int | None = None) -> np.ndarray:
    """Binary ink mask (uint8 0/1) of a grayscale crop.

    The threshold adapts to the paper brightness of the crop: half-way between
    the paper level (a high percentile) and black, so grey scans with a dim
    background and crisp 1-bit scans are treated alike.
    """
    if threshold is None:
        paper = float(np.percentile(gray, 90))
        threshold = int(min(180.0, paper * 0.6))
    return (gray < threshold).astype(np.uint8)


def read_checkbox(
    crop: np.ndarray,
    *,
    box: tuple[int, int, int, int] | None = None,
    inset: float = 0.12,
    threshold: float = 0.033,
    ring_threshold: float = 0.06,
    min_speck_px: int = 3,
) -> CheckboxResult:
    """Decide whether a checkbox is marked.

    People tick inside the box, but they also circle it (○ drawn *around* the
    square) or let a ✓ overshoot, so ink in a ring around the box counts too.

    Args:
        crop: grayscale crop of the box plus a margin (template ink already removed).
        box: ``(x0, y0, x1, y1)`` of the printed square inside ``crop``; None = the whole crop.
        inset: fraction of the box side cut away on every edge to skip the border.
        threshold: ink ratio inside the box at and above which it counts as checked.
        ring_threshold: ink ratio in the ring around the box that counts as checked.
        min_speck_px: connected ink blobs smaller than this are scanner dust.

    Returns:
        a :class:`CheckboxResult`.
    """
    h, w = crop.shape[:2]
    bx0, by0, bx1, by1 = box if box is not None else (0, 0, w, h)
    mask = ink_mask(crop)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    small = np.zeros(count, dtype=bool)
    small[1:] = stats[1:, cv2.CC_STAT_AREA] < min_speck_px
    mask[small[labels]] = 0
    dy, dx = max(1, round((by1 - by0) * inset)), max(1, round((bx1 - bx0) * inset))
    inner = mask[by0 + dy : by1 - dy, bx0 + dx : bx1 - dx]
    ratio = float(inner.mean()) if inner.size else 0.0
    ring_ratio = 0.0
    if box is not None:
        ring = mask.astype(bool).copy()
        ring[by0:by1, bx0:bx1] = False
        ring_area = h * w - (by1 - by0) * (bx1 - bx0)
        ring_ratio = float(ring.sum()) / ring_area if ring_area > 0 else 0.0
    # One score in units of "threshold": >= 1 means checked, from either evidence.
    score = max(ratio / threshold, ring_ratio / ring_threshold)
    checked = score >= 1.0
    confidence = _confidence(score)
    return CheckboxResult(checked, confidence, ratio, score)


def _confidence(score: float) -> float:
    # Distance from the threshold in log space: x2 or /2 of the threshold gives ~0.9.
    distance = abs(np.log2(max(score, 1e-3)))
    return float(0.5 + 0.5 * (1.0 - np.exp(-2.3 * distance)))


@dataclass(frozen=True)
class ChoiceResult:
    """Value of one ``choice`` field (one of several printed options circled or ticked).

    Attributes:
        index: the marked option, or None (nothing marked, or ambiguous).
        confidence: in [0.5, 1], how clear the decision is.
        scores: evidence per option in units of the threshold (>= 1: marked).
        problem: None, ``"multiple"`` (two or more options marked) or ``"faint"``
            (a mark too weak to count and too strong to ignore). Both are
            flagged for review rather than guessed.
    """

    index: int | None
    confidence: float
    scores: list[float]
    problem: str | None = None


def read_choice(
    ink: np.ndarray,
    boxes: list[tuple[int, int, int, int]],
    *,
    threshold: float = 0.06,
    faint: float = 0.4,
) -> ChoiceResult:
    """Decide which printed option of a choice field is marked.

    A person circles the option (○ around 令和), ticks its box, or strikes it.
    Each handwriting blob is attributed to the option whose box centre is
    nearest to the blob's centre (a circle around an option is centred on it,
    even where it runs into the neighbour's space); blobs whose centre lies in
    no option's neighbourhood are not evidence for any option.

    Args:
        ink: uint8 0/1 mask of handwriting (printed template removed, specks dropped).
        boxes: ``(x0, y0, x1, y1)`` of each printed option inside ``ink``.
        threshold: attributed ink per option box area at which the option counts as marked.
        faint: a best option with at least this fraction of the threshold, but
            below it, is a faint mark (flagged).

    Returns:
        a :class:`ChoiceResult`.
    """
    count, _labels, stats, centroids = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    centres = np.array([((x0 + x1) / 2.0, (y0 + y1) / 2.0) for x0, y0, x1, y1 in boxes], dtype=np.float64)
    sizes = np.array([(max(1, x1 - x0), max(1, y1 - y0)) for x0, y0, x1, y1 in boxes], dtype=np.float64)
    attributed = np.zeros(len(boxes), dtype=np.float64)
    for label in range(1, count):
        # Distance in units of the option's half size: inside the box is < 1 on both axes.
        d = np.abs(centroids[label] - centres) / (sizes / 2.0)
        reach = np.max(d, axis=1)
        nearest = int(np.argmin(reach))
        if reach[nearest] <= 1.8:
            attributed[nearest] += float(stats[label, cv2.CC_STAT_AREA])
    areas = sizes[:, 0] * sizes[:, 1]
    scores = [float(v) for v in attributed / areas / threshold]
    order = np.argsort(scores)[::-1]
    best = int(order[0])
    second = scores[int(order[1])] if len(scores) > 1 else 0.0
    if scores[best] >= 1.0 and second >= 1.0:
        return ChoiceResult(None, 0.5, scores, "multiple")
    if scores[best] >= 1.0:
        confidence = (
            min(_confidence(scores[best]), _confidence(second)) if second > 0 else _confidence(scores[best])
        )
        if second >= faint:
            return ChoiceResult(best, min(confidence, 0.6), scores, "faint")
        return ChoiceResult(best, confidence, scores)
    if scores[best] >= faint:
        return ChoiceResult(None, _confidence(scores[best]), scores, "faint")
    return ChoiceResult(None, _confidence(scores[best]) if scores[best] > 0 else 1.0, scores)
