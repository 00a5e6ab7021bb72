"""The back of a sheet as a duplex scanner delivers it, for blank-page tests."""

from __future__ import annotations

import random

import numpy as np
from pdf2image import convert_from_bytes
from PIL import Image, ImageDraw

from ocr_service.forms.synthetic import DEFAULT_HANDWRITING_FONT, _draw_line_of_text, _image_to_pdf

__all__ = ["render_blank_back_pdf"]


def render_blank_back_pdf(
    *, template_pdf: bytes | None = None, dpi: int = 200, seed: int = 0, note: str | None = None
) -> bytes:
    """The back of a sheet as a duplex scanner delivers it: grey paper, noise, dust specks and,
    with ``template_pdf``, the front page showing through the paper (mirrored, very light).
    ``note`` writes a short handwritten line on it (then it is not blank)."""
    rng = random.Random(seed)
    width, height = round(595.28 * dpi / 72), round(841.89 * dpi / 72)
    pixels = np.full((height, width), 236.0)
    if template_pdf is not None:
        front = convert_from_bytes(template_pdf, dpi=dpi, first_page=1, last_page=1)[0].convert("L")
        seen = np.asarray(front.resize((width, height)), dtype=np.float64)[:, ::-1]
        pixels -= (255.0 - seen) * 0.12
    generator = np.random.default_rng(seed)
    pixels += generator.normal(0.0, 4.0, size=pixels.shape)
    for _ in range(25):
        x, y = rng.randrange(width), rng.randrange(height)
        size = rng.randint(1, max(1, dpi // 100))
        pixels[y : y + size, x : x + size] = rng.uniform(20, 90)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="L").convert("RGB")
    if note:
        _draw_line_of_text(
            ImageDraw.Draw(image),
            note,
            font_path=DEFAULT_HANDWRITING_FONT,
            size_px=dpi / 72.0 * 16,
            left=width * 0.2,
            centre_y=height * 0.4,
            max_width=width * 0.6,
            rng=rng,
        )
    return _image_to_pdf(image, dpi)
