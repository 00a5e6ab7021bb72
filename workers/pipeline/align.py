"""Align a scanned page onto its blank template page.

Scans arrive turned by 90/180/270°, skewed a few degrees, scaled by a few
percent, shifted by millimetres. Field boxes are defined on the template, so
every scan is warped into template pixel coordinates first. Three steps:

1. *Coarse fit*: ORB keypoints on both images (at ~1100 px width), ratio-test
   matching, a RANSAC *similarity* (rotation + uniform scale + shift). A
   similarity has four degrees of freedom, so RANSAC rarely fits it to wrong
   matches, and a flatbed scan really is one. ORB descriptors are rotation
   invariant, so the fit works on pages in any orientation.
2. *Orientation*: the fitted rotation is snapped to a quarter turn, the scan is
   turned losslessly (``np.rot90``) and the similarity is expressed for the
   upright page; what remains must be a scanner skew (a few degrees), otherwise
   the fit is rejected as implausible.
3. *Refinement and residual*: the warped page is compared with the template
   in a grid of local windows (printed lines only). Their offsets are the
   page's residual error. Where it pays (offsets above a pixel), a homography
   is fitted to the window correspondences and kept only if it lowers the
   residual — paper that bent in the feeder is not a similarity.

A page that cannot be aligned with confidence is reported (``ok=False`` with a
Japanese reason), never warped into garbage; one whose residual stays high, or where
most of the template's windows are no longer found, is aligned but marked ``doubtful``
for the reviewer.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np

from workers.pipeline.blank import is_blank_page

__all__ = [
    "AlignResult",
    "FeatureMatch",
    "PageFeatures",
    "align_page",
    "is_blank_page",
    "match_features",
    "page_features",
    "template_features",
]

_MATCH_WIDTH = 1100
"""Images are matched at about this width: enough detail for ORB on A4, and fast."""
_N_FEATURES = 6000
_ALIGN_KEYPOINTS = 3000
"""The scan's strongest keypoints matched for the coarse fit (all of the template's). Brute-force
matching costs scan × template descriptors: with all 6000 it took 75 ms a page; with 3000 the dev
pages keep 380–860 inliers (568–1304 with all), the window residual after the fit is the same
(mean 0.37 px, max 0.85 vs 0.88), and align_page takes 59 instead of 101 ms a page."""
_MAX_SKEW_DEG = 10.0
"""After the quarter turn is removed, a real scan is skewed by a few degrees at most."""
_DOUBTFUL_RESIDUAL_PX = 2.5
"""Window RMS offset (at 200 dpi) above which the reviewer is told the alignment is doubtful."""
_CONFIRMED_SHARE = 0.5
"""...and the share of the template's structured windows that must be found in the warped scan
(every dev page finds at least 15 of 16 or 21 of 23; a test page bent by a 6 px wave, 3 of 15)."""
_MIN_WINDOWS = 4
"""A template with fewer structured windows than this is not judged by the share found."""


@dataclass(frozen=True)
class PageFeatures:
    """ORB keypoints of one image, with point coordinates in full-resolution pixels."""

    points: np.ndarray
    descriptors: np.ndarray | None
    shape: tuple[int, int]
    factor: float
    strength: np.ndarray | None = None
    """ORB response per keypoint (strongest corners first when subsetting)."""

    def strongest(self, count: int) -> PageFeatures:
        """The ``count`` strongest keypoints: a quicker, still discriminative match for identification."""
        if self.descriptors is None or self.strength is None or len(self.points) <= count:
            return self
        keep = np.argsort(-self.strength)[:count]
        return PageFeatures(
            self.points[keep], self.descriptors[keep], self.shape, self.factor, self.strength[keep]
        )


@dataclass(frozen=True)
class FeatureMatch:
    """A RANSAC similarity between a scan and a template (scan px -> template px)."""

    matrix: np.ndarray | None
    inliers: int
    matches: int
    residual_px: float | None

    @property
    def inlier_ratio(self) -> float:
        return self.inliers / float(self.matches) if self.matches else 0.0


@dataclass(frozen=True)
class AlignResult:
    """Outcome of aligning one scanned page to its template.

    Attributes:
        ok: the page was aligned with confidence.
        warped: the scan in template pixel coordinates (template shape), or None.
        matrix: 3x3 homography mapping (upright) scan pixels to template pixels, or None.
        inliers: RANSAC inlier count.
        inlier_ratio: inliers / ratio-test matches.
        residual_px: RMS offset of the local windows after warping (template px at the
            working dpi); falls back to the RANSAC inlier RMS when no window could be measured.
        rotation_deg: skew of the upright scan relative to the template.
        scale: scale of the scan relative to the template.
        orientation: quarter turn (0/90/180/270, counter-clockwise) that was undone.
        refined: a homography refinement was applied.
        doubtful: aligned, but the residual is high enough that the reviewer should look.
        reason: Japanese explanation when not ``ok`` or ``doubtful``.
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
    orientation: int = 0
    refined: bool = False
    doubtful: bool = False
    max_residual_px: float | None = None


