"""Line-crop normalisation before recognition: contrast, printed rules out, tight ink box.

A crop handed to the recogniser may still carry what the form printed around the
writing (a box, an underline, comb cell walls) and a wide empty margin. PP-OCR reads
a box border as ``1``/``I``/``[`` and shrinks the writing when the margin is wide, so
every crop is cleaned the same way here, whatever produced it (the page pipeline
after template dropout, or an evaluation line image as cut from a form).

Measured on ``composed_hw_fields_dev`` (CER, with constraints): raw crops 6.3 %,
after this normalisation 4.5 %; hiragana lines 21.8 % → 13.8 %.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["prepare_line", "rule_mask"]

_PAD_LINE = 0.15
_PAD_CHAR = 0.2

_MIN_CONTRAST = 40.0
"""Below this paper-to-ink spread a crop holds no writing worth re-cropping; it is left as is."""


def rule_mask(binary_inv: np.ndarray) -> np.ndarray:
    """Pixels of printed rules: long horizontal lines and the walls that join two of them.

    A horizontal rule must be at least half the crop wide *and* 1.5× its height, so the
    long stroke of a single written character (こ, 一) is never taken for one. A vertical
    line only counts when both of its ends touch a horizontal rule (box sides, comb
    walls): a written ``1`` standing on an underline keeps its top free.

    Args:
        binary_inv: uint8 image, 255 = ink.

    Returns:
        uint8 mask, 255 = rule.
    """
    h, w = binary_inv.shape
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (max(25, int(w * 0.5), int(1.5 * h)), 1))
    horizontal = cv2.morphologyEx(binary_inv, cv2.MORPH_OPEN, kernel)
    if not horizontal.any():
        return horizontal
    rows = np.flatnonzero(horizontal.any(axis=1))
    span = int(rows[-1] - rows[0])
    vkernel = cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(15, int(span * 0.6))))
    vertical = cv2.morphologyEx(binary_inv, cv2.MORPH_OPEN, vkernel)
    near_rule = cv2.dilate(horizontal, np.ones((7, 7), np.uint8)) > 0
    count, labels, stats, _ = cv2.connectedComponentsWithStats(vertical, connectivity=8)
    walls = np.zeros(count, dtype=bool)
    for i in range(1, count):
        x, y, ww, hh = (int(v) for v in stats[i, :4])
        comp = labels[y : y + hh, x : x + ww] == i
        top = near_rule[y : y + 2, x : x + ww] & comp[:2]
        bottom = near_rule[y + hh - 2 : y + hh, x : x + ww] & comp[-2:]
        walls[i] = bool(top.any() and bottom.any())
    return np.asarray(horizontal | np.where(walls[labels], 255, 0).astype(np.uint8), dtype=np.uint8)


def prepare_line(gray: np.ndarray) -> np.ndarray:
    """Normalise one crop for the recogniser.

    Stretches contrast (paper white, darkest ink black), paints printed rules white,
    drops specks, and cuts to the ink with a margin of 15 % of the ink height (20 % for
    a single character, which PP-OCR reads better with more context: ETL8B2 CER 6.0 %
    raw, 5.2 % at 20 %, 6.8 % at 10 %).

    Args:
        gray: grayscale (or BGR) crop, dark writing on light paper.

    Returns:
        the cleaned grayscale crop (the input unchanged when it holds no clear ink).
    """
    g = gray if gray.ndim == 2 else cv2.cvtColor(gray, cv2.COLOR_BGR2GRAY)
    if g.size == 0:
        return g
    paper = float(np.percentile(g, 90))
    ink = float(np.percentile(g, 1))
    if paper - ink < _MIN_CONTRAST:
        return g
    stretched = np.clip((g.astype(np.float32) - ink) * (255.0 / (paper - ink)), 0, 255).astype(np.uint8)
    _, binary_inv = cv2.threshold(stretched, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    h, w = binary_inv.shape
    rules = cv2.dilate(rule_mask(binary_inv), np.ones((3, 3), np.uint8))
    ink_mask = ((binary_inv > 0) & (rules == 0)).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink_mask, connectivity=8)
    keep = np.zeros(count, dtype=bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= max(4, h * w // 20000)
    writing = keep[labels]
    rows = np.flatnonzero(writing.any(axis=1))
    cols = np.flatnonzero(writing.any(axis=0))
    if rows.size == 0:
        return g
    out = stretched.copy()
    out[rules > 0] = 255
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    height = r1 - r0
    single = (c1 - c0) < 1.5 * height
    if single and height < 0.5 * h and not rules.any():
        # A lone small mark (、。・) blown up to the model's full height reads as something
        # else; its size within the cell is the information. Keep the crop's height.
        r0, r1 = 0, h
        height = h
    frac = _PAD_CHAR if single else _PAD_LINE
    pad = max(4, int(height * frac))
    bordered = cv2.copyMakeBorder(out[r0:r1, c0:c1], pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255)
    return np.asarray(bordered, dtype=np.uint8)
