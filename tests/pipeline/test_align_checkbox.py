"""Alignment of synthetic scans to a rendered template, and checkbox ink reading."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from workers.pipeline.align import align_page, is_blank_page
from workers.pipeline.checkbox import read_checkbox
from workers.pipeline.raster import render_template

DPI = 100


def _distort(image: np.ndarray, *, angle: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    h, w = image.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    matrix[:, 2] += np.asarray(shift, dtype=np.float64)
    return cv2.warpAffine(image, matrix, (w, h), borderValue=255)


@pytest.fixture(scope="module")
def template(template_pdf: bytes) -> np.ndarray:
    return render_template(template_pdf, dpi=DPI)[0]


def _mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    inner = (slice(40, -40), slice(40, -40))
    return float(np.mean(np.abs(a[inner].astype(int) - b[inner].astype(int))))


@pytest.mark.parametrize(("angle", "scale", "shift"), [(2.5, 1.02, (12.0, -9.0)), (-4.0, 0.97, (-15.0, 6.0))])
def test_alignment_recovers_rotation_shift_scale(
    template: np.ndarray, angle: float, scale: float, shift: tuple[float, float]
) -> None:
    """GIVEN the template rotated, scaled and shifted WHEN aligned THEN it lands back within ~1 px."""
    scan = _distort(template, angle=angle, scale=scale, shift=shift)
    result = align_page(scan, template)
    assert result.ok and result.warped is not None
    assert result.residual_px is not None and result.residual_px < 2.0
    assert abs(abs(result.rotation_deg) - abs(angle)) < 0.5
    assert _mean_abs_diff(result.warped, template) < 0.5 * _mean_abs_diff(scan, template)


def test_upside_down_page_is_fixed(template: np.ndarray) -> None:
    """GIVEN the template turned 180° (plus a small tilt) WHEN aligned THEN the warped page matches the template."""
    scan = _distort(cv2.rotate(template, cv2.ROTATE_180), angle=1.0, scale=1.0, shift=(5.0, 5.0))
    result = align_page(scan, template)
    assert result.ok and result.warped is not None
    assert result.orientation == 180 and abs(abs(result.rotation_deg) - 1.0) < 0.5
    assert _mean_abs_diff(result.warped, template) < 0.5 * _mean_abs_diff(scan, template)


def test_blank_page_is_rejected_and_detected(template: np.ndarray) -> None:
    """GIVEN a white sheet with light noise WHEN aligned THEN not ok with a Japanese reason; and it is blank."""
    rng = np.random.default_rng(1)
    blank = np.clip(245 + rng.normal(0, 3, template.shape), 0, 255).astype(np.uint8)
    result = align_page(blank, template)
    assert not result.ok and result.warped is None and result.reason
    assert is_blank_page(blank) and not is_blank_page(template)


def test_unrelated_image_is_rejected(template: np.ndarray) -> None:
    """GIVEN random dark blobs (not the form) WHEN aligned THEN the page is reported, not warped."""
    rng = np.random.default_rng(2)
    noise = np.full(template.shape, 255, np.uint8)
    for _ in range(400):
        x, y = int(rng.integers(0, template.shape[1])), int(rng.integers(0, template.shape[0]))
        cv2.circle(noise, (x, y), int(rng.integers(2, 12)), int(rng.integers(0, 120)), -1)
    result = align_page(noise, template)
    assert not result.ok and result.warped is None and result.reason


def _box(mark: str) -> np.ndarray:
    """A 40x40 crop whose printed border has already been dropped, with an optional mark."""
    image = np.full((40, 40), 250, np.uint8)
    if mark == "tick":
        cv2.line(image, (10, 22), (17, 30), 20, 3)
        cv2.line(image, (17, 30), (31, 9), 20, 3)
    elif mark == "dust":
        image[20, 20] = 0
    return image


def test_ticked_box_is_checked() -> None:
    """GIVEN a box with a ✓ WHEN read THEN checked with high confidence."""
    result = read_checkbox(_box("tick"))
    assert result.checked and result.confidence > 0.9


def test_empty_box_with_dust_is_unchecked() -> None:
    """GIVEN an empty box with one dust pixel WHEN read THEN unchecked with high confidence."""
    result = read_checkbox(_box("dust"))
    assert not result.checked and result.confidence > 0.9


def test_confidence_falls_near_threshold() -> None:
    """GIVEN ink just at the threshold WHEN read THEN confidence is close to 0.5."""
    image = np.full((40, 40), 250, np.uint8)
    image[12:16, 12:21] = 0
    ratio = read_checkbox(image).ink_ratio
    near = read_checkbox(image, threshold=ratio * 1.05)
    far = read_checkbox(image, threshold=ratio * 4)
    assert near.confidence < 0.6 < far.confidence
