"""Line-crop normalisation: printed rules go, writing stays, a written 1 on an underline survives."""

from __future__ import annotations

import cv2
import numpy as np

from workers.pipeline.linecrop import prepare_line


def _boxed_digits(*, cells: int = 0) -> np.ndarray:
    image = np.full((120, 600), 235, dtype=np.uint8)
    cv2.rectangle(image, (20, 20), (580, 100), 0, 2)
    for c in range(1, cells):
        x = 20 + 560 * c // cells
        cv2.line(image, (x, 20), (x, 100), 0, 2)
    cv2.putText(image, "4 7", (60, 85), cv2.FONT_HERSHEY_SIMPLEX, 2.0, 30, 4)
    return image


def test_box_and_comb_walls_are_removed_and_crop_is_tight() -> None:
    """GIVEN digits in a printed comb box WHEN prepared THEN no long line remains and the crop hugs the ink."""
    out = prepare_line(_boxed_digits(cells=7))
    ink = out < 128
    assert out.shape[1] < 300 and out.shape[0] < 100
    # No column is inked over the whole writing height any more (walls were), and no row over the width.
    assert ink.any(axis=0).sum() > 0
    assert ink.sum(axis=1).max() < out.shape[1] * 0.6


def test_single_stroke_character_is_not_taken_for_a_rule() -> None:
    """GIVEN a lone horizontal stroke (一) and a vertical stroke (1) on an underline WHEN prepared
    THEN both strokes remain."""
    one = np.full((64, 64), 255, dtype=np.uint8)
    cv2.line(one, (6, 32), (58, 32), 0, 5)
    assert (prepare_line(one) < 128).sum() > 150
    stand = np.full((100, 400), 255, dtype=np.uint8)
    cv2.line(stand, (10, 90), (390, 90), 0, 2)
    cv2.line(stand, (200, 20), (200, 88), 0, 5)
    out = prepare_line(stand)
    assert (out < 128).sum() > 250
