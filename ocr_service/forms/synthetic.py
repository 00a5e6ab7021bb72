"""Make synthetic filled forms with KNOWN values: for ``ocr-service forms test`` and the tests.

``render_filled_pdf`` rasterises a blank template, writes each value into its
field box with a handwriting-style font, ticks checkboxes, applies scanner-like
distortions and returns the result as a one-page image PDF (like a scan).

Needs poppler-utils (pdftoppm, used by pdf2image) and a handwriting font; the
default is Klee One from the Debian package ``fonts-klee``. Other handwriting
fonts that work: ``fonts-seto`` (瀬戸フォント) and ``fonts-kiloji`` (きろ字); see
:data:`HANDWRITING_FONTS`.
"""

from __future__ import annotations

import io
import random
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import numpy as np
from pdf2image import convert_from_bytes
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from pypdf import PdfReader, PdfWriter

from ocr_service.forms.layout import FormLayout
from ocr_service.forms.pen_marks import draw_circle, draw_stamp

HANDWRITING_FONTS: dict[str, str] = {
    "klee": "/usr/share/fonts/truetype/klee/KleeOne-Regular.ttf",
    "klee-semibold": "/usr/share/fonts/truetype/klee/KleeOne-SemiBold.ttf",
    "seto": "/usr/share/fonts/truetype/seto/setofont.ttf",
    "kiloji": "/usr/share/fonts/truetype/kiloji/kiloji.ttf",
}
"""Handwriting-style fonts by short name (Debian: fonts-klee, fonts-seto, fonts-kiloji)."""

DEFAULT_HANDWRITING_FONT = HANDWRITING_FONTS["klee"]

INK = (24, 26, 38)
"""Ballpoint-pen ink colour (near-black, slightly blue)."""
PAPER = (255, 255, 255)

TEXT_HEIGHT_RATIO = 0.70
"""Glyph size as a fraction of the box height (or of the cell, for comb fields)."""
MULTILINE_MAX_PT = 16.0
"""Largest glyph size for multiline fields, in points."""
INSET_PT = 4.0
"""Gap between the box's left edge and the first character, in points."""


def installed_handwriting_fonts() -> dict[str, str]:
    """The handwriting fonts of :data:`HANDWRITING_FONTS` that are installed here."""
    return {name: path for name, path in HANDWRITING_FONTS.items() if Path(path).is_file()}


@lru_cache(maxsize=8192)
def _glyph_mask(path: str, ch: str) -> bytes:
    mask = bytes(_font(path, 32).getmask(ch))
    return mask if any(mask) else b""


def font_covers(font_path: str, text: str) -> bool:
    """True when the font has a glyph for every character (missing ones render as the .notdef box).

    Handwriting fonts cover kana but not every kanji (きろ字 has only part of JIS level 1).
    """
    notdef = _glyph_mask(font_path, "\ue000")  # private use: never in these fonts
    # Some fonts draw a box for a missing glyph, others nothing at all.
    return all(ch.isspace() or _glyph_mask(font_path, ch) not in (notdef, b"") for ch in text)


@lru_cache(maxsize=256)
def _font(path: str, size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, max(size_px, 4))


def _box_px(box: tuple[float, float, float, float], px_per_pt: float) -> tuple[float, float, float, float]:
    """A box in PDF points (field or printed option) in pixels at ``px_per_pt``."""
    x0, y0, x1, y1 = box
    return x0 * px_per_pt, y0 * px_per_pt, x1 * px_per_pt, y1 * px_per_pt


def _draw_line_of_text(
    draw: ImageDraw.ImageDraw,
    text: str,
    *,
    font_path: str,
    size_px: float,
    left: float,
    centre_y: float,
    max_width: float,
    rng: random.Random,
) -> None:
    """Left-aligned handwriting: per-character small jitter in position, spacing and size."""
    spacing = 0.04 * size_px
    font = _font(font_path, round(size_px))
    natural = draw.textlength(text, font=font) + spacing * max(len(text) - 1, 0)
    if natural > max_width:
        size_px *= max_width / natural
        spacing *= max_width / natural
        font = _font(font_path, round(size_px))
    x = left
    for ch in text:
        jitter_size = round(size_px * rng.uniform(0.96, 1.0))
        glyph_font = _font(font_path, jitter_size)
        dy = rng.uniform(-0.04, 0.04) * size_px
        draw.text((x, centre_y + dy), ch, font=glyph_font, fill=INK, anchor="lm")
        x += draw.textlength(ch, font=font) + spacing * rng.uniform(0.3, 1.0)


