"""Marks that are not plain handwriting in a box: strokes crossing printed lines, seals, circled choices.

Helpers of :mod:`workers.pipeline.page`, kept apart so each rule stays small
and testable on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from ocr_service.forms.layout import FieldSpec
from workers.pipeline.checkbox import read_choice
from workers.pipeline.types import FieldReading

__all__ = [
    "REASON_SEAL",
    "StrippedSeal",
    "bridge_crossings",
    "choice_reading",
    "choice_region",
    "empty_reading",
    "line_slivers",
    "needs_review",
    "seal_mask",
    "strip_mask",
]

REASON_SEAL = "印影（はんこ）と思われる記入があるため確認が必要です"
_REASON_CHOICE_MULTIPLE = "複数の選択肢に印があるため確認が必要です"
_REASON_CHOICE_FAINT = "選択肢の印が薄い・不明瞭なため確認が必要です"


def bridge_crossings(scan_ink: np.ndarray, drop: np.ndarray, *, dpi: int) -> np.ndarray:
    """Printed-line pixels that a handwritten stroke crosses: ink there joins handwriting on both sides.

    Dropping every printed pixel would cut a stroke that crosses a ruling
    line or a comb wall into two pieces (a 7 becomes a 1 and a dash).
    Closing the handwriting along x and along y bridges gaps only as wide
    as a printed line where there is handwriting on *both* sides; a stroke
    that merely ends on a line bridges nothing.

    Args:
        scan_ink: uint8 0/1 ink mask of the scan crop.
        drop: boolean mask of (grown) template ink in the same crop.
        dpi: resolution of the crop.

    Returns:
        boolean mask of the ``drop`` pixels to keep as handwriting.
    """
    # Handwriting *away* from the print anchors a bridge: slivers of a printed line left
    # beside the dropout (alignment error) must not, or a box border next to a digit is
    # restored as a "1" (seen on dev).
    margin = max(2, round(2 * dpi / 200.0))
    near = cv2.dilate(drop.astype(np.uint8), np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)) > 0
    hand = scan_ink.copy()
    hand[near] = 0
    # A printed line (1-2 px at 200 dpi) plus the dropout's growth is up to ~6 px wide, plus the margins.
    span = 2 * (max(3, round(3 * dpi / 200.0)) + margin) + 1
    across_x = cv2.morphologyEx(hand, cv2.MORPH_CLOSE, np.ones((1, span), np.uint8)) > 0
    across_y = cv2.morphologyEx(hand, cv2.MORPH_CLOSE, np.ones((span, 1), np.uint8)) > 0
    bridged: np.ndarray = (across_x | across_y) & (scan_ink > 0) & drop
    return bridged


def line_slivers(ink: np.ndarray, drop: np.ndarray, *, dpi: int) -> np.ndarray:
    """Ink left along a printed line that the dropout just missed (a pixel of misregistration).

    Such slivers are dashes one or two pixels thin lying right beside the print;
    the recogniser reads a row of them as "-" or "一" in an empty field (seen on
    dev). A handwritten stroke is thicker, or runs away from the line.

    Returns:
        boolean mask of the sliver pixels.
    """
    thin = max(2, round(2 * dpi / 200.0))
    near = cv2.dilate(drop.astype(np.uint8), np.ones((2 * thin + 1, 2 * thin + 1), np.uint8)) > 0
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    w, h = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    short, long_ = np.minimum(w, h), np.maximum(w, h)
    # Long and thin: the end of a stroke that meets a line is short, a sliver runs along it.
    shaped = (short <= thin) & (long_ >= np.maximum(4 * thin, 3 * short))
    near_share = np.bincount(labels[near], minlength=count) / np.maximum(stats[:, cv2.CC_STAT_AREA], 1)
    sliver = shaped & (near_share > 0.9)
    sliver[0] = False
    mask: np.ndarray = sliver[labels]
    return mask


@dataclass(frozen=True)
class StrippedSeal:
    ink: np.ndarray
    clean: np.ndarray
    extent: int
    """Largest remaining handwriting blob (px)."""


def seal_mask(ink: np.ndarray, *, box_height: float) -> np.ndarray | None:
    """Pixels of a seal (印影) in a field crop; None when there is none.

    Red seals are already gone on colour scans (see ``raster``); on grey and
    black/white scans the ring remains. A ring at least as tall as the field,
    roughly round and mostly hollow cannot be a character written in the box;
    it and what lies inside it are taken out so the recogniser never reads it,
    and the field goes to review. Pass a crop with room around the box: a seal
    is often larger than the field.
    """
    # The ring is cut where it crosses the printed box border (dropout); close the gaps first.
    # The closed mask only finds the seal: what is removed are the real ink pixels under it.
    size = max(5, round(box_height * 0.2)) | 1
    closed = cv2.morphologyEx(
        ink, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    )
    count, labels, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    seal = np.zeros(ink.shape, dtype=bool)
    for label in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[label])
        round_ = 0.6 <= w / max(h, 1) <= 1.7
        if (
            h >= 0.95 * box_height
            and round_
            and area < 0.35 * w * h
            and _corners_empty(labels, label, x, y, w, h)
        ):
            inside = (stats[:, 0] >= x) & (stats[:, 1] >= y)
            inside &= (stats[:, 0] + stats[:, 2] <= x + w) & (stats[:, 1] + stats[:, 3] <= y + h)
            inside[0] = False
            seal |= inside[labels] & (ink > 0)
    return seal if seal.any() else None


def _corners_empty(labels: np.ndarray, label: int, x: int, y: int, w: int, h: int) -> bool:
    """A ring leaves the corners of its bounding box empty; a box border (misregistered print) does not."""
    cw, ch = max(1, w // 10), max(1, h // 10)
    corners = [
        labels[y : y + ch, x : x + cw],
        labels[y : y + ch, x + w - cw : x + w],
        labels[y + h - ch : y + h, x : x + cw],
        labels[y + h - ch : y + h, x + w - cw : x + w],
    ]
    return all(not (c == label).any() for c in corners)


def strip_mask(ink: np.ndarray, clean: np.ndarray, mask: np.ndarray) -> StrippedSeal:
    """``ink`` and ``clean`` with the ``mask`` pixels removed, and the largest remaining blob."""
    kept_ink = ink.copy()
    kept_ink[mask] = 0
    kept_clean = clean.copy()
    kept_clean[mask] = 255
    _, _, rest, _ = cv2.connectedComponentsWithStats(kept_ink, connectivity=8)
    extent = int(np.max(np.maximum(rest[1:, 2], rest[1:, 3]))) if len(rest) > 1 else 0
    return StrippedSeal(kept_ink, kept_clean, extent)


def empty_reading(name: str, png: bytes, confidence: float, *, sealed: bool) -> FieldReading:
    """An empty text field; one that only held a seal is still shown to a person."""
    if sealed:
        return FieldReading(name, "", 0.5, [], png, "low_confidence", REASON_SEAL)
    return FieldReading(name, "", confidence, [], png, "empty", None)


def choice_region(spec: FieldSpec) -> tuple[float, float, float, float]:
    """The field box and every option box together (PDF points)."""
    boxes = [o.box for o in spec.options] + [spec.box]
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def choice_reading(
    spec: FieldSpec, ink: np.ndarray, boxes: list[tuple[int, int, int, int]], png: bytes, *, threshold: float
) -> FieldReading:
    """The value of a choice field; two marks or a faint one go to review, unguessed.

    Args:
        spec: the choice field.
        ink: handwriting mask of the crop around all options.
        boxes: each option's box in ``ink`` pixels.
        png: the crop shown to the reviewer.
        threshold: confidence below which the reading is flagged.
    """
    result = read_choice(ink, boxes)
    value = spec.options[result.index].value if result.index is not None else ""
    if result.problem == "multiple":
        return FieldReading(spec.name, "", 0.5, [], png, "low_confidence", _REASON_CHOICE_MULTIPLE)
    if result.problem == "faint" or result.confidence < threshold:
        return FieldReading(
            spec.name, value, result.confidence, [], png, "low_confidence", _REASON_CHOICE_FAINT
        )
    return FieldReading(spec.name, value, result.confidence, [], png, "ok" if value else "empty", None)


def needs_review(reading: FieldReading, reason: str | None) -> FieldReading:
    """The reading sent to review with ``reason`` (an ok/empty reading whose position is in doubt)."""
    if reading.status not in ("ok", "empty"):
        return reading
    return replace(
        reading,
        status="low_confidence",
        confidence=min(reading.confidence, 0.5),
        reason=reason or "位置合わせが不確かなため確認が必要です",
    )
