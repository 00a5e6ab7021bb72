"""Line-crop normalisation: printed rules go, writing stays, a written 1 on an underline survives."""

from __future__ import annotations

import cv2
import numpy as np

from workers.pipeline.linecrop import (
    close_gaps,
    firm_thin_character,
    prepare_line,
    single_glyph,
    stroke_width,
)
from workers.pipeline.recognizer import TextResult, prefer_restored


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


def _skewed(image: np.ndarray, degrees: float) -> np.ndarray:
    h, w = image.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_NEAREST, borderValue=235)


def test_a_skewed_box_is_removed_whole_corners_and_walls_included() -> None:
    """GIVEN the boxed digits scanned 0.8° askew (no pixel row holds the whole rule: dev lines read its
    corners as 「 」) WHEN prepared THEN neither the rules nor the walls remain: the ink left spans
    only the writing's columns and no column is inked over the box height."""
    out = prepare_line(_skewed(_boxed_digits(), 0.8))
    ink = out < 128
    assert out.shape[1] < 300 and out.shape[0] < 100
    assert ink.sum(axis=1).max() < out.shape[1] * 0.6
    columns = np.flatnonzero(ink.any(axis=0))
    # The two digits and nothing at the far ends (a wall stub would sit at the crop's edge).
    assert columns[0] > 3 and columns[-1] < out.shape[1] - 4


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


def _blocks(spans: list[tuple[int, int]], *, width: int, rows: tuple[int, int] = (5, 43)) -> np.ndarray:
    """A 48-px line with solid ink blocks in the given column spans (each ``rows`` tall)."""
    image = np.full((48, width), 255, dtype=np.uint8)
    for start, end in spans:
        image[rows[0] : rows[1], start:end] = 0
    return image


def test_a_name_gap_is_narrowed_to_a_letter_spacing() -> None:
    """GIVEN イイダ　コトネ as blocks 4 px apart with a 24 px gap between the names (ink 38 px tall)
    WHEN gaps are closed THEN only that gap shrinks, to about 0.3 of the ink height."""
    names = [(0, 20), (24, 44), (48, 68), (92, 112), (116, 136), (140, 160)]
    line = _blocks(names, width=160)
    closed = close_gaps(line)
    assert closed.shape[1] == 160 - 24 + int(0.3 * 38)
    ink = (closed < 128).any(axis=0)
    runs = np.diff(np.flatnonzero(ink)) - 1
    assert sorted(runs[runs > 0].tolist()) == [4, 4, 4, 4, int(0.3 * 38)]


def test_evenly_spaced_writing_and_frame_remnants_are_left_alone() -> None:
    """GIVEN handwriting with wide but even spacing (アイウエオ), and a word followed far away by a
    flat remnant of the box WHEN gaps are closed THEN both lines come back unchanged (same object)."""
    even = _blocks([(0, 30), (50, 80), (100, 130), (150, 180), (200, 230)], width=230)
    assert close_gaps(even) is even
    remnant = _blocks([(0, 30), (34, 64)], width=200)
    remnant[40:43, 180:200] = 0
    assert close_gaps(remnant) is remnant


def test_the_narrowed_reading_wins_only_when_it_restores_characters() -> None:
    """GIVEN the readings of a line as written and with its gap narrowed
    WHEN one is chosen THEN the narrowed one only if it is longer (characters came back)."""
    written = TextResult("イイダネ", [0.9] * 4, 0.9)
    restored = TextResult("イイダコトネ", [0.9] * 6, 0.9)
    moved = TextResult("イイグネ", [0.95] * 4, 0.95)
    assert prefer_restored(written, restored) is restored
    assert prefer_restored(written, moved) is written


def test_a_longer_narrowed_reading_both_lines_find_far_less_likely_is_refused() -> None:
    """GIVEN a narrowed reading with one kana more (a ゛ and the gap read as じ) WHEN both lines find it
    21 nats less likely THEN the line as written wins; 4 nats less likely (a kana restored where the
    as-written line dropped it) THEN the narrowed one still does."""
    written = TextResult("よしだまさる", [0.9] * 6, 0.9)
    joined = TextResult("よしだじまさる", [0.9] * 7, 0.9)
    assert prefer_restored(written, joined, log_likelihoods=(-1.7, -23.1)) is written
    assert prefer_restored(written, joined, log_likelihoods=(-4.1, -8.3)) is joined


def _drawn(width: int, stroke: int, height: int = 48) -> np.ndarray:
    line = np.full((height, width), 255, dtype=np.uint8)
    cv2.rectangle(line, (8, 8), (width - 9, height - 9), 0, stroke)
    cv2.line(line, (8, height // 2), (width - 9, height // 2), 0, stroke)
    return line


def test_a_thin_lone_character_is_firmed_and_lines_and_firm_strokes_are_left_alone() -> None:
    """GIVEN a lone character drawn with 1-px strokes at the model height WHEN firmed THEN its
    strokes are a pixel thicker; GIVEN 4-px strokes, a thin line of writing, or no ink THEN the
    very same image comes back."""
    thin = _drawn(60, 1)
    firmed = firm_thin_character(thin)
    assert firmed is not thin and firmed.shape == thin.shape
    assert stroke_width(firmed) > stroke_width(thin) + 0.5
    assert np.count_nonzero(firmed < 128) > 1.5 * np.count_nonzero(thin < 128)
    for unchanged in (_drawn(60, 4), _drawn(200, 1), np.full((48, 60), 255, dtype=np.uint8)):
        assert firm_thin_character(unchanged) is unchanged


def test_a_single_glyph_is_one_connected_stroke_not_much_wider_than_high() -> None:
    """GIVEN one ring, two rings side by side, and one ring twice as wide as high
    WHEN asked whether each is a single glyph THEN only the first is; blank paper is none."""
    one = np.full((48, 40), 255, dtype=np.uint8)
    cv2.rectangle(one, (6, 6), (33, 41), 0, 3)
    two = np.full((48, 80), 255, dtype=np.uint8)
    cv2.rectangle(two, (6, 6), (33, 41), 0, 3)
    cv2.rectangle(two, (44, 6), (71, 41), 0, 3)
    wide = np.full((48, 100), 255, dtype=np.uint8)
    cv2.rectangle(wide, (6, 10), (93, 37), 0, 3)
    speck = one.copy()
    speck[2:4, 2:4] = 0
    assert single_glyph(one) and single_glyph(speck)
    assert not single_glyph(two)
    assert not single_glyph(wide)
    assert not single_glyph(np.full((48, 40), 255, dtype=np.uint8))