def _prepare(image: np.ndarray, factor: float) -> np.ndarray:
    small = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    # Smoothing evens out 1-bit and JPEG noise so the same corners fire on scan and template.
    return cv2.GaussianBlur(small, (3, 3), 0)


def page_features(image: np.ndarray, *, factor: float, n_features: int = _N_FEATURES) -> PageFeatures:
    """ORB features of ``image`` detected at ``factor`` of its size."""
    orb = cv2.ORB.create(nfeatures=n_features, scaleFactor=1.2, nlevels=8, fastThreshold=10)
    keypoints, descriptors = orb.detectAndCompute(_prepare(image, factor), None)
    points = np.array([kp.pt for kp in keypoints], dtype=np.float32).reshape(-1, 2) / factor
    strength = np.array([kp.response for kp in keypoints], dtype=np.float32)
    return PageFeatures(points, descriptors, (int(image.shape[0]), int(image.shape[1])), factor, strength)


def match_factor(template: np.ndarray) -> float:
    return min(1.0, _MATCH_WIDTH / float(template.shape[1]))


_CACHE: OrderedDict[tuple[str, tuple[int, ...]], PageFeatures] = OrderedDict()
_CACHE_SIZE = 64
_CACHE_LOCK = threading.Lock()


def template_features(template: np.ndarray) -> PageFeatures:
    """Features of a template page, cached per content: identification compares every page with them."""
    key = (hashlib.blake2b(np.ascontiguousarray(template).data, digest_size=16).hexdigest(), template.shape)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    features = page_features(template, factor=match_factor(template))
    with _CACHE_LOCK:
        _CACHE[key] = features
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return features


def match_features(scan: PageFeatures, template: PageFeatures, *, ratio: float = 0.8) -> FeatureMatch:
    """Ratio-test matches and a RANSAC similarity from scan to template pixels."""
    if scan.descriptors is None or template.descriptors is None or len(scan.points) < 8:
        return FeatureMatch(None, 0, 0, None)
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(scan.descriptors, template.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < ratio * p[1].distance]
    if len(good) < 8:
        return FeatureMatch(None, 0, len(good), None)
    src = scan.points[[m.queryIdx for m in good]]
    dst = template.points[[m.trainIdx for m in good]]
    matrix, mask = cv2.estimateAffinePartial2D(
        src,
        dst,
        method=cv2.RANSAC,
        ransacReprojThreshold=3.0 / template.factor,
        maxIters=4000,
        confidence=0.999,
    )
    if matrix is None or mask is None:
        return FeatureMatch(None, 0, len(good), None)
    inlier = mask.ravel().astype(bool)
    projected = src[inlier] @ matrix[:, :2].T + matrix[:, 2]
    residual = (
        float(np.sqrt(np.mean(np.sum((projected - dst[inlier]) ** 2, axis=1)))) if inlier.any() else None
    )
    return FeatureMatch(matrix, int(inlier.sum()), len(good), residual)


def _fail(reason: str, inliers: int = 0, ratio: float = 0.0) -> AlignResult:
    return AlignResult(False, None, None, inliers, ratio, None, 0.0, 0.0, reason)


def _rot90_matrix(quarter: int, shape: tuple[int, int]) -> np.ndarray:
    """3x3 map from original scan pixels to pixels of ``np.rot90(scan, quarter)``."""
    h, w = shape
    if quarter == 1:  # counter-clockwise: (x, y) -> (y, w - 1 - x)
        return np.array([[0, 1, 0], [-1, 0, w - 1], [0, 0, 1]], dtype=np.float64)
    if quarter == 2:
        return np.array([[-1, 0, w - 1], [0, -1, h - 1], [0, 0, 1]], dtype=np.float64)
    if quarter == 3:  # clockwise: (x, y) -> (h - 1 - y, x)
        return np.array([[0, -1, h - 1], [1, 0, 0], [0, 0, 1]], dtype=np.float64)
    return np.eye(3)