def _draw_comb(
    draw: ImageDraw.ImageDraw,
    text: str,
    box: tuple[float, float, float, float],
    cells: int,
    *,
    font_path: str,
    rng: random.Random,
) -> None:
    """One character centred per equal-width cell (extra characters are dropped)."""
    x0, y0, x1, y1 = box
    cell_w = (x1 - x0) / cells
    size_px = TEXT_HEIGHT_RATIO * min(y1 - y0, cell_w * 1.1)
    for index, ch in enumerate(text[:cells]):
        cx = x0 + (index + 0.5) * cell_w + rng.uniform(-0.04, 0.04) * cell_w
        cy = (y0 + y1) / 2 + rng.uniform(-0.04, 0.04) * (y1 - y0)
        draw.text((cx, cy), ch, font=_font(font_path, round(size_px)), fill=INK, anchor="mm")


def _draw_multiline(
    draw: ImageDraw.ImageDraw,
    text: str,
    box: tuple[float, float, float, float],
    *,
    font_path: str,
    px_per_pt: float,
    rng: random.Random,
) -> None:
    """Wrap by character (Japanese has no spaces); lines that do not fit in the box are dropped."""
    x0, y0, x1, y1 = box
    inset = INSET_PT * px_per_pt
    size_px = min(TEXT_HEIGHT_RATIO * (y1 - y0), MULTILINE_MAX_PT * px_per_pt)
    font = _font(font_path, round(size_px))
    max_width = (x1 - x0) - 2 * inset
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        current = ""
        for ch in paragraph:
            if current and draw.textlength(current + ch, font=font) * 1.06 > max_width:
                lines.append(current)
                current = ""
            current += ch
        lines.append(current)
    line_height = size_px * 1.5
    y = y0 + inset + line_height / 2
    for line in lines:
        if y + size_px / 2 > y1 - inset:
            break
        _draw_line_of_text(
            draw,
            line,
            font_path=font_path,
            size_px=size_px,
            left=x0 + inset,
            centre_y=y,
            max_width=max_width,
            rng=rng,
        )
        y += line_height


