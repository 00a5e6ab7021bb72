"""``forms test``: fill a layout with random valid values, scan it synthetically, read it back.

Tells an administrator whether a new layout works before it goes live: per
field, how often the real pipeline (:func:`workers.pipeline.document.process_pdf`)
reads the value that was written, how often it would be auto-accepted, and
how often an auto-accepted value would be wrong.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ocr_service.forms.layout import FormLayout
from ocr_service.forms.samples import SampleValue, random_values
from ocr_service.forms.synthetic import (
    font_covers,
    installed_handwriting_fonts,
    render_filled_multi_pdf,
    render_filled_pdf,
)
from workers.pipeline.document import process_pdf
from workers.pipeline.evaluate import normalize_for_scoring
from workers.pipeline.recognizer import Recognizer
from workers.pipeline.second_opinion import SecondOpinion

__all__ = ["run_synthetic_trial"]


@dataclass
class _Tally:
    type: str
    n: int = 0
    exact: int = 0
    accepted: int = 0
    accepted_wrong: int = 0
    invalid: int = 0

    def row(self, name: str) -> dict[str, Any]:
        return {
            "field": name,
            "type": self.type,
            "n": self.n,
            "field_acc": self.exact / self.n if self.n else 0.0,
            "auto_accepted": self.accepted,
            "auto_accept_errors": self.accepted_wrong,
            "invalid": self.invalid,
        }


def _same(truth: SampleValue, value: str | bool) -> bool:
    if isinstance(truth, bool):
        return isinstance(value, bool) and value == truth
    return isinstance(value, str) and normalize_for_scoring(value) == normalize_for_scoring(truth)


def _font_for(values: dict[str, SampleValue], fonts: list[tuple[str, str]], index: int) -> tuple[str, str]:
    """The index-th font in rotation that has a glyph for every value (else the first that does)."""
    text = "".join(v for v in values.values() if isinstance(v, str))
    rotated = fonts[index % len(fonts) :] + fonts[: index % len(fonts)]
    for name, path in rotated:
        if font_covers(path, text):
            return name, path
    return rotated[0]


def _scan(
    layout: FormLayout,
    template_pdf: bytes,
    values: dict[str, SampleValue],
    font: str,
    rng: random.Random,
    dpi: int,
) -> bytes:
    """One filled sheet (all pages), each page with its own scanner-like distortion."""
    pages = []
    for page in range(1, layout.pages + 1):
        pages.append(
            render_filled_pdf(
                template_pdf=template_pdf,
                layout=layout,
                values=values,
                font_path=font,
                dpi=dpi,
                rotate_deg=rng.uniform(-1.5, 1.5),
                shift_px=(rng.randint(-20, 20), rng.randint(-20, 20)),
                scale=rng.uniform(0.98, 1.02),
                noise=rng.uniform(0.01, 0.04),
                blur=rng.uniform(0.0, 0.8),
                seed=rng.randint(0, 2**31 - 1),
                page=page,
            )
        )
    return pages[0] if len(pages) == 1 else render_filled_multi_pdf(pages)


def run_synthetic_trial(
    layout: FormLayout,
    template_pdf: bytes,
    *,
    recognizer: Recognizer,
    n: int = 10,
    seed: int = 0,
    dpi: int = 200,
    threshold: float = 0.8,
    progress: Callable[[int, int], None] | None = None,
    second_opinion: SecondOpinion | None = None,
) -> dict[str, Any]:
    """Generate ``n`` filled sheets, read them with the pipeline and score every field.

    Returns:
        ``{"form", "n_sheets", "seed", "fonts", "n_fields", "field_acc", "auto_accept_rate",
        "auto_accept_error", "threshold", "fields": [per-field rows], "skipped_fields"}``.

    Raises:
        FileNotFoundError: no handwriting font is installed.
    """
    fonts = sorted(installed_handwriting_fonts().items())
    if not fonts:
        raise FileNotFoundError(
            "no handwriting font installed (Debian: fonts-klee, fonts-seto, fonts-kiloji)"
        )
    rng = random.Random(seed)  # noqa: S311 (synthetic test sheets, not secrets)
    tallies = {spec.name: _Tally(spec.type) for spec in layout.fields}
    used_fonts: set[str] = set()
    generated: set[str] = set()
    for sheet in range(n):
        values = random_values(layout, rng=rng)
        generated.update(values)
        font_name, font_path = _font_for(values, fonts, sheet)
        used_fonts.add(font_name)
        pdf = _scan(layout, template_pdf, values, font_path, rng, dpi)
        readings = process_pdf(
            pdf,
            layout=layout,
            template_pdf=template_pdf,
            recognizer=recognizer,
            dpi=dpi,
            low_confidence_threshold=threshold,
            second_opinion=second_opinion,
        )
        found = {f.name: f for page in readings for f in page.fields}
        for name, truth in values.items():
            tally = tallies[name]
            reading = found.get(name)
            right = reading is not None and _same(truth, reading.value)
            tally.n += 1
            tally.exact += int(right)
            if reading is not None and reading.confidence >= threshold:
                tally.accepted += 1
                tally.accepted_wrong += int(not right)
            tally.invalid += int(reading is not None and reading.status == "invalid")
        if progress is not None:
            progress(sheet + 1, n)
    rows = [tallies[spec.name].row(spec.name) for spec in layout.fields if spec.name in generated]
    total = sum(r["n"] for r in rows)
    accepted = sum(r["auto_accepted"] for r in rows)
    return {
        "form": f"{layout.code}@v{layout.version}",
        "n_sheets": n,
        "seed": seed,
        "fonts": sorted(used_fonts),
        "n_fields": total,
        "field_acc": sum(t.exact for t in tallies.values()) / total if total else 0.0,
        "auto_accept_rate": accepted / total if total else 0.0,
        "auto_accept_error": sum(r["auto_accept_errors"] for r in rows) / accepted if accepted else 0.0,
        "threshold": threshold,
        "fields": rows,
        "skipped_fields": [spec.name for spec in layout.fields if spec.name not in generated],
    }
