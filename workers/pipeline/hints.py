"""Review hints from what two fields of a page must agree on; values are never rewritten.

- Postal code ↔ address: the municipality an address starts with must be one the postal
  code's first three digits serve (Japan Post data via :mod:`workers.pipeline.priors`).
  Only the first three digits are compared: they name the delivery area, and a code whose
  last four digits are unknown must not raise a false alarm.
- Furigana ↔ name: when a kanji name starts with a common surname, its furigana must start
  with one of that surname's readings.

A hint sends both fields to review (status ``low_confidence`` with the reason, confidence
capped under the auto-accept threshold); the reviewer decides which one is wrong.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

from ocr_service.forms.layout import FieldSpec, FormLayout
from ocr_service.validation.kana import to_hiragana
from workers.pipeline.furigana import kana_base_field
from workers.pipeline.priors import name_readings, postal_places
from workers.pipeline.roles import compact
from workers.pipeline.types import FieldReading

__all__ = ["POSTAL_MISMATCH", "READING_MISMATCH", "consistency_hints", "is_address", "with_hints"]

POSTAL_MISMATCH = "郵便番号と住所が一致しません"
READING_MISMATCH = "氏名とふりがなが一致しません"
_HINT_CAP = 0.9
"""A hinted field's confidence is at most this fraction of the threshold."""


_ADDRESS_LABEL = re.compile("住所|所在地|居所")
"""Labels of a postal address: 住所 (現住所, 住所地), a business's 所在地, 居所. Not 本籍, the family
register's domicile, which no postal code on the form describes."""


def is_address(spec: FieldSpec) -> bool:
    """A free-text field holding an address (by its name or its label, :data:`_ADDRESS_LABEL`)."""
    return spec.type == "text" and ("address" in spec.name or bool(_ADDRESS_LABEL.search(spec.label)))


def _reading_mismatch(name: str, kana: str) -> bool:
    readings = name_readings(name, given=False)
    return bool(readings) and bool(kana) and not any(to_hiragana(compact(kana)).startswith(r) for r in readings)


def _distance(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Gap between two boxes in points (0 when they touch or overlap)."""
    dx = max(0.0, max(a[0], b[0]) - min(a[2], b[2]))
    dy = max(0.0, max(a[1], b[1]) - min(a[3], b[3]))
    return math.hypot(dx, dy)


def consistency_hints(values: dict[str, str], layout: FormLayout, page: int) -> list[tuple[tuple[str, ...], str]]:
    """``(fields, reason)`` for every pair of fields on ``page`` that disagree."""
    specs = [s for s in layout.fields if s.page == page]
    hints: list[tuple[tuple[str, ...], str]] = []
    postal = [s for s in specs if s.type == "postal" and values.get(s.name)]
    addresses = [s for s in specs if is_address(s)]
    if len(postal) == 1 and addresses:
        code = values[postal[0].name]
        # A postal code belongs to the address printed next to it; another person's address on
        # the same page (申請者 and 対象者) may well lie elsewhere.
        spec = min(addresses, key=lambda s: _distance(s.box, postal[0].box))
        address = values.get(spec.name, "")
        served, start = postal_places(code)[0], postal_places(address)[1] if address else None
        if served and start is not None and not any(
            pref == start[0] and (not start[1] or city == start[1]) for pref, city in served
        ):
            hints.append(((postal[0].name, spec.name), POSTAL_MISMATCH))
    for spec in specs:
        base = kana_base_field(spec, specs)
        if base is None:
            continue
        if _reading_mismatch(values.get(base.name, ""), values.get(spec.name, "")):
            hints.append(((base.name, spec.name), READING_MISMATCH))
    return hints


def with_hints(
    readings: list[FieldReading], *, layout: FormLayout, page: int, threshold: float
) -> list[FieldReading]:
    """The readings with consistency hints applied (values unchanged)."""
    values = {r.name: r.value for r in readings if isinstance(r.value, str) and r.status != "unreadable"}
    by_name = {r.name: r for r in readings}
    for fields, reason in consistency_hints(values, layout, page):
        for name in fields:
            reading = by_name[name]
            if reading.status in ("ok", "low_confidence"):
                by_name[name] = replace(
                    reading,
                    status="low_confidence",
                    reason=reason,
                    confidence=min(reading.confidence, threshold * _HINT_CAP),
                )
    return [by_name[r.name] for r in readings]