def align_page(
    scan: np.ndarray,
    template: np.ndarray,
    *,
    scan_features: PageFeatures | None = None,
    min_inliers: int = 40,
    min_inlier_ratio: float = 0.08,
    max_residual_px: float = 4.0,
    max_scale_error: float = 0.15,
    dpi: int = 200,
) -> AlignResult:
    """Warp ``scan`` into the pixel frame of ``template`` (both grayscale, same dpi).

    Args:
        scan: the scanned page.
        template: the blank template page rendered at the same dpi.
        scan_features: features of ``scan`` already computed (identification does), or None.
        min_inliers: reject fits with fewer RANSAC inliers.
        min_inlier_ratio: reject fits where inliers / matches is lower.
        max_residual_px: reject fits whose inlier RMS error (template px) is higher.
        max_scale_error: reject fits whose scale is further than this from 1.
        dpi: resolution of both images (the doubtful threshold scales with it).

    Returns:
        an :class:`AlignResult`; ``warped`` is set only when ``ok``.
    """
    tf = template_features(template)
    sf = scan_features if scan_features is not None else page_features(scan, factor=tf.factor)
    if tf.descriptors is None or sf.descriptors is None or len(sf.points) < min_inliers:
        return _fail("用紙の特徴点が見つかりません（白紙または別の帳票の可能性）")
    fit = match_features(sf.strongest(_ALIGN_KEYPOINTS), tf)
    if fit.matches < min_inliers:
        return _fail(
            f"テンプレートと一致する箇所が少なすぎます（{fit.matches}点）。別の帳票の可能性があります"
        )
    if fit.matrix is None:
        return _fail("位置合わせの変換を推定できません")
    ratio = fit.inlier_ratio
    if fit.inliers < min_inliers or ratio < min_inlier_ratio:
        return _fail(
            f"テンプレートとの一致点が不足しています（{fit.inliers}点、{ratio:.0%}）。別の帳票か読み取り不良の可能性があります",
            fit.inliers,
            ratio,
        )
    matrix = fit.matrix
    scale = math.sqrt(abs(float(np.linalg.det(matrix[:, :2]))))
    rotation = math.degrees(math.atan2(float(matrix[1, 0]), float(matrix[0, 0])))
    # Orientation: the similarity maps scan to template, so the scan is turned by -rotation.
    quarter = round(-rotation / 90.0) % 4
    skew = (rotation + 90.0 * quarter + 180.0) % 360.0 - 180.0
    if abs(skew) > _MAX_SKEW_DEG:
        return _fail(
            f"用紙の傾きが大きすぎます（{skew:.0f}度）。置き直して読み取ってください", fit.inliers, ratio
        )
    if abs(scale - 1.0) > max_scale_error:
        return _fail(
            f"用紙の倍率が想定外です（{scale:.2f}倍）。解像度や用紙サイズを確認してください",
            fit.inliers,
            ratio,
        )
    if fit.residual_px is not None and fit.residual_px > max_residual_px:
        return _fail(f"位置合わせの誤差が大きすぎます（{fit.residual_px:.1f}ピクセル）", fit.inliers, ratio)

    upright = np.ascontiguousarray(np.rot90(scan, quarter)) if quarter else scan
    full = np.vstack([matrix, [0.0, 0.0, 1.0]]) @ np.linalg.inv(_rot90_matrix(quarter, scan.shape[:2]))
    height, width = template.shape[:2]
    warped = _warp(upright, full, (width, height))
    windows = _structured_windows(template)
    offsets = _window_offsets(warped, template, windows)
    residual, worst = _rms(offsets)
    found = len(offsets)
    refined = False
    if residual is not None and residual > 1.0 * dpi / 200.0:
        better = _refine(offsets)
        if better is not None:
            candidate = better @ full
            cand_warped = _warp(upright, candidate, (width, height))
            cand_offsets = _window_offsets(cand_warped, template, windows)
            cand_res, cand_worst = _rms(cand_offsets)
            if cand_res is not None and cand_res < residual * 0.9:
                full, warped, residual, worst, refined = candidate, cand_warped, cand_res, cand_worst, True
                found = len(cand_offsets)
    if residual is None:
        residual, worst = fit.residual_px, fit.residual_px
    off = residual is not None and residual > _DOUBTFUL_RESIDUAL_PX * dpi / 200.0
    # Windows that no longer match cannot vouch for the fit: a page that bent in the feeder
    # leaves only a few, and their offsets alone look small.
    expected = len(windows)
    unconfirmed = expected >= _MIN_WINDOWS and found < _CONFIRMED_SHARE * expected
    doubtful = off or unconfirmed
    reason = None
    if off and residual is not None:
        reason = f"位置合わせの誤差が大きめです（平均{residual:.1f}ピクセル）。読取位置がずれている可能性があるため確認してください"
    elif unconfirmed:
        reason = (
            f"位置合わせを確かめられた箇所が少なすぎます（{found}/{expected}か所）。"
            "読取位置がずれている可能性があるため確認してください"
        )
    return AlignResult(
        True,
        warped,
        full,
        fit.inliers,
        ratio,
        residual,
        skew,
        scale,
        reason,
        orientation=quarter * 90,
        refined=refined,
        doubtful=doubtful,
        max_residual_px=worst,
    )


