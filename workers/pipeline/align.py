"""Align a scanned page onto its blank template page.

Scans arrive rotated a few degrees, scaled by a few percent, shifted by
millimetres and sometimes upside down. Field boxes are defined on the template,
so every scan is warped into template pixel coordinates first.

Method: ORB keypoints on both images, ratio-test matching, then a RANSAC
*similarity* transform (rotation + uniform scale + shift). A similarity has
four degrees of freedom, so it is far harder for RANSAC to fit to wrong matches
than a homography, and a flatbed scan really is a similarity. ORB descriptors
are rotation invariant, so the same fit also recovers 90/180/270° pages; no
separate orientation pass is needed. Remaining local error (a pixel or two)
is corrected per field in :mod:`workers.pipeline.page`.

A page that cannot be aligned with confidence is reported (``ok=False`` with a
Japanese reason), never warped into garbage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["AlignResult", "align_page", "is_blank_page"]

_MATCH_WIDTH = 1100
"""Images are matched at about this width: enough detail for ORB on A4, and fast."""


@dataclass(frozen=True)
class AlignResult:
    """Outcome of aligning one scanned page to its template.

    Attributes:
        ok: the page was aligned with confidence.
        warped: the scan in template pixel coordinates (template shape), or None.
        matrix: 2x3 affine matrix mapping scan pixels to template pixels, or None.
        inliers: RANSAC inlier count.
        inlier_ratio: inliers / ratio-test matches.
        residual_px: RMS reprojection error of the inliers, in template pixels.
        rotation_deg: rotation of the scan relative to the template.
        scale: scale of the scan relative to the template.
        reason: Japanese explanation when ``ok`` is False.
    """

    ok: bool
    warped: np.ndarray | None
    matrix: np.ndarray | None
    inliers: int
    inlier_ratio: float
    residual_px: float | None
    rotation_deg: float
    scale: float
    reason: str | None = None


def is_blank_page(image: np.ndarray, *, ink_threshold: int = 128, max_ink_ratio: float = 0.002) -> bool:
    """Tell whether a page carries (almost) no ink at all.

    Args:
        image: grayscale page.
        ink_threshold: pixels darker than this count as ink.
        max_ink_ratio: a page with a smaller share of ink pixels is blank.

    Returns:
        True for an empty sheet (a scanned back side, a separator page).
    """
    small = cv2.resize(image, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    # Ignore a 3% frame: scanner lids and paper edges are dark but are not content.
    h, w = small.shape
    inner = small[int(h * 0.03) : int(h * 0.97), int(w * 0.03) : int(w * 0.97)]
    return float(np.mean(inner < ink_threshold)) < max_ink_ratio


def _prepare(image: np.ndarray, factor: float) -> np.ndarray:
    small = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    # Smoothing evens out 1-bit and JPEG noise so the same corners fire on scan and template.
    return cv2.GaussianBlur(small, (3, 3), 0)


def _features(image: np.ndarray, n_features: int) -> tuple[list[cv2.KeyPoint], np.ndarray | None]:
    orb = cv2.ORB.create(nfeatures=n_features, scaleFactor=1.2, nlevels=8, fastThreshold=10)
    keypoints, descriptors = orb.detectAndCompute(image, None)
    return list(keypoints), descriptors


def _fail(reason: str, inliers: int = 0, ratio: float = 0.0) -> AlignResult:
    return AlignResult(False, None, None, inliers, ratio, None, 0.0, 0.0, reason)


def align_page(
    scan: np.ndarray,
    template: np.ndarray,
    *,
    min_inliers: int = 40,
    min_inlier_ratio: float = 0.08,
    max_residual_px: float = 4.0,
    max_scale_error: float = 0.15,
    n_features: int = 6000,
) -> AlignResult:
    """Warp ``scan`` into the pixel frame of ``template`` (both grayscale, same dpi).

    Args:
        scan: the scanned page.
        template: the blank template page rendered at the same dpi.
        min_inliers: reject fits with fewer RANSAC inliers.
        min_inlier_ratio: reject fits where inliers / matches is lower.
        max_residual_px: reject fits whose inlier RMS error (template px) is higher.
        max_scale_error: reject fits whose scale is further than this from 1.
        n_features: ORB keypoints per image.

    Returns:
        an :class:`AlignResult`; ``warped`` is set only when ``ok``.
    """
    factor = min(1.0, _MATCH_WIDTH / float(template.shape[1]))
    kp_t, des_t = _features(_prepare(template, factor), n_features)
    kp_s, des_s = _features(_prepare(scan, factor), n_features)
    if des_t is None or des_s is None or len(kp_s) < min_inliers:
        return _fail("用紙の特徴点が見つかりません（白紙または別の帳票の可能性）")

    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(des_s, des_t, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.8 * p[1].distance]
    if len(good) < min_inliers:
        return _fail(f"テンプレートと一致する箇所が少なすぎます（{len(good)}点）。別の帳票の可能性があります")

    src = np.array([kp_s[m.queryIdx].pt for m in good], dtype=np.float32) / factor
    dst = np.array([kp_t[m.trainIdx].pt for m in good], dtype=np.float32) / factor
    ransac_px = 3.0 / factor
    matrix, mask = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=ransac_px, maxIters=4000, confidence=0.999
    )
    if matrix is None or mask is None:
        return _fail("位置合わせの変換を推定できません")
    inlier_mask = mask.ravel().astype(bool)
    inliers = int(inlier_mask.sum())
    ratio = inliers / float(len(good))
    if inliers < min_inliers or ratio < min_inlier_ratio:
        return _fail(
            f"テンプレートとの一致点が不足しています（{inliers}点、{ratio:.0%}）。別の帳票か読み取り不良の可能性があります",
            inliers,
            ratio,
        )

    # No full-affine refinement: on dev scans an LMEDS affine on the inliers drifted by up to
    # 7 px at the page bottom, while the similarity stays within ~1 px everywhere.
    scale = math.sqrt(abs(float(np.linalg.det(matrix[:, :2]))))
    rotation = math.degrees(math.atan2(float(matrix[1, 0]), float(matrix[0, 0])))
    projected = src[inlier_mask] @ matrix[:, :2].T + matrix[:, 2]
    residual = float(np.sqrt(np.mean(np.sum((projected - dst[inlier_mask]) ** 2, axis=1))))
    if abs(scale - 1.0) > max_scale_error:
        return _fail(
            f"用紙の倍率が想定外です（{scale:.2f}倍）。解像度や用紙サイズを確認してください", inliers, ratio
        )
    if residual > max_residual_px:
        return _fail(f"位置合わせの誤差が大きすぎます（{residual:.1f}ピクセル）", inliers, ratio)

    height, width = template.shape[:2]
    warped = cv2.warpAffine(
        scan, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=255
    )
    return AlignResult(True, warped, matrix, inliers, ratio, residual, rotation, scale)
