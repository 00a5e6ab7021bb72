"""Read a whole document page by page: the one loop every reader of scans runs.

The worker, ``ocr-service process``, ``eval forms`` (with and without
``--identify``), ``forms test`` and the benchmarks all read through
:func:`read_pages`, so the numbers the evaluations publish are those of the
production path. A document is read either against one named layout or, when
the upload names no form, by identifying every page among candidate template
pages (:mod:`workers.pipeline.identify`).

Persistence stays with the caller: ``on_page`` receives each reading as soon as
it is made (the worker stores it there), ``before_page`` may stop the loop
(the worker's lease check), and ``prior`` names pages an earlier try already
stored, which are skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ocr_service.forms.layout import FormLayout
from workers.pipeline.blank import is_blank_page
from workers.pipeline.calibration import Calibrator
from workers.pipeline.identify import LayoutCandidate, read_unknown_page
from workers.pipeline.page import BLANK_REASON, PagePipeline
from workers.pipeline.raster import rasterize_pdf, render_template
from workers.pipeline.recognizer import Recognizer
from workers.pipeline.second_opinion import SecondOpinion
from workers.pipeline.types import PageReading

__all__ = [
    "MISSING_TEMPLATE_REASON",
    "NamedLayout",
    "PriorPage",
    "ReadAgainst",
    "process_pdf",
    "read_pages",
    "read_pdf",
]

MISSING_TEMPLATE_REASON = "テンプレートにこのページがありません"


@dataclass(frozen=True)
class NamedLayout:
    """An upload for a named form: every page is read against this layout."""

    layout: FormLayout
    templates: Sequence[np.ndarray]
    """The blank template pages, grayscale, at the pipeline's dpi (possibly fewer than ``layout.pages``)."""

    @classmethod
    def from_template(cls, layout: FormLayout, template_pdf: bytes, *, dpi: int) -> NamedLayout:
        return cls(layout=layout, templates=render_template(template_pdf, dpi=dpi))


ReadAgainst = NamedLayout | Sequence[LayoutCandidate]
"""What the pages are read against: one named layout, or the template pages to identify each page among."""


@dataclass(frozen=True)
class PriorPage:
    """A page stored by an earlier try: not read again, but it still counts for the layout pages."""

    status: str
    layout_page: int


