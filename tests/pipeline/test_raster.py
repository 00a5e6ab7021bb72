"""Rasterising uploads: every unusable PDF ends as a RasterError."""

from __future__ import annotations

import io

import numpy as np
import pytest
from pypdf import PdfReader, PdfWriter

from tests.pipeline.conftest import make_template_pdf
from workers.pipeline.raster import RasterError, rasterize_pdf, render_template

LIMITS = {"dpi": 72, "timeout_s": 30.0, "max_pages": 5, "max_pixels": 5_000_000}


def test_valid_pdf_gives_grayscale_pages(template_pdf: bytes) -> None:
    """GIVEN a one-page A4 PDF WHEN rasterised at 72 dpi THEN one uint8 2-D page of A4 size comes back."""
    pages = rasterize_pdf(template_pdf, **LIMITS)  # type: ignore[arg-type]
    assert len(pages) == 1
    assert pages[0].dtype == np.uint8 and pages[0].ndim == 2
    assert abs(pages[0].shape[0] - 842) <= 2 and abs(pages[0].shape[1] - 595) <= 2


def test_non_pdf_bytes_are_rejected() -> None:
    """GIVEN PNG-like bytes WHEN rasterised THEN RasterError says it is not a PDF."""
    with pytest.raises(RasterError, match="PDF ファイルではありません"):
        rasterize_pdf(b"\x89PNG\r\n\x1a\n" + b"0" * 100, **LIMITS)  # type: ignore[arg-type]


def test_truncated_pdf_is_rejected(template_pdf: bytes) -> None:
    """GIVEN the first third of a PDF WHEN rasterised THEN RasterError (corrupt/truncated), in Japanese only."""
    with pytest.raises(RasterError) as caught:
        rasterize_pdf(template_pdf[: len(template_pdf) // 3], **LIMITS)  # type: ignore[arg-type]
    assert not any(ch.isascii() and ch.isalpha() for ch in caught.value.reason.replace("PDF", ""))


def test_encrypted_pdf_is_rejected(template_pdf: bytes) -> None:
    """GIVEN a password-protected PDF made with pypdf WHEN rasterised THEN RasterError mentions encryption."""
    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(template_pdf)).pages:
        writer.add_page(page)
    writer.encrypt("secret")
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(RasterError, match="パスワード"):
        rasterize_pdf(buffer.getvalue(), **LIMITS)  # type: ignore[arg-type]


def test_too_many_pages_is_rejected_before_rendering() -> None:
    """GIVEN a 3-page PDF and max_pages=2 WHEN rasterised THEN RasterError names the page count."""
    with pytest.raises(RasterError, match="ページ数が多すぎます（3ページ") as caught:
        rasterize_pdf(make_template_pdf(pages=3), dpi=72, timeout_s=30.0, max_pages=2, max_pixels=5_000_000)
    assert "too many pages" in caught.value.detail


def test_oversized_page_is_rejected(template_pdf: bytes) -> None:
    """GIVEN an A4 page and a pixel limit below A4 at 300 dpi WHEN rasterised THEN RasterError (too large)."""
    with pytest.raises(RasterError, match="用紙サイズが大きすぎます") as caught:
        rasterize_pdf(template_pdf, dpi=300, timeout_s=30.0, max_pages=5, max_pixels=1_000_000)
    assert "too large" in caught.value.detail


def test_template_render_is_cached(template_pdf: bytes) -> None:
    """GIVEN the same template twice WHEN rendered THEN the cached (read-only) pages are returned."""
    first = render_template(template_pdf, dpi=72)
    second = render_template(template_pdf, dpi=72)
    assert first is second
    assert not first[0].flags.writeable


def test_poppler_messages_stay_in_the_log_not_in_the_reason(
    template_pdf: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN poppler (a separate process) fails with its English syntax error WHEN rasterised THEN the reason staff
    see is Japanese only, and poppler's words are kept in ``detail`` for the log."""
    from pdf2image.exceptions import PDFSyntaxError

    import workers.pipeline.raster as raster

    def failing(*_args: object, **_kwargs: object) -> list[object]:
        raise PDFSyntaxError("Syntax Error: Couldn't find trailer dictionary")

    monkeypatch.setattr(raster, "convert_from_bytes", failing)
    with pytest.raises(RasterError) as caught:
        rasterize_pdf(template_pdf, **LIMITS)  # type: ignore[arg-type]
    assert "Syntax" not in caught.value.reason and "trailer" not in caught.value.reason
    assert "壊れて" in caught.value.reason
    assert "Couldn't find trailer" in caught.value.detail
