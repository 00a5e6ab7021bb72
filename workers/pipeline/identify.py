"""Form identification: which published layout (and which of its pages) does a scanned page show?

An upload that names no form is read page by page: every page is matched
against every template page of the organisation's published layouts, and the
layout whose template explains the most feature matches with one geometric
transform wins. Municipal forms share fonts, ruling styles and boilerplate,
so a wrong template also collects a few consistent matches; what separates
the right one is the *margin* over the runner-up. A page whose best candidate
is weak, or not clearly better than the second, is reported ``unidentified``
for a person to look at — reading it with a guessed layout would produce
confident garbage.

Template features are cached per template content (see
:func:`workers.pipeline.align.template_features`), and the scan's features
are computed once and reused for the alignment of the chosen layout.

This module reads one page; the loop over a document's pages is
:func:`workers.pipeline.document.read_pages`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ocr_service.forms.layout import FormLayout
from workers.pipeline.align import PageFeatures, match_features, page_features, template_features
from workers.pipeline.blank import is_blank_page
from workers.pipeline.page import BLANK_REASON, PagePipeline
from workers.pipeline.raster import render_template
from workers.pipeline.types import PageReading

__all__ = [
    "Identification",
    "LayoutCandidate",
    "candidates_for",
    "identify_page",
    "read_unknown_page",
]

_IDENTIFY_KEYPOINTS = 2000
UNIDENTIFIED_REASON = "登録されている様式のいずれとも一致しません（様式を特定できません）。確認してください"


@dataclass(frozen=True)
class LayoutCandidate:
    """One template page a scanned page may show."""

    key: str
    """Caller's id of the layout version (a form_definitions id, or a layout code in evaluation)."""
    layout: FormLayout
    page: int
    """1-based page of the layout."""
    template: np.ndarray
    """The blank template page, grayscale, at the pipeline's dpi."""


@dataclass(frozen=True)
class Identification:
    """Result of identifying one page.

    Attributes:
        candidate: the chosen template page, or None (unidentified).
        score: in [0, 1]: the margin of the best candidate over the runner-up
            (1 - runner_up / inliers), damped when the best has few inliers.
        inliers: RANSAC inliers of the best candidate.
        runner_up: inliers of the best candidate of another layout page.
        features: the scan's features (reused for alignment).
        reason: Japanese reason when unidentified.
    """

    candidate: LayoutCandidate | None
    score: float
    inliers: int
    runner_up: int
    features: PageFeatures | None
    reason: str | None = None


def candidates_for(*, key: str, layout: FormLayout, template_pdf: bytes, dpi: int) -> list[LayoutCandidate]:
    """All pages of one layout as identification candidates."""
    templates = render_template(template_pdf, dpi=dpi)
    return [
        LayoutCandidate(key=key, layout=layout, page=page, template=templates[page - 1])
        for page in range(1, min(layout.pages, len(templates)) + 1)
    ]


def identify_page(
    image: np.ndarray,
    candidates: Sequence[LayoutCandidate],
    *,
    min_inliers: int = 25,
    min_inlier_ratio: float = 0.08,
    min_score: float = 0.5,
) -> Identification:
    """Pick the template page that ``image`` shows, or none.

    Args:
        image: the grayscale scan (same dpi as the candidates' templates).
        candidates: every template page allowed for this upload.
        min_inliers: the best candidate needs at least this many RANSAC inliers
            (among the strongest keypoints of the scan; the alignment then checks its own).
        min_inlier_ratio: and this share of its ratio-test matches.
        min_score: and at least this score (0.5: twice the runner-up's inliers).

    Returns:
        an :class:`Identification`.
    """
    features: dict[float, PageFeatures] = {}
    scored: list[tuple[int, float, LayoutCandidate]] = []
    for candidate in candidates:
        tf = template_features(candidate.template)
        sf = features.get(tf.factor)
        if sf is None:
            sf = features[tf.factor] = page_features(image, factor=tf.factor)
        # A third of the scan's keypoints: matching is the cost that grows with the number of
        # forms, and the right template still wins by a wide margin (dev: >150 vs <10 inliers).
        fit = match_features(sf.strongest(_IDENTIFY_KEYPOINTS), tf)
        scored.append((fit.inliers, fit.inlier_ratio, candidate))
    if not scored:
        return Identification(None, 0.0, 0, 0, None, "この組織には公開済みの様式がありません")
    scored.sort(key=lambda row: row[0], reverse=True)
    best_inliers, best_ratio, best = scored[0]
    runner_up = scored[1][0] if len(scored) > 1 else 0
    margin = 1.0 - runner_up / best_inliers if best_inliers else 0.0
    # Few inliers make even a clear margin unconvincing (a page matching 45 points
    # vs 5 is less sure than 400 vs 50): damp the score below 2 x min_inliers.
    score = margin * min(1.0, best_inliers / (2.0 * min_inliers))
    chosen_features = next(iter(features.values())) if len(features) == 1 else None
    if best_inliers < min_inliers or best_ratio < min_inlier_ratio or score < min_score:
        return Identification(None, score, best_inliers, runner_up, chosen_features, UNIDENTIFIED_REASON)
    tf = template_features(best.template)
    return Identification(best, score, best_inliers, runner_up, features.get(tf.factor))


def read_unknown_page(
    pipeline: PagePipeline, image: np.ndarray, *, candidates: Sequence[LayoutCandidate], page_no: int
) -> PageReading:
    """Blank check, identification, then the ordinary reading with the chosen layout page."""
    if is_blank_page(image, dpi=pipeline.dpi):
        return PageReading(page_no=page_no, status="blank", reason=BLANK_REASON)
    found = identify_page(image, candidates)
    if found.candidate is None:
        return PageReading(
            page_no=page_no,
            status="unidentified",
            reason=found.reason,
            inliers=found.inliers,
            identify_score=round(found.score, 4),
        )
    chosen = found.candidate
    reading = pipeline.process_page(
        image,
        layout=chosen.layout,
        layout_page=chosen.page,
        page_no=page_no,
        template_image=chosen.template,
        scan_features=found.features,
    )
    return replace(
        reading, form_key=chosen.key, layout_page=chosen.page, identify_score=round(found.score, 4)
    )

