"""``forms check`` picture: the blank template with every field box drawn and labelled.

So an administrator can see at a glance that each box sits on the printed
writing area, comb cells line up with the printed cells and labels are right.
"""

from __future__ import annotations

import io
from pathlib import Path

from pdf2image import convert_from_bytes
from PIL import Image, ImageDraw, ImageFont

from ocr_service.forms.layout import FieldSpec, FormLayout

__all__ = ["LABEL_FONT", "render_layout_preview"]

LABEL_FONT = "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"
"""IPAex Gothic (Debian: fonts-ipaexfont), for the Japanese labels."""

_COLOURS: dict[str, tuple[int, int, int]] = {
    "text": (0, 90, 200),
    "hiragana": (0, 140, 140),
    "katakana": (0, 140, 90),
    "digits": (200, 90, 0),
    "date": (160, 0, 160),
    "postal": (200, 0, 60),
    "phone": (140, 100, 0),
    "checkbox": (0, 150, 0),
}
_OTHER = (90, 90, 90)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if Path(LABEL_FONT).is_file():
        return ImageFont.truetype(LABEL_FONT, size)
    return ImageFont.load_default()  # labels degrade to boxes of tofu, the boxes are still right


def _describe(number: int, spec: FieldSpec) -> str:
    cells = f" ×{spec.cells}" if spec.cells else ""
    extra = []
    if spec.required:
        extra.append("必須")
    if spec.rules is not None:
        extra.append("規則あり")
    if spec.page > 1:
        extra.append(f"p{spec.page}")
    suffix = f"（{'・'.join(extra)}）" if extra else ""
    return f"{number:>2} {spec.name} [{spec.type}{cells}] {spec.label}{suffix}"


def _draw_field(draw: ImageDraw.ImageDraw, number: int, spec: FieldSpec, scale: float, font_px: int) -> None:
    colour = _COLOURS.get(spec.type, _OTHER)
    x0, y0, x1, y1 = (v * scale for v in spec.box)
    draw.rectangle((x0, y0, x1, y1), outline=(*colour, 255), fill=(*colour, 40), width=2)
    for cell in range(1, spec.cells):
        x = x0 + (x1 - x0) * cell / spec.cells
        draw.line((x, y0, x, y1), fill=(*colour, 200), width=1)
    # The number tag sits on the box's top-left corner; the legend beside the page says what it is.
    font = _font(font_px)
    left, top, right, bottom = draw.textbbox((x0, y0), str(number), font=font, anchor="lb")
    draw.rectangle((left - 1, top - 1, right + 1, bottom + 1), fill=(*colour, 230))
    draw.text((x0, y0), str(number), font=font, fill=(255, 255, 255, 255), anchor="lb")


def _legend(lines: list[tuple[str, tuple[int, int, int]]], height: int, font_px: int) -> Image.Image:
    font = _font(font_px)
    line_h = round(font_px * 1.45)
    per_column = max(1, (height - 2 * line_h) // line_h)
    columns = [lines[i : i + per_column] for i in range(0, len(lines), per_column)] or [[]]
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    width = max((probe.textlength(text, font=font) for text, _ in lines), default=100.0)
    column_w = round(width) + 2 * font_px
    panel = Image.new("RGB", (column_w * len(columns) + font_px, height), (255, 255, 255))
    draw = ImageDraw.Draw(panel)
    draw.text((font_px, line_h // 2), "番号 名前 [型] ラベル", font=font, fill=(0, 0, 0))
    for c, column in enumerate(columns):
        for row, (text, colour) in enumerate(column):
            draw.text((font_px + c * column_w, line_h * (row + 2)), text, font=font, fill=colour)
    return panel


def render_layout_preview(layout: FormLayout, template_pdf: bytes, *, dpi: int = 110) -> bytes:
    """PNG of every template page (stacked top to bottom) with numbered boxes, and a legend beside it."""
    pages = convert_from_bytes(template_pdf, dpi=dpi, first_page=1, last_page=layout.pages)
    scale = dpi / 72.0
    font_px = max(9, round(6.5 * scale))
    drawn: list[Image.Image] = []
    legend: list[tuple[str, tuple[int, int, int]]] = []
    numbers = {spec.name: index for index, spec in enumerate(layout.fields, start=1)}
    for page_no, page in enumerate(pages, start=1):
        base = page.convert("RGBA")
        overlay = Image.new("RGBA", base.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        for spec in layout.fields_on_page(page_no):
            _draw_field(draw, numbers[spec.name], spec, scale, font_px)
        drawn.append(Image.alpha_composite(base, overlay).convert("RGB"))
    for spec in layout.fields:
        legend.append((_describe(numbers[spec.name], spec), _COLOURS.get(spec.type, _OTHER)))
    height = sum(p.height for p in drawn)
    panel = _legend(legend, height, font_px + 2)
    sheet = Image.new("RGB", (max(p.width for p in drawn) + panel.width, height), (255, 255, 255))
    y = 0
    for page in drawn:
        sheet.paste(page, (0, y))
        y += page.height
    sheet.paste(panel, (sheet.width - panel.width, 0))
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
