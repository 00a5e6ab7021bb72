"""Japanese dates: read 和暦 or 西暦 as written on forms, write them the way a core system wants."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

# (era, first day); a date belongs to the last era that started on or before it.
ERAS: tuple[tuple[str, date], ...] = (
    ("明治", date(1868, 10, 23)),
    ("大正", date(1912, 7, 30)),
    ("昭和", date(1926, 12, 25)),
    ("平成", date(1989, 1, 8)),
    ("令和", date(2019, 5, 1)),
)
_ERA_LETTERS = {"M": "明治", "T": "大正", "S": "昭和", "H": "平成", "R": "令和"}
_WAREKI = re.compile(
    r"^(明治|大正|昭和|平成|令和|[MTSHR])\s*(元|\d{1,2})\s*[年./\-]\s*(\d{1,2})\s*[月./\-]\s*(\d{1,2})\s*日?$"
)
_SEIREKI = re.compile(r"^(\d{4})\s*[年./\-]\s*(\d{1,2})\s*[月./\-]\s*(\d{1,2})\s*日?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def parse_japanese_date(text: str) -> date | None:
    """A date from 令和7年5月12日, R7.5.12, 2025/05/12, 2025-5-12, 2025年5月12日 or 20250512; else None."""
    value = unicodedata.normalize("NFKC", text).strip().upper()
    try:
        if match := _WAREKI.match(value):
            era, year_text, month, day = match.groups()
            era = _ERA_LETTERS.get(era, era)
            start = dict(ERAS)[era]
            year = start.year + (1 if year_text == "元" else int(year_text)) - 1
            parsed = date(year, int(month), int(day))
            return parsed if parsed >= start else None
        if match := _SEIREKI.match(value) or _COMPACT.match(value):
            return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None
    return None


def format_date(value: date, *, style: str, separator: str = "/", zero_pad: bool = True) -> str:
    """西暦 ``2025/05/12`` or 和暦 ``令和07年05月12日`` (``zero_pad`` pads month, day and era year)."""
    pad = "{:02d}" if zero_pad else "{:d}"
    if style == "wareki":
        era, start = next((name, start) for name, start in reversed(ERAS) if value >= start)
        year = value.year - start.year + 1
        return f"{era}{pad.format(year)}年{pad.format(value.month)}月{pad.format(value.day)}日"
    return separator.join((f"{value.year:04d}", pad.format(value.month), pad.format(value.day)))
