"""Cheap structural checks of an uploaded PDF, done before anything is stored."""

from __future__ import annotations

import io
import logging

from pypdf import PdfReader
from pypdf.errors import LimitReachedError

logger = logging.getLogger(__name__)


class PdfRejectedError(ValueError):
    """The file is not a PDF we can process; ``reason`` is shown to the operator (Japanese)."""

    def __init__(self, reason: str, *, code: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


def inspect_pdf(data: bytes, *, max_bytes: int, max_pages: int) -> int:
    """Return the page count, or raise :class:`PdfRejectedError` with a readable reason."""
    if not data:
        raise PdfRejectedError("ファイルが空です。", code="empty")
    if len(data) > max_bytes:
        raise PdfRejectedError(
            f"ファイルが大きすぎます（上限 {max_bytes // (1024 * 1024)} MB）。", code="too_large"
        )
    if not data[:1024].lstrip().startswith(b"%PDF-"):
        raise PdfRejectedError(
            "PDF ファイルではありません。スキャナーの出力形式を PDF にしてください。", code="not_pdf"
        )
    if b"%%EOF" not in data[-2048:]:
        raise PdfRejectedError(
            "PDF が途中で切れています（転送が完了していない可能性があります）。", code="truncated"
        )
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise PdfRejectedError(
                "パスワード付き（暗号化）PDF は読み取れません。パスワードを外して再度取り込んでください。",
                code="encrypted",
            )
        pages = len(reader.pages)
    except PdfRejectedError:
        raise
    except (LimitReachedError, RecursionError, MemoryError) as exc:
        # pypdf's own safety limits (object-stream bombs, cycles, huge tables): hostile or broken.
        logger.info("pdf rejected as too complex: %r", exc)
        raise PdfRejectedError(
            "PDF の構造が複雑すぎるため読み取れません。スキャナーで読み取り直した PDF を取り込んでください。",
            code="too_complex",
        ) from exc
    except Exception as exc:
        # Any other parser failure is the file's fault, never a 500: log it, tell the operator plainly.
        logger.info("pdf rejected as unreadable: %r", exc)
        raise PdfRejectedError("PDF が壊れていて読み取れません。", code="corrupt") from exc
    if pages < 1:
        raise PdfRejectedError("PDF にページがありません。", code="no_pages")
    if pages > max_pages:
        raise PdfRejectedError(
            f"ページ数が多すぎます（{pages} ページ、上限 {max_pages} ページ）。分割して取り込んでください。",
            code="too_many_pages",
        )
    return pages
