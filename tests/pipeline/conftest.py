"""Shared fixtures: a small synthetic form drawn with reportlab (no eval data needed)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from ocr_service.forms.layout import FormLayout

FONT_PATH = "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"

FIELDS: list[dict[str, Any]] = [
    {"name": "name", "label": "氏名", "box": (150.0, 150.0, 450.0, 180.0), "type": "text"},
    {
        "name": "postal",
        "label": "郵便番号",
        "box": (150.0, 200.0, 290.0, 222.0),
        "type": "postal",
        "cells": 7,
    },
    {"name": "agree", "label": "同意", "box": (150.0, 240.0, 164.0, 254.0), "type": "checkbox"},
    {"name": "phone", "label": "電話", "box": (150.0, 270.0, 400.0, 295.0), "type": "phone"},
]


def _font() -> str:
    try:
        pdfmetrics.registerFont(TTFont("IPAexG", FONT_PATH))
        return "IPAexG"
    except Exception:  # the font is a system package; fall back to a built-in face
        return "Helvetica"


def make_template_pdf(*, pages: int = 1, filled: dict[str, str] | None = None) -> bytes:
    """A4 form with a title, labelled boxes, comb cells, a checkbox and some body text."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    font = _font()
    _width, height = A4
    for _ in range(pages):
        pdf.setFont(font, 18)
        pdf.drawString(160, height - 80, "住民票の写し等交付請求書 テスト")
        pdf.setFont(font, 10)
        for i in range(30):
            pdf.drawString(
                60,
                height - 340 - i * 14,
                f"注意事項 {i} 窓口に来た方の本人確認書類をご提示ください。No.{i * 37}",
            )
        for spec in FIELDS:
            x0, y0, x1, y1 = spec["box"]
            pdf.rect(x0 - 2, height - y1 - 2, x1 - x0 + 4, y1 - y0 + 4)
            pdf.drawString(60, height - y1 + 4, str(spec["label"]))
            cells = int(spec.get("cells", 0) or 0)
            for c in range(1, cells):
                x = x0 + (x1 - x0) * c / cells
                pdf.line(x, height - y1 - 2, x, height - y0 + 2)
        for name, text in (filled or {}).items():
            spec = next(f for f in FIELDS if f["name"] == name)
            x0, _, _, y1 = spec["box"]
            pdf.setFont(font, 16)
            pdf.drawString(x0 + 6, height - y1 + 6, text)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


@pytest.fixture(scope="session")
def layout() -> FormLayout:
    return FormLayout.model_validate({"code": "test_form", "title": "テスト", "fields": FIELDS})


@pytest.fixture(scope="session")
def template_pdf() -> bytes:
    return make_template_pdf()
