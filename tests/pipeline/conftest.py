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


SECOND_FIELDS: list[dict[str, Any]] = [
    {"name": "kana", "label": "フリガナ", "box": (180.0, 130.0, 470.0, 156.0), "type": "katakana"},
    {
        "name": "era",
        "label": "元号",
        "box": (180.0, 190.0, 380.0, 212.0),
        "type": "choice",
        "options": [
            {"value": "令和", "box": (180.0, 190.0, 230.0, 212.0)},
            {"value": "平成", "box": (255.0, 190.0, 305.0, 212.0)},
            {"value": "昭和", "box": (330.0, 190.0, 380.0, 212.0)},
        ],
    },
    {
        "name": "smoker",
        "label": "喫煙",
        "box": (180.0, 240.0, 300.0, 262.0),
        "type": "choice",
        "options": [
            {"value": "はい", "box": (180.0, 240.0, 230.0, 262.0)},
            {"value": "いいえ", "box": (250.0, 240.0, 300.0, 262.0)},
        ],
    },
    {"name": "consent", "label": "同意する", "box": (180.0, 290.0, 194.0, 304.0), "type": "checkbox"},
]


def make_second_template_pdf() -> bytes:
    """A different form (health questionnaire): other title, body text, boxes and printed choices."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    font = _font()
    _width, height = A4
    pdf.setFont(font, 20)
    pdf.drawString(120, height - 70, "健康診査 問診票（テスト様式）")
    pdf.setFont(font, 11)
    for i in range(24):
        pdf.drawString(
            70,
            height - 400 - i * 16,
            f"{i + 1}. 最近一か月の体調について、あてはまるものに○をつけてください。",
        )
    pdf.rect(50, 60, 495, height - 470, stroke=1, fill=0)
    for spec in SECOND_FIELDS:
        x0, y0, x1, y1 = spec["box"]
        pdf.drawString(70, height - y1 + 5, str(spec["label"]))
        if spec["type"] == "choice":
            pdf.setFont(font, 13)
            for option in spec["options"]:
                ox0, _oy0, _ox1, oy1 = option["box"]
                pdf.drawString(ox0 + 6, height - oy1 + 6, str(option["value"]))
            pdf.setFont(font, 11)
        else:
            pdf.rect(x0 - 2, height - y1 - 2, x1 - x0 + 4, y1 - y0 + 4)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def make_unknown_template_pdf() -> bytes:
    """A form nobody registered: a table of other text and lines."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    font = _font()
    width, height = A4
    pdf.setFont(font, 16)
    pdf.drawString(200, height - 60, "転入届（未登録の様式）")
    pdf.setFont(font, 9)
    for row in range(30):
        y = height - 110 - row * 22
        pdf.line(40, y, width - 40, y)
        pdf.drawString(48, y - 15, f"第{row + 1}欄　世帯主との続柄・生年月日・性別　記入欄 {row * 13 % 97}")
    for x in (40, 200, 380, width - 40):
        pdf.line(x, height - 110, x, height - 110 - 29 * 22)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


@pytest.fixture(scope="session")
def second_layout() -> FormLayout:
    return FormLayout.model_validate({"code": "second_form", "title": "問診票", "fields": SECOND_FIELDS})


@pytest.fixture(scope="session")
def second_template_pdf() -> bytes:
    return make_second_template_pdf()
