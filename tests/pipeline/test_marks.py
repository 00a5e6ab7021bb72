"""Mark rules on small synthetic crops: strokes crossing printed lines, seals, circled choices."""

from __future__ import annotations

import cv2
import numpy as np

from workers.pipeline.checkbox import read_choice
from workers.pipeline.marks import bridge_crossings, line_slivers, seal_mask, strip_mask


def _components(mask: np.ndarray) -> int:
    count, _ = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    return int(count) - 1


def test_stroke_crossing_a_ruling_line_survives_dropout_but_the_line_does_not() -> None:
    """GIVEN a printed horizontal line (the template dropout) and a handwritten stroke crossing it,
    plus one stroke that only ends on the line
    WHEN the dropout is applied with crossings bridged
    THEN the crossing stroke is one piece, and the printed line away from the strokes is gone."""
    scan = np.zeros((60, 120), np.uint8)
    scan[28:31, :] = 1  # printed line, 3 px
    scan[5:55, 30:33] = 1  # stroke crossing it
    scan[5:29, 80:83] = 1  # stroke ending on it
    drop = np.zeros(scan.shape, bool)
    drop[27:32, :] = True  # dropout mask grown by a pixel
    keep = bridge_crossings(scan, drop, dpi=200)
    ink = scan.copy()
    ink[drop & ~keep] = 0
    assert _components(ink[:, :60]) == 1
    assert ink[28:31, 40:75].sum() == 0 and ink[28:31, 90:].sum() == 0
    assert ink[28:31, 80:83].sum() == 0  # nothing below the ending stroke to bridge to
    naive = scan.copy()
    naive[drop] = 0
    assert _components(naive[:, :60]) == 2  # what plain dropout would have done


def test_seal_ring_is_removed_but_a_written_zero_is_not() -> None:
    """GIVEN a field crop (box 40 px high) with a hollow ring 46 px tall containing 印, and a written 0
    WHEN seals are stripped THEN the ring and its content go, the 0 stays; without a ring nothing changes."""
    ink = np.zeros((52, 200), np.uint8)
    cv2.circle(ink, (150, 26), 23, 1, 2)
    ink[18:34, 144:156] = 1  # the 印 inside
    cv2.ellipse(ink, (40, 26), (9, 14), 0, 0, 360, 1, 2)  # a handwritten 0, 70 % of the box
    clean = np.where(ink > 0, 0, 255).astype(np.uint8)
    mask = seal_mask(ink, box_height=40)
    assert mask is not None
    stripped = strip_mask(ink, clean, mask)
    assert stripped.ink[:, 120:].sum() == 0 and stripped.ink[:, :60].sum() == ink[:, :60].sum()
    assert (stripped.clean[:, 120:] == 255).all() and stripped.extent >= 28
    only_zero = ink.copy()
    only_zero[:, 120:] = 0
    assert seal_mask(only_zero, box_height=40) is None


def test_sliver_along_a_printed_line_is_dropped_but_a_stroke_touching_it_is_kept() -> None:
    """GIVEN a dropout band with a 1 px sliver of the line left beside it, and a handwritten stroke
    ending on the line WHEN slivers are found THEN only the sliver is."""
    drop = np.zeros((40, 120), bool)
    drop[18:22, :] = True
    ink = np.zeros((40, 120), np.uint8)
    ink[22, 10:60] = 1  # sliver: the line's lower edge, one pixel of misregistration
    ink[22:36, 80:84] = 1  # stroke starting at the line
    found = line_slivers(ink, drop, dpi=200)
    assert found[22, 10:60].all() and not found[22:36, 80:84].any()


def _options() -> list[tuple[int, int, int, int]]:
    return [(20, 20, 60, 40), (80, 20, 120, 40), (140, 20, 180, 40)]


def test_circle_running_into_the_neighbour_selects_the_circled_option() -> None:
    """GIVEN a loose circle around the middle option that overlaps both neighbours' boxes
    WHEN read THEN the middle option, confidently, no problem."""
    ink = np.zeros((60, 200), np.uint8)
    cv2.ellipse(ink, (100, 30), (34, 16), 0, 0, 360, 1, 2)
    result = read_choice(ink, _options())
    assert result.index == 1 and result.problem is None and result.confidence > 0.8


def test_two_marked_options_are_ambiguous_and_a_faint_mark_is_flagged() -> None:
    """GIVEN ticks in two options WHEN read THEN no option, problem 'multiple';
    GIVEN only a short faint stroke in one option WHEN read THEN no option, problem 'faint';
    GIVEN nothing WHEN read THEN no option and no problem."""
    two = np.zeros((60, 200), np.uint8)
    cv2.line(two, (25, 30), (55, 25), 1, 3)
    cv2.line(two, (145, 30), (175, 25), 1, 3)
    assert read_choice(two, _options()).problem == "multiple"
    faint = np.zeros((60, 200), np.uint8)
    faint[29:31, 90:105] = 1
    result = read_choice(faint, _options())
    assert result.index is None and result.problem == "faint"
    empty = read_choice(np.zeros((60, 200), np.uint8), _options())
    assert empty.index is None and empty.problem is None
