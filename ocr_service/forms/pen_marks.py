"""Hand marks drawn onto generated scans: a circle around a printed option, a red seal (印)."""

from __future__ import annotations

import random

from PIL import ImageDraw, ImageFont

__all__ = ["draw_circle", "draw_stamp"]

_SEAL_FONT = "/usr/share/fonts/truetype/klee/KleeOne-Regular.ttf"


def draw_circle(
    draw: ImageDraw.ImageDraw,
    box: tuple[float, float, float, float],
    rng: random.Random,
    *,
    colour: tuple[int, int, int] = (24, 26, 38),
) -> None:
    """A hand-drawn ○ around ``box`` (pixels): a slightly loose ellipse, a little off-centre."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    grow_x, grow_y = w * rng.uniform(0.12, 0.22), h * rng.uniform(0.25, 0.4)
    dx, dy = w * rng.uniform(-0.04, 0.04), h * rng.uniform(-0.05, 0.05)
    width = max(2, round(0.1 * h))
    draw.ellipse(
        (x0 - grow_x + dx, y0 - grow_y + dy, x1 + grow_x + dx, y1 + grow_y + dy), outline=colour, width=width
    )


def draw_stamp(
    draw: ImageDraw.ImageDraw, centre: tuple[float, float], diameter: float, *, font_path: str = _SEAL_FONT
) -> None:
    """A red personal seal (印鑑): a red ring with 印 inside, as stamped over a signature field."""
    red = (205, 32, 40)
    cx, cy = centre
    r = diameter / 2
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=red, width=max(2, round(diameter * 0.07)))
    font = ImageFont.truetype(font_path, max(4, round(diameter * 0.55)))
    draw.text((cx, cy), "印", font=font, fill=red, anchor="mm")
