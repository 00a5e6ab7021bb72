"""Field proposal from a blank template: the engine behind ``forms propose`` and the layout editor."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field, replace

import numpy as np
from pdf2image import convert_from_bytes
from pypdf import PdfReader

from ocr_service.forms.propose.engine import PageProposals, Proposal, propose_page
from ocr_service.forms.propose.naming import NameBook
from ocr_service.forms.propose.ruling import estimate_skew, rotate_page
from ocr_service.forms.propose.scene import iou
from ocr_service.forms.propose.text import TextSpan, ocr_text_spans, pdf_text_spans

__all__ = ["Proposal", "ProposedTemplate", "iou", "propose_template"]

PROPOSE_DPI = 144
"""Two pixels per point: rules 0.5 pt wide stay visible, a page renders in well under a second."""
MAX_PAGES = 20
MAX_PAGE_AREA_PT2 = 1191.0 * 1684.0
"""A2: the largest sheet a municipal form comes on."""


@dataclass
class ProposedTemplate:
    title: str
    page_size_pt: tuple[float, float]
    pages: int
    fields: list[Proposal] = field(default_factory=list)
    exclusive_groups: list[list[str]] = field(default_factory=list)
    form_codes: list[str] = field(default_factory=list)
    snap: dict[int, dict[str, list[float]]] = field(default_factory=dict)
    """Per page: the x and y of printed rules, for snapping box edges in the editor."""
    text_source: str = "pdf"
    """Where the printed labels came from: ``pdf`` (text layer) or ``ocr`` (PP-OCR on the picture)."""


def _page_text(
    pdf: bytes, gray: np.ndarray, *, page: int, px_per_pt: float, use_ocr: bool | None
) -> tuple[list[TextSpan], str]:
    spans = [] if use_ocr else pdf_text_spans(pdf, page=page)
    if use_ocr or (use_ocr is None and len(spans) < 3):
        return ocr_text_spans(gray, px_per_pt=px_per_pt), "ocr"
    return spans, "pdf"


def _unrotate(proposal: Proposal, angle_deg: float, size: tuple[float, float]) -> Proposal:
    """The proposal's box moved (not turned) to where its centre lies on the skewed page."""
    x0, y0, x1, y1 = proposal.box
    cx, cy = (x0 + x1) / 2 - size[0] / 2, (y0 + y1) / 2 - size[1] / 2
    # Image y points down, so a counter-clockwise skew of a is a rotation by -a in these coordinates.
    a = math.radians(-angle_deg)
    nx = cx * math.cos(a) - cy * math.sin(a) + size[0] / 2
    ny = cx * math.sin(a) + cy * math.cos(a) + size[1] / 2
    dx, dy = nx - (x0 + x1) / 2, ny - (y0 + y1) / 2
    box = (round(x0 + dx, 1), round(y0 + dy, 1), round(x1 + dx, 1), round(y1 + dy, 1))
    return replace(proposal, box=box)


def propose_template(pdf: bytes, *, use_ocr: bool | None = None, dpi: int = PROPOSE_DPI) -> ProposedTemplate:
    """Propose the fields of a blank template PDF (vector or scanned), page by page.

    ``use_ocr``: None = text layer when the PDF has one, else PP-OCR; True/False forces it.

    Raises:
        ValueError: the PDF cannot be read or has too many pages.
    """
    try:
        reader = PdfReader(io.BytesIO(pdf))
        count = len(reader.pages)
        box = reader.pages[0].mediabox
        size = (round(float(box.width), 2), round(float(box.height), 2))
    except Exception as exc:
        raise ValueError(f"PDFを読めません / cannot read the PDF ({exc})") from exc
    if not 1 <= count <= MAX_PAGES:
        raise ValueError(f"ページ数が範囲外です（{count}） / page count {count} outside 1..{MAX_PAGES}")
    # A hostile page size would make poppler render gigapixels: refuse before rendering.
    if any(float(p.mediabox.width) * float(p.mediabox.height) > MAX_PAGE_AREA_PT2 for p in reader.pages):
        raise ValueError("用紙が大きすぎます（A2まで） / page larger than A2")
    names = NameBook()
    result = ProposedTemplate(title="", page_size_pt=size, pages=count)
    px_per_pt = dpi / 72.0
    for page in range(1, count + 1):
        images = convert_from_bytes(pdf, dpi=dpi, first_page=page, last_page=page, grayscale=True, timeout=60)
        gray = np.asarray(images[0].convert("L"), dtype=np.uint8)
        spans, source = _page_text(
            pdf, gray, page=page, px_per_pt=px_per_pt, use_ocr=None if use_ocr is None else use_ocr
        )
        skew = 0.0
        if source == "ocr":
            # A scanned blank form: straighten it so rules are rows and columns of pixels, read it
            # there, and turn the boxes back onto the scan (which becomes the template).
            skew = estimate_skew(gray)
            if abs(skew) >= 0.05:
                gray = rotate_page(gray, skew)
                spans = ocr_text_spans(gray, px_per_pt=px_per_pt)
        found: PageProposals = propose_page(
            gray, spans, px_per_pt=px_per_pt, page=page, names=names, from_ocr=source == "ocr"
        )
        if abs(skew) >= 0.05:
            found.fields = [_unrotate(p, skew, size) for p in found.fields]
        if page == 1:
            result.title = found.title
            result.form_codes = list(dict.fromkeys(found.form_codes))
            result.text_source = source
        result.fields.extend(found.fields)
        result.snap[page] = {"x": found.snap_x, "y": found.snap_y}
        result.exclusive_groups.extend(found.exclusive_groups)
    return result


def rule_lines(pdf: bytes, *, dpi: int = PROPOSE_DPI) -> dict[int, dict[str, list[float]]]:
    """Per page, the x and y of printed rules (no OCR: quick enough for opening a published form)."""
    from ocr_service.forms.propose.ruling import find_ruling
    from ocr_service.forms.propose.scene import PageScene

    count = len(PdfReader(io.BytesIO(pdf)).pages)
    lines: dict[int, dict[str, list[float]]] = {}
    for page in range(1, min(count, MAX_PAGES) + 1):
        images = convert_from_bytes(pdf, dpi=dpi, first_page=page, last_page=page, grayscale=True, timeout=60)
        gray = np.asarray(images[0].convert("L"), dtype=np.uint8)
        spans = pdf_text_spans(pdf, page=page)
        scene = PageScene(find_ruling(gray, px_per_pt=dpi / 72.0, text_boxes=[s.box for s in spans]), spans)
        xs, ys = scene.rule_positions()
        lines[page] = {"x": xs, "y": ys}
    return lines