def read_pages(
    images: Sequence[np.ndarray],
    against: ReadAgainst,
    *,
    pipeline: PagePipeline,
    first_page_no: int = 1,
    prior: Mapping[int, PriorPage] | None = None,
    before_page: Callable[[int], None] | None = None,
    on_page: Callable[[np.ndarray, PageReading], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[PageReading]:
    """Read the pages of one document in order.

    Against a named multi-page layout the first page is layout page 1 and every page that is
    not blank moves on to the next one (wrapping round, so a stack of filled forms works); a
    blank back uses up no layout page, so the sheet after it is read as the form's next page.
    A layout page the template lacks gives an ``unaligned`` reading, not an error.

    Args:
        images: the grayscale pages at ``pipeline.dpi``.
        against: a :class:`NamedLayout` or the identification candidates.
        pipeline: reads one page against one layout page.
        first_page_no: page number of ``images[0]`` (a split-off document keeps its batch numbers).
        prior: pages already read, by page number: skipped.
        before_page: called with the page number before each page is read; may raise to stop.
        on_page: called with the image and its reading right after each page is read.
        progress: called as ``progress(done, total)`` after each page, skipped ones included.

    Returns:
        the readings of the pages read now, in page order.
    """
    known = prior or {}
    readings: list[PageReading] = []
    expected = 1
    for index, image in enumerate(images):
        page_no = first_page_no + index
        done = known.get(page_no)
        if done is not None:
            status, layout_page = done.status, done.layout_page
        else:
            if before_page is not None:
                before_page(page_no)
            if isinstance(against, NamedLayout):
                reading = _read_named(pipeline, image, against, layout_page=expected, page_no=page_no)
            else:
                reading = read_unknown_page(pipeline, image, candidates=against, page_no=page_no)
            if on_page is not None:
                on_page(image, reading)
            readings.append(reading)
            status, layout_page = reading.status, expected
        # Duplex scans put a blank back between sheets: it must not shift the rest of the form.
        if isinstance(against, NamedLayout) and status != "blank":
            expected = layout_page % against.layout.pages + 1
        if progress is not None:
            progress(index + 1, len(images))
    return readings


def _read_named(
    pipeline: PagePipeline, image: np.ndarray, named: NamedLayout, *, layout_page: int, page_no: int
) -> PageReading:
    if layout_page > len(named.templates):
        # A layout that claims more pages than its template has: this page cannot be aligned, but
        # the rest of the upload can still be read. A blank back is still just a blank back.
        if is_blank_page(image, dpi=pipeline.dpi):
            reading = PageReading(page_no=page_no, status="blank", reason=BLANK_REASON)
        else:
            reading = PageReading(page_no=page_no, status="unaligned", reason=MISSING_TEMPLATE_REASON)
    else:
        reading = pipeline.process_page(
            image,
            layout=named.layout,
            layout_page=layout_page,
            page_no=page_no,
            template_image=named.templates[layout_page - 1],
        )
    # The layout page is decided here, not by the page pipeline: the worker stores it with the page.
    return replace(reading, layout_page=layout_page)


def read_pdf(
    pdf: bytes,
    against: ReadAgainst,
    *,
    pipeline: PagePipeline,
    timeout_s: float = 120.0,
    max_pages: int = 50,
    max_pixels: int = 60_000_000,
    first_page_no: int = 1,
    prior: Mapping[int, PriorPage] | None = None,
    before_page: Callable[[int], None] | None = None,
    on_page: Callable[[np.ndarray, PageReading], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[PageReading]:
    """Rasterise an uploaded PDF at ``pipeline.dpi`` and :func:`read_pages` it.

    Args:
        timeout_s: poppler wall-clock limit for the upload.
        max_pages: reject uploads with more pages.
        max_pixels: reject pages larger than this at the pipeline's dpi.
        others: see :func:`read_pages`.

    Raises:
        RasterError: the upload is not a usable PDF.
    """
    images = rasterize_pdf(
        pdf, dpi=pipeline.dpi, timeout_s=timeout_s, max_pages=max_pages, max_pixels=max_pixels
    )
    return read_pages(
        images,
        against,
        pipeline=pipeline,
        first_page_no=first_page_no,
        prior=prior,
        before_page=before_page,
        on_page=on_page,
        progress=progress,
    )


def process_pdf(
    pdf: bytes,
    *,
    layout: FormLayout,
    template_pdf: bytes,
    recognizer: Recognizer,
    dpi: int = 200,
    progress: Callable[[int, int], None] | None = None,
    timeout_s: float = 120.0,
    max_pages: int = 50,
    max_pixels: int = 60_000_000,
    low_confidence_threshold: float = 0.95,
    calibrator: Calibrator | None = None,
    second_opinion: SecondOpinion | None = None,
    second_opinion_everywhere: bool = False,
) -> list[PageReading]:
    """Read an uploaded PDF against one layout with a pipeline built for ``recognizer``.

    Args:
        pdf: the uploaded PDF bytes.
        layout: the form layout.
        template_pdf: the blank template PDF of the layout.
        recognizer: the text recogniser.
        dpi: rendering resolution for scan and template.
        low_confidence_threshold: see :class:`PagePipeline`.
        calibrator: see :class:`PagePipeline`.
        second_opinion: see :class:`PagePipeline`.
        second_opinion_everywhere: see :class:`PagePipeline`.
        others: see :func:`read_pdf`.

    Returns:
        one :class:`PageReading` per PDF page.

    Raises:
        RasterError: the upload is not a usable PDF.
    """
    pipeline = PagePipeline(
        recognizer,
        dpi=dpi,
        low_confidence_threshold=low_confidence_threshold,
        calibrator=calibrator,
        second_opinion=second_opinion,
        second_opinion_everywhere=second_opinion_everywhere,
    )
    return read_pdf(
        pdf,
        NamedLayout.from_template(layout, template_pdf, dpi=dpi),
        pipeline=pipeline,
        timeout_s=timeout_s,
        max_pages=max_pages,
        max_pixels=max_pixels,
        progress=progress,
    )