def _warp(image: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.warpPerspective(
        image, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=255
    )


def _structured_windows(template: np.ndarray, *, grid: tuple[int, int] = (6, 8)) -> list[tuple[int, int, int, int]]:
    """Grid windows ``(x0, y0, size, search radius)`` of ``template`` with printed structure in both
    directions (a lone horizontal rule fixes y but not x)."""
    h, w = template.shape[:2]
    win = max(48, int(min(h, w) / 10))
    radius = max(6, win // 8)
    windows: list[tuple[int, int, int, int]] = []
    cols_n, rows_n = grid
    for gy in range(rows_n):
        for gx in range(cols_n):
            x0 = int((gx + 0.5) * w / cols_n) - win // 2
            y0 = int((gy + 0.5) * h / rows_n) - win // 2
            if x0 - radius < 0 or y0 - radius < 0 or x0 + win + radius > w or y0 + win + radius > h:
                continue
            ink = template[y0 : y0 + win, x0 : x0 + win] < 160
            if ink.mean() < 0.01 or not (ink.any(axis=0).mean() > 0.3 and ink.any(axis=1).mean() > 0.3):
                continue
            windows.append((x0, y0, win, radius))
    return windows


def _window_offsets(
    warped: np.ndarray, template: np.ndarray, windows: list[tuple[int, int, int, int]]
) -> np.ndarray:
    """Rows of (x, y, dx, dy): where template window centre (x, y) is found in the warped scan.

    ``windows`` are the template's :func:`_structured_windows`; offsets are sub-pixel (parabola fit).
    """
    rows: list[tuple[float, float, float, float]] = []
    for x0, y0, win, radius in windows:
        cx, cy = x0 + win // 2, y0 + win // 2
        patch = template[y0 : y0 + win, x0 : x0 + win]
        search = warped[y0 - radius : y0 + win + radius, x0 - radius : x0 + win + radius]
        scores = cv2.matchTemplate(255 - search, 255 - patch, cv2.TM_CCOEFF_NORMED)
        _, best, _, (bx, by) = cv2.minMaxLoc(scores)
        if best < 0.5 or not (0 < bx < scores.shape[1] - 1 and 0 < by < scores.shape[0] - 1):
            continue
        dx = bx - radius + _parabola(scores[by, bx - 1 : bx + 2])
        dy = by - radius + _parabola(scores[by - 1 : by + 2, bx])
        rows.append((cx, cy, dx, dy))
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


def _parabola(values: np.ndarray) -> float:
    left, mid, right = (float(v) for v in values)
    denom = left - 2 * mid + right
    return 0.0 if abs(denom) < 1e-9 else max(-0.5, min(0.5, 0.5 * (left - right) / denom))


def _rms(offsets: np.ndarray) -> tuple[float | None, float | None]:
    if len(offsets) < 4:
        return None, None
    lengths = np.hypot(offsets[:, 2], offsets[:, 3])
    # The worst window is reported, but a single window locked onto a repeated
    # pattern must not dominate the page score: use the RMS of the best 90 %.
    kept = np.sort(lengths)[: max(4, int(len(lengths) * 0.9))]
    return float(np.sqrt(np.mean(kept**2))), float(lengths.max())


def _refine(offsets: np.ndarray) -> np.ndarray | None:
    """Homography taking the warped scan onto the template, from the window offsets."""
    if len(offsets) < 8:
        return None
    found = offsets[:, :2] + offsets[:, 2:]
    correction, mask = cv2.findHomography(found, offsets[:, :2], cv2.RANSAC, 1.5)
    if correction is None or mask is None or int(mask.sum()) < 8:
        return None
    return np.asarray(correction, dtype=np.float64)