def _draw_check(
    draw: ImageDraw.ImageDraw, box: tuple[float, float, float, float], rng: random.Random
) -> None:
    """A hand-drawn tick (レ shape) that stays inside the square."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0

    def point(fx: float, fy: float) -> tuple[float, float]:
        return (x0 + (fx + rng.uniform(-0.03, 0.03)) * w, y0 + (fy + rng.uniform(-0.03, 0.03)) * h)

    width = max(2, round(0.13 * min(w, h)))
    draw.line([point(0.2, 0.5), point(0.42, 0.78), point(0.84, 0.2)], fill=INK, width=width, joint="curve")


def _fill_page(
    page: Image.Image,
    layout: FormLayout,
    values: Mapping[str, str | bool],
    *,
    page_no: int,
    font_path: str,
    px_per_pt: float,
    rng: random.Random,
) -> None:
    draw = ImageDraw.Draw(page)
    for spec in layout.fields_on_page(page_no):
        if spec.name not in values:
            continue
        value = values[spec.name]
        box = _box_px(spec.box, px_per_pt)
        if spec.type == "checkbox":
            if not isinstance(value, bool):
                raise TypeError(f"checkbox field '{spec.name}' needs a bool value, got {value!r}")
            if value:
                _draw_check(draw, box, rng)
            continue
        if spec.type == "choice":
            # "令和" circles that option; "令和|平成" circles both (an ambiguous sheet).
            for chosen in str(value).split("|") if value else []:
                option = next((o for o in spec.options if o.value == chosen), None)
                if option is None:
                    raise ValueError(f"choice field '{spec.name}' has no option {chosen!r}")
                draw_circle(draw, _box_px(option.box, px_per_pt), rng)
            continue
        if not isinstance(value, str):
            raise TypeError(f"field '{spec.name}' ({spec.type}) needs a str value, got {value!r}")
        if not value:
            continue
        if spec.cells > 0:
            _draw_comb(draw, value, box, spec.cells, font_path=font_path, rng=rng)
        elif spec.multiline:
            _draw_multiline(draw, value, box, font_path=font_path, px_per_pt=px_per_pt, rng=rng)
        else:
            x0, y0, x1, y1 = box
            inset = INSET_PT * px_per_pt
            _draw_line_of_text(
                draw,
                value,
                font_path=font_path,
                size_px=TEXT_HEIGHT_RATIO * (y1 - y0),
                left=x0 + inset,
                centre_y=(y0 + y1) / 2,
                max_width=(x1 - x0) - 2 * inset,
                rng=rng,
            )


def _distort(
    image: Image.Image,
    *,
    rotate_deg: float,
    shift_px: tuple[int, int],
    scale: float,
    noise: float,
    upside_down: bool,
    seed: int,
    blur: float = 0.0,
) -> Image.Image:
    width, height = image.size
    if blur > 0:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    if scale != 1.0:
        scaled = image.resize(
            (max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.LANCZOS
        )
        canvas = Image.new("RGB", (width, height), PAPER)
        canvas.paste(scaled, ((width - scaled.width) // 2, (height - scaled.height) // 2))
        image = canvas
    if rotate_deg:
        image = image.rotate(rotate_deg, resample=Image.Resampling.BICUBIC, fillcolor=PAPER)
    if shift_px != (0, 0):
        canvas = Image.new("RGB", (width, height), PAPER)
        canvas.paste(image, shift_px)
        image = canvas
    if upside_down:
        image = image.rotate(180)
    if noise > 0:
        generator = np.random.default_rng(seed)
        pixels = np.asarray(image, dtype=np.float64)
        pixels = pixels + generator.normal(0.0, noise * 255.0, size=pixels.shape[:2])[..., None]
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="RGB")
    return image


def _image_to_pdf(image: Image.Image, dpi: int) -> bytes:
    buffer = io.BytesIO()
    # No creation/modification dates: the same arguments give the same bytes.
    image.save(buffer, format="PDF", resolution=float(dpi), title="scan", creationDate=None, modDate=None)
    return buffer.getvalue()


def render_filled_pdf(
    *,
    template_pdf: bytes,
    layout: FormLayout,
    values: Mapping[str, str | bool],
    font_path: str | None = None,
    dpi: int = 200,
    rotate_deg: float = 0.0,
    shift_px: tuple[int, int] = (0, 0),
    scale: float = 1.0,
    noise: float = 0.0,
    upside_down: bool = False,
    seed: int = 0,
    page: int = 1,
    blur: float = 0.0,
    quarter_turns: int = 0,
    stamp_over: str | None = None,
    grayscale: bool = False,
) -> bytes:
    """Return a one-page image PDF: the template page ``page`` filled with ``values``, as if scanned.

    - ``values``: field name -> text (str) or tick (bool, checkbox fields only). Fields not in
      ``values`` or with ``""``/``False`` stay blank; names not in the layout raise ``ValueError``;
      values for fields on other pages are ignored.
    - Text: handwriting font (default Klee One), ~70 % of the box height, left-aligned with a
      4 pt inset, shrunk to fit the width. Comb fields (``cells`` > 0): one character centred per
      equal-width cell. ``multiline`` fields wrap by character.
    - Distortions, applied in this order around the page centre: ``scale`` (content shrinks or
      grows, page size unchanged), ``rotate_deg`` (counter-clockwise, degrees), ``shift_px``
      (right, down), ``upside_down`` (180 degrees), ``noise`` (gaussian, std dev as a fraction of
      full scale, e.g. 0.05). ``blur`` (gaussian radius in pixels, applied first, like a
      scanner's optics). Margins uncovered by a distortion are white.
    - ``quarter_turns``: the sheet fed turned by that many quarter turns counter-clockwise
      (1 and 3 give a landscape page), applied after the other distortions.
    - ``stamp_over``: a red seal (印) stamped over the centre of that field; ``grayscale``
      delivers the scan as a grey image (the seal then is grey ink, not red).
    - The output page is the rasterised page size at ``dpi`` (A4 template -> A4 PDF page).

    Deterministic for the same arguments (``seed`` drives the handwriting jitter and the noise).
    """
    unknown = sorted(set(values) - {spec.name for spec in layout.fields})
    if unknown:
        raise ValueError(f"values for fields not in layout '{layout.code}': {', '.join(unknown)}")
    if not 1 <= page <= layout.pages:
        raise ValueError(f"page {page} is outside 1..{layout.pages}")
    font = font_path or DEFAULT_HANDWRITING_FONT
    if not Path(font).is_file():
        raise FileNotFoundError(f"handwriting font {font} not found (Debian: apt-get install fonts-klee)")
    images = convert_from_bytes(template_pdf, dpi=dpi, first_page=page, last_page=page)
    if not images:
        raise ValueError(f"template has no page {page}")
    image: Image.Image = images[0].convert("RGB")
    _fill_page(
        image,
        layout,
        values,
        page_no=page,
        font_path=font,
        px_per_pt=dpi / 72.0,
        rng=random.Random(seed),  # noqa: S311 (test data, not secrets)
    )
    if stamp_over is not None:
        spec = next(f for f in layout.fields if f.name == stamp_over)
        x0, y0, x1, y1 = _box_px(spec.box, dpi / 72.0)
        draw_stamp(ImageDraw.Draw(image), ((x0 + x1) / 2, (y0 + y1) / 2), (y1 - y0) * 1.3)
    image = _distort(
        image,
        rotate_deg=rotate_deg,
        shift_px=shift_px,
        scale=scale,
        noise=noise,
        upside_down=upside_down,
        seed=seed,
        blur=blur,
    )
    if quarter_turns % 4:
        image = image.rotate(90 * (quarter_turns % 4), expand=True)
    if grayscale:
        image = image.convert("L").convert("RGB")
    return _image_to_pdf(image, dpi)


def render_filled_multi_pdf(pages: list[bytes]) -> bytes:
    """Concatenate PDFs (typically one-page scans from ``render_filled_pdf``) into one PDF."""
    if not pages:
        raise ValueError("no pages to concatenate")
    writer = PdfWriter()
    for data in pages:
        for pdf_page in PdfReader(io.BytesIO(data)).pages:
            writer.add_page(pdf_page)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()
