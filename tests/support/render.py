"""Filled forms for tests: the renderer lives in :mod:`ocr_service.forms.synthetic`; this adds fixed values."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ocr_service.forms.layout import FormLayout
from ocr_service.forms.synthetic import (
    DEFAULT_HANDWRITING_FONT,
    HANDWRITING_FONTS,
    render_filled_multi_pdf,
    render_filled_pdf,
)

__all__ = [
    "DEFAULT_HANDWRITING_FONT",
    "HANDWRITING_FONTS",
    "printed_line",
    "render_filled_multi_pdf",
    "render_filled_pdf",
    "sample_values_for",
]

_NYUYOJI_KENSHIN_VALUES: dict[str, str | bool] = {
    "entry_date": "令和7年5月12日",
    "child_furigana": "やまだたろう",
    "child_name": "山田太郎",
    "sex_male": True,
    "sex_female": False,
    "birth_era_reiwa": True,
    "birth_era_heisei": False,
    "birth_year": "5",
    "birth_month": "10",
    "birth_day": "21",
    "birth_weight_g": "3120",
    "guardian_name": "山田花子",
    "postal_code": "1234567",
    "address": "東山市桜町2丁目3番4号",
    "phone": "090-1234-5678",
    "q1_yes": True,
    "q1_no": False,
    "q2_yes": True,
    "q2_no": False,
    "q3_yes": True,
    "q3_no": False,
    "q4_yes": False,
    "q4_no": True,
    "q5_yes": True,
    "q5_no": False,
    "q6_yes": False,
    "q6_no": True,
    "concerns": "夜泣きが続いていて心配です。離乳食の進め方も相談したいです。",
}

_GENERIC_BY_TYPE: dict[str, str] = {
    "text": "東山花子",
    "hiragana": "ひがしやまはなこ",
    "katakana": "ヒガシヤマハナコ",
    "digits": "1234",
    "date": "令和7年4月1日",
    "postal": "1000001",
    "phone": "03-1234-5678",
}


def sample_values_for(layout: FormLayout) -> dict[str, str | bool]:
    """A realistic, deterministic value for every field of ``layout``.

    For the shipped ``nyuyoji_kenshin`` sample the values are hand-picked (山田太郎, やまだたろう,
    〒1234567, 090-1234-5678, ...); any other layout gets a plain value per field type, comb fields
    cut to their cell count, and checkboxes alternating True/False.
    """
    values: dict[str, str | bool] = {}
    checkbox_index = 0
    for spec in layout.fields:
        if layout.code == "nyuyoji_kenshin" and spec.name in _NYUYOJI_KENSHIN_VALUES:
            values[spec.name] = _NYUYOJI_KENSHIN_VALUES[spec.name]
        elif spec.type == "checkbox":
            values[spec.name] = checkbox_index % 2 == 0
            checkbox_index += 1
        else:
            text = _GENERIC_BY_TYPE[spec.type]
            if spec.cells > 0:
                text = (
                    ("0123456789" * 7)[: spec.cells]
                    if spec.type in ("digits", "postal")
                    else text[: spec.cells]
                )
            values[spec.name] = text
    return values


def printed_line(text: str, font_path: str) -> np.ndarray:
    """One line of ``text`` printed at 40 px on white paper (grayscale), as a field crop."""
    font = ImageFont.truetype(font_path, 40)
    image = Image.new("L", (40 + 44 * len(text), 64), 255)
    ImageDraw.Draw(image).text((12, 8), text, font=font, fill=0)
    return np.asarray(image)
