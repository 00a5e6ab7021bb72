"""Ruling lines of a blank template picture: enclosed cells, small squares, free-standing underlines.

Pure image work on a grayscale page rendering: printed text is painted out first
(so glyph strokes are not mistaken for rules), then horizontal and vertical rules
are found by morphological opening, and the white areas they enclose are the cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

Box = tuple[float, float, float, float]

INK_LEVEL = 200
"""Grey level below which a pixel is printed ink."""
MIN_RULE_PT = 7.0
"""Shortest printed rule: shorter than the side of a check box (about 10-15 pt)."""


@dataclass(frozen=True)
class Region:
    """A white area enclosed by rules, in PDF points; ``filled`` = printed tint (a label cell)."""

    box: Box
    filled: bool

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


@dataclass(frozen=True)
class Ruling:
    regions: list[Region]
    underlines: list[Box]
    ink: np.ndarray
    """uint8 0/1 printed-ink mask of the page (text included)."""
    px_per_pt: float


def _px(box: Box, s: float) -> tuple[int, int, int, int]:
    return int(box[0] * s), int(box[1] * s), int(np.ceil(box[2] * s)), int(np.ceil(box[3] * s))


def find_ruling(gray: np.ndarray, *, px_per_pt: float, text_boxes: list[Box]) -> Ruling:
    """Cells and underlines of one page picture; ``text_boxes`` (points) are painted out first."""
    # A scanned 0.5 pt rule is a grey, blurred 1-2 px line: a lenient threshold keeps it whole;
    # a printed tint (label cells, about 230) stays paper.
    ink = (gray < INK_LEVEL).astype(np.uint8)
    no_text = ink.copy()
    for box in text_boxes:
        x0, y0, x1, y1 = _px(box, px_per_pt)
        no_text[max(y0, 0) : y1, max(x0, 0) : x1] = 0
    k = max(3, round(MIN_RULE_PT * px_per_pt))
    # Close one-pixel breaks along a rule (scanner noise, a slight skew's steps) before opening.
    h_closed = cv2.morphologyEx(no_text, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 1)))
    v_closed = cv2.morphologyEx(no_text, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (1, 3)))
    horizontal = cv2.morphologyEx(h_closed, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (k, 1)))
    vertical = cv2.morphologyEx(v_closed, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, k)))
    rules = cv2.dilate(np.bitwise_or(horizontal, vertical), np.ones((3, 3), np.uint8))
    free = (1 - rules).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(free, connectivity=4)
    height, width = gray.shape
    regions: list[Region] = []
    min_side = 4.0 * px_per_pt
    for index in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[index])
        if x == 0 or y == 0 or x + w >= width or y + h >= height:
            continue  # the page background around the tables
        if w < min_side or h < min_side or area < 0.8 * w * h:
            continue
        inner = gray[y : y + h, x : x + w][labels[y : y + h, x : x + w] == index]
        # A tinted label cell: the paper inside is grey, whatever text sits on it.
        filled = bool(np.median(inner) < 245)
        # The rule's centre is about one pixel outside the free area (the dilation).
        box = ((x - 1) / px_per_pt, (y - 1) / px_per_pt, (x + w + 1) / px_per_pt, (y + h + 1) / px_per_pt)
        regions.append(Region(box, filled))
    return Ruling(regions, _underlines(horizontal, vertical, px_per_pt), ink, px_per_pt)


def _underlines(horizontal: np.ndarray, vertical: np.ndarray, s: float) -> list[Box]:
    """Horizontal rules at least 30 pt long that no vertical rule touches: write-on-the-line blanks."""
    count, _labels, stats, _ = cv2.connectedComponentsWithStats(horizontal, connectivity=8)
    grown = cv2.dilate(vertical, np.ones((7, 7), np.uint8))
    lines: list[Box] = []
    for index in range(1, count):
        x, y, w, h, _area = (int(v) for v in stats[index])
        if w < 30 * s or h > 3 * s:
            continue
        if grown[y : y + h, x : x + w].any():
            continue
        lines.append((x / s, y / s, (x + w) / s, (y + h) / s))
    return lines


def ink_fraction(ruling: Ruling, box: Box) -> float:
    """Share of printed-ink pixels inside ``box`` (points)."""
    x0, y0, x1, y1 = _px(box, ruling.px_per_pt)
    patch = ruling.ink[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)]
    return float(patch.mean()) if patch.size else 0.0


def estimate_skew(gray: np.ndarray, *, max_deg: float = 3.0, step_deg: float = 0.1) -> float:
    """Angle (degrees, counter-clockwise) by which a scanned page is turned: rows of ink sharpest when undone.

    Projection profile on a half-size ink picture: rotating by the right angle makes the printed
    rules and text lines fall into the fewest rows, which maximises the variance of the row sums.
    """
    small = cv2.resize(
        (gray < INK_LEVEL).astype(np.float32), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA
    )
    height, width = small.shape
    centre = (width / 2, height / 2)
    best, best_score = 0.0, -1.0
    for angle in np.arange(-max_deg, max_deg + step_deg / 2, step_deg):
        matrix = cv2.getRotationMatrix2D(centre, float(angle), 1.0)
        turned = cv2.warpAffine(small, matrix, (width, height), flags=cv2.INTER_NEAREST, borderValue=0.0)
        score = float(np.var(turned.sum(axis=1)))
        if score > best_score:
            best, best_score = float(angle), score
    return -best


def rotate_page(gray: np.ndarray, angle_deg: float) -> np.ndarray:
    """``gray`` turned by ``-angle_deg`` about its centre (undoing a skew of ``angle_deg``), white margins."""
    height, width = gray.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), -angle_deg, 1.0)
    return cv2.warpAffine(gray, matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=255)
