"""Scanner images (JPEG, PNG, multi-page TIFF) become a PDF at upload, on the server.

Why here and not on the scanner PC: there is then one conversion path for the bridge and
for browser uploads (same limits, same page sizes, same tests), and the bridge stays a
standard-library-only program that never needs Pillow on the secure-area PC. The received
file's SHA-256 is what the uploader sees and compares; the stored blob is the derived PDF.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageSequence, UnidentifiedImageError

from ocr_service.documents.pdfcheck import PdfRejectedError

_MAGIC = {
    b"\xff\xd8\xff": "JPEG",
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
}
DEFAULT_DPI = 200.0
"""Assumed when an image carries no resolution (typical scanner setting for forms)."""


def image_format(data: bytes) -> str | None:
    """'JPEG', 'PNG' or 'TIFF' when ``data`` starts like one, else None."""
    for magic, name in _MAGIC.items():
        if data.startswith(magic):
            return name
    return None


def _page(frame: Image.Image) -> Image.Image:
    if frame.mode in ("1", "L", "RGB"):
        return frame.copy()
    if frame.mode in ("RGBA", "LA") or (frame.mode == "P" and "transparency" in frame.info):
        rgba = frame.convert("RGBA")
        page = Image.new("RGB", rgba.size, "white")
        page.paste(rgba, mask=rgba.getchannel("A"))
        return page
    if frame.mode in ("I;16", "I;16B", "I;16L", "I"):
        return frame.point(lambda value: value / 256).convert("L")
    return frame.convert("RGB")  # P, CMYK, YCbCr …


def image_to_pdf(data: bytes, *, max_pages: int, max_page_pixels: int) -> bytes:
    """Every frame of the image as one PDF page at the image's own resolution.

    Refuses (PdfRejectedError, Japanese reason) too many pages, pages too large to decode
    safely (decompression bombs) and unreadable images.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            frames = getattr(image, "n_frames", 1)
            if frames > max_pages:
                raise PdfRejectedError(
                    f"ページ数が多すぎます（{frames} ページ、上限 {max_pages} ページ）。分割して取り込んでください。",
                    code="too_many_pages",
                )
            pages: list[Image.Image] = []
            resolutions: list[float] = []
            for frame in ImageSequence.Iterator(image):
                width, height = frame.size
                if width * height > max_page_pixels:
                    raise PdfRejectedError(
                        f"画像が大きすぎます（{width}×{height} ピクセル）。解像度を下げてスキャンしてください。",
                        code="too_large",
                    )
                frame.load()
                dpi = frame.info.get("dpi") or (DEFAULT_DPI, DEFAULT_DPI)
                resolutions.append(float(dpi[0]) if float(dpi[0]) >= 50 else DEFAULT_DPI)
                pages.append(_page(frame))
    except PdfRejectedError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PdfRejectedError(
            "画像が大きすぎます。解像度を下げてスキャンしてください。", code="too_large"
        ) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise PdfRejectedError(
            "画像ファイルが壊れていて読み取れません。もう一度スキャンしてください。", code="corrupt_image"
        ) from exc
    out = io.BytesIO()
    # Pillow writes one resolution for all pages; scanners use one setting per job.
    pages[0].save(out, format="PDF", save_all=True, append_images=pages[1:], resolution=resolutions[0])
    return out.getvalue()
