"""Per-form CSV export profile: part of the form layout YAML, so it is versioned with the form.

Core systems (住民記録, 税, 福祉) differ in what they accept: code page, date style,
half- or full-width characters. The profile states it once per form instead of per download.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ExportEncoding = Literal["cp932", "shift_jis", "utf-8", "utf-8-sig"]
"""cp932 (Windows-31J, the default), strict JIS X 0208 Shift_JIS, UTF-8 with or without BOM."""
WidthRule = Literal["keep", "half", "full"]
DOCUMENT_ID_COLUMN = "$document_id"
"""Pseudo field name: the document id, so a core system can refer back to the scan."""


class ExportColumn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(description=f"Field name, or {DOCUMENT_ID_COLUMN}")
    header: str | None = Field(default=None, max_length=100, description="Defaults to the field's csv_column")
    width: WidthRule | None = Field(default=None, description="Overrides the profile's width rule")


class ExportProfile(BaseModel):
    """How one form's confirmed documents become CSV rows (one row per document)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: list[ExportColumn] | None = Field(
        default=None, description="Column order and headers; default: document id, then every field"
    )
    encoding: ExportEncoding = "cp932"
    line_ending: Literal["crlf", "lf"] = "crlf"
    quoting: Literal["minimal", "all"] = "minimal"
    header_row: bool = True
    date_style: Literal["seireki", "wareki", "keep"] = "seireki"
    """seireki: 2025/05/12; wareki: 令和7年5月12日; keep: as confirmed."""
    date_separator: str = Field(default="/", max_length=1, description="Between year, month, day (西暦)")
    zero_pad: bool = True
    """Pad month and day (and the 和暦 year) to two digits."""
    width: WidthRule = "keep"
    """half: 全角英数・カナ → 半角; full: 半角 → 全角; keep: unchanged."""
    formula_guard: Literal["prefix", "off"] = "prefix"
    """CSV injection (OWASP): a cell starting with = + - @ tab or CR (or their full-width forms) gets a
    leading ' so a spreadsheet shows it as text; headers too. "off" only for a core system that needs
    such values verbatim and never opens the file in a spreadsheet."""
    unrepresentable: Literal["refuse", "replace"] = "refuse"
    """A character the encoding cannot hold: refuse the export, or use the organisation's mapping table."""

    def unknown_fields(self, names: Iterable[str]) -> list[str]:
        """Column fields that name no field of the form (a layout error)."""
        known = {*names, DOCUMENT_ID_COLUMN}
        return [c.field for c in self.columns or [] if c.field not in known]
