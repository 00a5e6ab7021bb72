"""Printed text of a blank template: from the PDF's text layer, or read with PP-OCR on a scan.

A span is one run of printed text with its box in PDF points (top-left origin).
"""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass
from typing import Any

import numpy as np
from pypdf import PdfReader

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class TextSpan:
    """A run of printed text and its box in PDF points, top-left origin."""

    text: str
    box: Box

    @property
    def cx(self) -> float:
        return (self.box[0] + self.box[2]) / 2

    @property
    def cy(self) -> float:
        return (self.box[1] + self.box[3]) / 2

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


def _advance(ch: str, size: float) -> float:
    # Japanese glyphs are full width; Latin letters, digits and spaces about half (IPAex, MS Mincho).
    return size if unicodedata.east_asian_width(ch) in ("W", "F", "A") else 0.55 * size


def text_width(text: str, size: float) -> float:
    return sum(_advance(ch, size) for ch in text)


def pdf_text_spans(pdf: bytes, *, page: int) -> list[TextSpan]:
    """Horizontal text runs of page ``page`` (1-based) from the PDF text layer; [] when it has none."""
    reader = PdfReader(io.BytesIO(pdf))
    pdf_page = reader.pages[page - 1]
    height = float(pdf_page.mediabox.height)
    spans: list[TextSpan] = []

    def visit(text: str, cm: list[float], tm: list[float], _font: object, size: float) -> None:
        for line in text.split("\n"):
            clean = line.strip()
            if not clean:
                continue
            # Text position = text matrix times current transformation matrix.
            a, b, _c, _d, e, f = tm
            sx = (a * cm[0] + b * cm[2]) or 1.0
            x = e * cm[0] + f * cm[2] + cm[4]
            y = e * cm[1] + f * cm[3] + cm[5]
            fs = float(size) * abs(sx)
            if fs <= 0:
                continue
            lead = text_width(line[: len(line) - len(line.lstrip())], fs)
            x0 = x + lead
            top = height - y - 0.88 * fs
            spans.append(TextSpan(clean, (x0, top, x0 + text_width(clean, fs), top + fs)))

    try:
        pdf_page.extract_text(visitor_text=visit)
    except Exception:  # a broken text layer: fall back to reading the picture
        return []
    return spans


def ocr_text_spans(gray: np.ndarray, *, px_per_pt: float) -> list[TextSpan]:
    """Read the printed text of a page image with PP-OCR (detector + recogniser shipped in rapidocr)."""
    from rapidocr import RapidOCR

    engine = RapidOCR(params={"Global.use_cls": False, "Global.log_level": "error"})
    rgb = np.stack([gray] * 3, axis=-1)
    result: Any = engine(rgb)
    spans: list[TextSpan] = []
    for quad, text in zip(result.boxes if result.boxes is not None else [], result.txts or (), strict=False):
        xs = [float(p[0]) / px_per_pt for p in quad]
        ys = [float(p[1]) / px_per_pt for p in quad]
        box = (min(xs), min(ys), max(xs), max(ys))
        clean = unicodedata.normalize("NFKC", str(text)).strip()
        if clean == "T":  # the recogniser's usual reading of a printed 〒
            clean = "〒"
        if clean:
            spans.extend(_split_at_boxes(clean, box))
    return spans


def _split_at_boxes(text: str, box: Box) -> list[TextSpan]:
    """The detector reads a line of options as one ("本籍・筆頭者□必要 □不要"): one span per option.

    Characters are assumed equally wide, which is close enough to tell which option a box belongs to.
    """
    if not any(ch in "□☐" for ch in text):
        return [TextSpan(text, box)]
    width = (box[2] - box[0]) / max(len(text), 1)
    spans: list[TextSpan] = []
    start = 0
    for index, ch in enumerate([*text, "□"]):
        if ch in "□☐":
            piece = text[start:index]
            stripped = piece.strip()
            if stripped:
                lead = len(piece) - len(piece.lstrip())
                x0 = box[0] + (start + lead) * width
                spans.append(TextSpan(stripped, (x0, box[1], x0 + len(stripped) * width, box[3])))
            start = index + 1
    return spans
