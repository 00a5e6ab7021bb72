"""Recogniser on rendered text (slow: loads the ONNX model) and the page pipeline end to end."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from ocr_service.forms.layout import FormLayout
from tests.pipeline.conftest import FONT_PATH, make_template_pdf
from tests.support.render import printed_line
from workers.pipeline.decoding import DecodeContext
from workers.pipeline.document import process_pdf
from workers.pipeline.page import PagePipeline
from workers.pipeline.raster import rasterize_pdf, render_template
from workers.pipeline.recognizer import TextResult, load_recognizer


def _line(text: str, font_path: str = FONT_PATH) -> np.ndarray:
    return printed_line(text, font_path)


@pytest.mark.slow
def test_recognizer_reads_rendered_digits_and_respects_charset() -> None:
    """GIVEN digit lines rendered with IPAex Gothic WHEN read as digits THEN the exact digits, confidences per char."""
    recognizer = load_recognizer(None, intra_op_threads=2)
    assert load_recognizer(None, intra_op_threads=2) is recognizer  # one session per process
    results = recognizer.recognize([_line("0123456789"), _line("9081726354")], ["digits", "digits"])
    assert [r.text for r in results] == ["0123456789", "9081726354"]
    assert all(len(r.char_confidences) == len(r.text) for r in results)
    assert all(0.5 < r.confidence <= 1.0 for r in results)


@pytest.mark.slow
def test_letters_in_a_digits_field_become_digits() -> None:
    """GIVEN the word 'ABC' WHEN read with the digits charset THEN no letter is emitted."""
    recognizer = load_recognizer(None, intra_op_threads=2)
    (result,) = recognizer.recognize([_line("ABC")], ["digits"])
    assert all(ch.isdigit() for ch in result.text)


class _StubRecognizer:
    """Records what the page pipeline asks for and answers a fixed string."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, list[str | None]]] = []

    def recognize(
        self,
        crops: Sequence[np.ndarray],
        charsets: Sequence[str | None],
        contexts: Sequence[DecodeContext | None] | None = None,
    ) -> list[TextResult]:
        self.calls.append((len(crops), list(charsets)))
        return [TextResult("12", [0.99, 0.6], 0.6) for _ in crops]


def test_page_pipeline_reads_filled_and_empty_fields(layout: FormLayout, template_pdf: bytes) -> None:
    """GIVEN a filled form (name and phone written, postal empty, checkbox empty)
    WHEN processed against its template
    THEN one batched recogniser call covers the two written fields, the empty ones are 'empty'/False,
    and a confidence below the threshold is flagged low_confidence with a reason."""
    scan = rasterize_pdf(
        make_template_pdf(filled={"name": "山田太郎", "phone": "03-1234-5678"}),
        dpi=100,
        timeout_s=30.0,
        max_pages=2,
        max_pixels=10_000_000,
    )[0]
    stub = _StubRecognizer()
    pipeline = PagePipeline(stub, dpi=100, low_confidence_threshold=0.8)
    reading = pipeline.process_page(
        scan,
        layout=layout,
        layout_page=1,
        page_no=1,
        template_image=render_template(template_pdf, dpi=100)[0],
    )
    assert reading.status == "ok"
    by_name = {f.name: f for f in reading.fields}
    assert stub.calls == [(2, ["text", "phone"])]
    assert by_name["postal"].status == "empty" and by_name["postal"].value == ""
    assert by_name["agree"].value is False
    assert by_name["name"].status == "low_confidence" and by_name["name"].reason
    assert by_name["name"].crop_png and by_name["name"].crop_png.startswith(b"\x89PNG")


def test_process_pdf_reports_unaligned_page(layout: FormLayout, template_pdf: bytes) -> None:
    """GIVEN a PDF whose second page is a different document WHEN processed THEN page 2 is 'unaligned' with a reason."""
    import io

    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    for i in range(60):
        pdf.circle(50 + (i * 37) % 500, 80 + (i * 53) % 700, 4 + i % 9, fill=1)
    pdf.showPage()
    pdf.save()
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.add_page(PdfReader(io.BytesIO(template_pdf)).pages[0])
    writer.add_page(PdfReader(io.BytesIO(buffer.getvalue())).pages[0])
    out = io.BytesIO()
    writer.write(out)
    progress: list[tuple[int, int]] = []
    pages = process_pdf(
        out.getvalue(),
        layout=layout,
        template_pdf=template_pdf,
        recognizer=_StubRecognizer(),
        dpi=100,
        progress=lambda done, total: progress.append((done, total)),
    )
    assert [p.status for p in pages] == ["ok", "unaligned"]
    assert pages[1].reason and not pages[1].fields
    assert progress == [(1, 2), (2, 2)]


DEV = Path(__file__).resolve().parents[2] / "../shared/eval/forms/dev"


@pytest.mark.slow
@pytest.mark.skipif(not (DEV / "truth.jsonl").is_file(), reason="eval data not present")
def test_dev_scans_smoke() -> None:
    """GIVEN three dev scans WHEN read end to end THEN at least 85% of their fields match the truth."""
    from ocr_service.forms.loader import load_layout_file
    from workers.pipeline.evaluate import normalize_for_scoring

    recognizer = load_recognizer(None, intra_op_threads=2)
    rows = [json.loads(line) for line in (DEV / "truth.jsonl").read_text(encoding="utf-8").splitlines()][:3]
    right = total = 0
    for row in rows:
        source = load_layout_file(DEV / row["layout"])
        pages = process_pdf(
            (DEV / row["scan"]).read_bytes(),
            layout=source.layout,
            template_pdf=source.template_pdf,
            recognizer=recognizer,
            dpi=200,
        )
        values = {f.name: f.value for f in pages[int(row.get("page", 1)) - 1].fields}
        for name, truth in row["fields"].items():
            got = values.get(name)
            total += 1
            if isinstance(truth, bool):
                right += int(got is truth)
            else:
                right += int(
                    isinstance(got, str) and normalize_for_scoring(got) == normalize_for_scoring(truth)
                )
    assert right / total >= 0.85
