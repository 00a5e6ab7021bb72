"""Read a whole uploaded PDF against one known layout, page by page."""

from __future__ import annotations

from collections.abc import Callable

from ocr_service.forms.layout import FormLayout
from workers.pipeline.calibration import Calibrator
from workers.pipeline.page import PagePipeline
from workers.pipeline.raster import rasterize_pdf, render_template
from workers.pipeline.recognizer import Recognizer
from workers.pipeline.types import PageReading

__all__ = ["process_pdf"]


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
) -> list[PageReading]:
    """Read an uploaded PDF against a layout, page by page.

    PDF page ``i`` (1-based) is matched to layout page ``((i - 1) % layout.pages) + 1``,
    so a stack of several filled multi-page forms in one PDF works.

    Args:
        pdf: the uploaded PDF bytes.
        layout: the form layout.
        template_pdf: the blank template PDF of the layout.
        recognizer: the text recogniser.
        dpi: rendering resolution for scan and template.
        progress: called as ``progress(done, total)`` after each page.
        timeout_s: poppler wall-clock limit for the upload.
        max_pages: reject uploads with more pages.
        max_pixels: reject pages larger than this at ``dpi``.
        low_confidence_threshold: see :class:`PagePipeline`.
        calibrator: see :class:`PagePipeline`.

    Returns:
        one :class:`PageReading` per PDF page.

    Raises:
        RasterError: the upload is not a usable PDF.
    """
    pages = rasterize_pdf(pdf, dpi=dpi, timeout_s=timeout_s, max_pages=max_pages, max_pixels=max_pixels)
    templates = render_template(template_pdf, dpi=dpi)
    pipeline = PagePipeline(
        recognizer, dpi=dpi, low_confidence_threshold=low_confidence_threshold, calibrator=calibrator
    )
    readings: list[PageReading] = []
    for index, image in enumerate(pages, start=1):
        layout_page = ((index - 1) % layout.pages) + 1
        if layout_page > len(templates):
            readings.append(
                PageReading(page_no=index, status="unaligned", reason="テンプレートにこのページがありません")
            )
        else:
            readings.append(
                pipeline.process_page(
                    image,
                    layout=layout,
                    layout_page=layout_page,
                    page_no=index,
                    template_image=templates[layout_page - 1],
                )
            )
        if progress is not None:
            progress(index, len(pages))
    return readings
