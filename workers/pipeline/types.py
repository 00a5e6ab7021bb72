"""Data passed between the recognition pipeline and the services that store it.

The pipeline is pure: images and a layout in, readings out. It never touches
the database or the blob store; the Celery task and the CLI do that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from workers.pipeline.decoding import DecodeContext

CHANGED_CONFIDENCE = 0.5
"""A value the page put in place of a field's own reading (a mended furigana slip, a replaced date
part, a text read together with its twin) is never surer than this: below every auto-accept
threshold, so a person checks it."""

PageStatus = Literal["ok", "unaligned", "blank", "unidentified"]
FieldStatus = Literal["ok", "empty", "low_confidence", "invalid", "unreadable"]


@dataclass(frozen=True)
class FieldReading:
    """What the pipeline read in one field."""

    name: str
    value: str | bool
    """Text for text-like fields, ``True``/``False`` for checkboxes."""
    confidence: float
    """Field confidence in [0, 1]."""
    char_confidences: list[float] = field(default_factory=list)
    """One confidence per character of ``value`` (empty for checkboxes)."""
    crop_png: bytes | None = None
    """PNG of the aligned field crop (with margin) for the reviewer."""
    status: FieldStatus = "ok"
    reason: str | None = None
    """Human-readable reason (Japanese) when status is not ``ok``."""
    agreed: bool | None = None
    """Second opinion (:mod:`workers.pipeline.second_opinion`): did the second reads agree?
    None when the field was not read again."""


@dataclass(frozen=True)
class PageReading:
    """Result of processing one page image against one layout page."""

    page_no: int
    """1-based page number in the uploaded PDF."""
    status: PageStatus
    reason: str | None = None
    inliers: int = 0
    residual_px: float | None = None
    fields: list[FieldReading] = field(default_factory=list)
    form_key: str | None = None
    """Which candidate layout the page was read with (set when the form was identified)."""
    layout_page: int | None = None
    """1-based page of the layout the scan was read as (None: identification chose no layout)."""
    identify_score: float | None = None
    """Identification score in [0, 1] (None when the upload named its form)."""
    orientation: int = 0
    """Quarter turn (0/90/180/270) undone before alignment."""
    alignment_doubtful: bool = False
    """Aligned, but the residual is high: the reason tells the reviewer to check the positions."""
    aligned_png: bytes | None = None
    """PNG of the page upright and warped onto its template (what was read); None when not aligned."""


@dataclass(frozen=True)
class TextResult:
    """Recognised text of one crop.

    Attributes:
        text: the normalised text.
        char_confidences: one probability per character of ``text``.
        confidence: field confidence = the *minimum* character confidence (1.0
            for an empty string). The minimum, not the product, so that the value
            does not fall with length alone: a long address read perfectly must be
            as acceptable as a short one, while one doubtful character is enough
            to send the field to review.
    """

    text: str
    char_confidences: list[float] = field(default_factory=list)
    confidence: float = 1.0


class Recognizer(Protocol):
    """Anything that reads text from line crops."""

    def recognize(
        self,
        crops: Sequence[np.ndarray],
        charsets: Sequence[str | None],
        contexts: Sequence[DecodeContext | None] | None = None,
    ) -> list[TextResult]:
        """Read each crop; ``charsets[i]`` is the field type of crop ``i`` (None = free text),
        ``contexts[i]`` what the form knows beyond it (priors; None = nothing)."""
        ...


@runtime_checkable
class TextScorer(Protocol):
    """A recogniser that can also say how likely given texts are for a crop."""

    def log_likelihoods(self, crops: Sequence[np.ndarray], candidates: Sequence[Sequence[str]]) -> list[list[float]]:
        """``log P(text | crop)`` of each candidate text of each crop (as written, no field constraint)."""
        ...
