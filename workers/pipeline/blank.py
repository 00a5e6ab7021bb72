"""Blank page detection (白紙の裏面, separator sheets).

Duplex scanners deliver the empty back of every sheet. Such a page must be
skipped and reported, not failed, but a back page that carries a short note
must not be thrown away. "Empty" therefore means: no mark the size of a
written stroke. Scanner noise, dust specks and JPEG ringing are small; text
seen through thin paper (bleed-through) is faint. Both are discounted:

* the page is compared with its own paper level (a dim grey scan is not ink);
* only clearly dark pixels count, so bleed-through (a light grey mirror image)
  does not;
* isolated specks are removed by an opening, and what is left must form a
  blob at least a few millimetres across to count as writing.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["is_blank_page"]

_WORK_DPI = 100.0
"""Pages are judged at about this resolution (an A4 page is ~830x1170 px)."""


def is_blank_page(image: np.ndarray, *, dpi: float = 200.0, min_mark_mm: float = 3.0) -> bool:
    """Tell whether a page carries no writing or print at all.

    Args:
        image: grayscale page.
        dpi: resolution of ``image``.
        min_mark_mm: the smallest mark (its longer side) that makes a page non-blank;
            a handwritten character is 4 mm or more, a dust speck well under 1 mm.

    Returns:
        True for an empty sheet (a scanned back side, a separator page).
    """
    factor = min(1.0, _WORK_DPI / dpi)
    small = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    # Ignore a 4 % frame: scanner lids, punched holes and paper edges are dark but are not content.
    h, w = small.shape[:2]
    inner = small[int(h * 0.04) : int(h * 0.96), int(w * 0.04) : int(w * 0.96)]
    if inner.size == 0:
        return True
    paper = float(np.percentile(inner, 75))
    # Ink is at least ~45 % darker than the paper; bleed-through and shadows are lighter than that.
    dark = (inner < paper * 0.55).astype(np.uint8)
    if not dark.any():
        return True
    count, _labels, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
    if count <= 1:
        return True
    px_per_mm = dpi * factor / 25.4
    extent = np.maximum(stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT]) / px_per_mm
    area = stats[1:, cv2.CC_STAT_AREA]
    # A stroke blob is long; a speck of dust is short. Tiny blobs (1-2 px at this scale) are noise.
    marks = (extent >= min_mark_mm) & (area >= 3)
    return not bool(marks.any())
