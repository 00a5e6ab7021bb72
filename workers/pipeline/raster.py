"""Turn uploaded PDF bytes into grayscale page images, defensively.

Uploads come from scanners and from people, so every failure mode of a PDF
(not a PDF at all, truncated, password protected, a thousand pages, a page the
size of a wall) must end as a :class:`RasterError` with a message a city-hall
operator can act on, never as a poppler hang or an out-of-memory kill.
"""

from __future__ import annotations

import hashlib
import io
import math
import sys
import threading
from collections import OrderedDict

import cv2
import numpy as np
from pdf2image import convert_from_bytes
from pdf2image.exceptions import PDFInfoNotInstalledError, PDFPageCountError, PDFSyntaxError
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from ocr_service.documents.pdfcheck import PdfRejectedError, inspect_pdf

__all__ = ["RasterError", "page_count", "rasterize_pdf", "render_template"]

CORRUPT_JA = "PDF が壊れているか途中で切れているため、画像にできませんでした。"


class RasterError(ValueError):
    """A PDF cannot be turned into page images.

    Args:
        reason: Japanese message shown to staff (no tool output: poppler's messages are English
            and can quote the file's bytes).
        detail: the technical cause, for the log only.
    """

    def __init__(self, reason: str, *, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def page_count(pdf: bytes) -> int:
    """Count the pages of ``pdf`` without rendering anything.

    The structural checks (PDF header, truncation, encryption, corruption) are the
    upload's own (:func:`ocr_service.documents.pdfcheck.inspect_pdf`), so the API and
    the worker refuse the same files with the same reasons.

    Raises:
        RasterError: not a PDF, corrupt/truncated, or encrypted.
    """
    try:
        return inspect_pdf(pdf, max_bytes=len(pdf) + 1, max_pages=sys.maxsize)
    except PdfRejectedError as exc:
        raise RasterError(exc.reason, detail=exc.code) from exc


def _page_sizes_pt(pdf: bytes) -> list[tuple[float, float]]:
    reader = PdfReader(io.BytesIO(pdf), strict=False)
    sizes = []
    for page in reader.pages:
        box = page.mediabox
        width, height = float(box.width), float(box.height)
        # A /Rotate of 90/270 swaps what poppler renders.
        if int(page.get("/Rotate", 0) or 0) % 180 == 90:
            width, height = height, width
        sizes.append((abs(width), abs(height)))
    return sizes


def _to_gray(images: list[object]) -> list[np.ndarray]:
    pages = []
    for image in images:
        pil = image.convert("L")  # type: ignore[attr-defined]
        pages.append(np.asarray(pil, dtype=np.uint8).copy())
    return pages


def _drop_red(gray: np.ndarray, colour: object) -> None:
    """Whiten red ink (印影, red correction marks) in ``gray`` in place, using a colour rendering.

    A seal stamped over a field would otherwise be read as text. Red ink is
    bright in the red channel and dark in green and blue; pen ink (black, blue)
    is dark in red too, so it is left alone. Grey and black/white scans have no
    chroma and are unchanged. The colour rendering may be at a lower dpi: only
    the mask is taken from it, so the grey pixels everywhere else stay exactly
    poppler's (recognition was measured on those).
    """
    rgb = np.asarray(colour.convert("RGB"), dtype=np.uint8)  # type: ignore[attr-defined]
    r = rgb[..., 0].astype(np.int16)
    redness = r - np.maximum(rgb[..., 1], rgb[..., 2]).astype(np.int16)
    red = ((redness > 50) & (r > 120)).astype(np.uint8)
    if not red.any():
        return
    # Grow a little: JPEG leaves a darker, less saturated fringe around red strokes.
    grown = cv2.dilate(red, np.ones((3, 3), np.uint8))
    mask = cv2.resize(grown, (gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_NEAREST) > 0
    gray[mask] = np.maximum(gray[mask], np.uint8(235))


def rasterize_pdf(
    pdf: bytes,
    *,
    dpi: int,
    timeout_s: float,
    max_pages: int,
    max_pixels: int,
) -> list[np.ndarray]:
    """Render every page of ``pdf`` to a grayscale ``uint8`` image.

    The page count and page sizes are checked with pypdf *before* poppler runs,
    so a hostile PDF is rejected cheaply.

    Args:
        pdf: the raw PDF bytes.
        dpi: rendering resolution.
        timeout_s: wall-clock limit for poppler (whole document).
        max_pages: reject documents with more pages.
        max_pixels: reject any page whose rendered width*height exceeds this.

    Returns:
        one ``(H, W)`` uint8 array per page, in document order.

    Raises:
        RasterError: on any unusable input (see module docstring).
    """
    count = page_count(pdf)
    if count > max_pages:
        raise RasterError(
            f"ページ数が多すぎます（{count}ページ、上限{max_pages}ページ）。分割して取り込んでください。",
            detail=f"too many pages ({count} > {max_pages})",
        )
    try:
        sizes = _page_sizes_pt(pdf)
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RasterError(CORRUPT_JA, detail=f"page sizes unreadable: {exc}") from exc
    for index, (width_pt, height_pt) in enumerate(sizes, start=1):
        pixels = (width_pt * dpi / 72.0) * (height_pt * dpi / 72.0)
        if pixels > max_pixels:
            raise RasterError(
                f"{index}ページ目の用紙サイズが大きすぎます。A3 以下の用紙で読み取ってください。",
                detail=f"page {index} is too large ({int(pixels)} > {max_pixels} pixels at {dpi} dpi)",
            )
    try:
        images = convert_from_bytes(
            pdf, dpi=dpi, grayscale=True, timeout=max(1, math.ceil(timeout_s)), thread_count=1
        )
        # Red seals are found on a colour rendering at half resolution (cheap), see _drop_red.
        colour = convert_from_bytes(
            pdf, dpi=max(36, dpi // 2), timeout=max(1, math.ceil(timeout_s)), thread_count=1
        )
    except PDFInfoNotInstalledError as exc:  # a deployment bug, not the user's fault
        raise RuntimeError("poppler (pdftoppm/pdfinfo) is not installed") from exc
    except (PDFPageCountError, PDFSyntaxError) as exc:
        raise RasterError(CORRUPT_JA, detail=f"poppler: {exc}") from exc
    except Exception as exc:
        # pdf2image raises subprocess.TimeoutExpired (and kills poppler) on timeout.
        if type(exc).__name__ == "TimeoutExpired":
            raise RasterError(
                f"PDF の画像化が時間内（{timeout_s:.0f} 秒）に終わりませんでした。",
                detail="rasterising timed out",
            ) from exc
        raise RasterError("PDF を画像にできませんでした。", detail=f"rasterise: {exc!r}") from exc
    if not images:
        raise RasterError(CORRUPT_JA, detail="poppler returned no pages")
    pages = _to_gray(list(images))
    for gray, coloured in zip(pages, colour, strict=False):
        _drop_red(gray, coloured)
    return pages


_TEMPLATE_CACHE: OrderedDict[tuple[str, int], list[np.ndarray]] = OrderedDict()
_TEMPLATE_CACHE_SIZE = 16
_TEMPLATE_LOCK = threading.Lock()


def render_template(template_pdf: bytes, *, dpi: int) -> list[np.ndarray]:
    """Render a (trusted) template PDF, caching the result per content and dpi.

    Every scanned page is aligned to its template page, so rendering the
    template once per process instead of once per page matters for throughput.

    Args:
        template_pdf: the template PDF bytes.
        dpi: rendering resolution; must equal the one used for the scans.

    Returns:
        the grayscale page images (shared, read-only arrays; do not modify).
    """
    key = (hashlib.sha256(template_pdf).hexdigest(), dpi)
    with _TEMPLATE_LOCK:
        cached = _TEMPLATE_CACHE.get(key)
        if cached is not None:
            _TEMPLATE_CACHE.move_to_end(key)
            return cached
    pages = rasterize_pdf(template_pdf, dpi=dpi, timeout_s=60.0, max_pages=20, max_pixels=200_000_000)
    for page in pages:
        page.setflags(write=False)
    with _TEMPLATE_LOCK:
        _TEMPLATE_CACHE[key] = pages
        while len(_TEMPLATE_CACHE) > _TEMPLATE_CACHE_SIZE:
            _TEMPLATE_CACHE.popitem(last=False)
    return pages
