"""Dates for CSV export: read what the reviewer confirmed, write it the way a core system wants.

Parsing is the validation package's (:func:`ocr_service.validation.wareki.parse_date`), so
export accepts exactly the dates that confirmation accepted.
"""

from __future__ import annotations

from datetime import date

from ocr_service.validation.wareki import DateError, parse_date, to_wareki


def parse_japanese_date(text: str) -> date | None:
    """A date from 令和7年5月12日, R7.5.12, 2025/05/12, 2025-5-12, 2025年5月12日 or 20250512; else None."""
    try:
        return parse_date(text)
    except DateError:
        return None


def format_date(value: date, *, style: str, separator: str = "/", zero_pad: bool = True) -> str:
    """西暦 ``2025/05/12`` or 和暦 ``令和07年05月12日`` (``zero_pad`` pads month, day and era year)."""
    pad = "{:02d}" if zero_pad else "{:d}"
    if style == "wareki":
        era = to_wareki(value)
        return f"{era.era}{pad.format(era.year)}年{pad.format(value.month)}月{pad.format(value.day)}日"
    return separator.join((f"{value.year:04d}", pad.format(value.month), pad.format(value.day)))
