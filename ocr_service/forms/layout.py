"""Form layout model: the in-memory shape of one form definition version.

A layout is what the admin defines and what the recognition pipeline reads:
the template page size, and every field with its box on the blank template.

Coordinates are PDF points (1/72 inch) with the origin at the top-left corner
of the template page, the same convention as the evaluation ``fields.json``
format, so both sources map onto one model without conversion.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ocr_service.export.profile import ExportProfile
from ocr_service.forms.rules import CrossFieldRule, FieldRules, IdentificationHints, check_layout_rules
from ocr_service.review.options import ReviewOptions

FieldType = Literal["text", "hiragana", "katakana", "digits", "date", "postal", "phone", "checkbox", "choice"]
"""Character type of a field; drives recognition constraints and validation."""

FIELD_TYPES: tuple[FieldType, ...] = (
    "text",
    "hiragana",
    "katakana",
    "digits",
    "date",
    "postal",
    "phone",
    "checkbox",
    "choice",
)


PersonalCategory = Literal[
    "氏名", "住所", "生年月日", "電話", "個人番号", "性別", "メール", "健康", "口座", "その他"
]
"""Kind of personal data a field holds; the usage report (利用状況報告) counts items per category."""


class ChoiceOption(BaseModel):
    """One printed option of a ``choice`` field (e.g. 令和 / 平成 / 昭和, はい / いいえ)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: str = Field(min_length=1, max_length=100, description="Value recorded when this option is marked")
    box: tuple[float, float, float, float] = Field(
        description="x0, y0, x1, y1 in PDF points around the printed option (or its tick box)"
    )


def _box_is_valid(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = box
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"box {list(box)} must satisfy x1 > x0 and y1 > y0")
    if min(box) < 0:
        raise ValueError(f"box {list(box)} has a negative coordinate")
    return box


class FieldSpec(BaseModel):
    """One field on the form."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$", description="Machine name, unique in the form")
    label: str = Field(min_length=1, max_length=200, description="Japanese label shown to reviewers")
    box: tuple[float, float, float, float] = Field(
        description="x0, y0, x1, y1 in PDF points, top-left origin"
    )
    type: FieldType = "text"
    page: int = Field(default=1, ge=1, description="1-based template page the field is on")
    cells: int = Field(default=0, ge=0, le=64, description="Comb cells (one character per printed box)")
    multiline: bool = False
    required: bool = False
    csv_column: str | None = Field(
        default=None, max_length=100, description="CSV header; defaults to the label"
    )
    rules: FieldRules | None = Field(default=None, description="Validation rules on top of the type")
    options: list[ChoiceOption] = Field(
        default_factory=list,
        description="choice fields: the printed options, one of which is circled or ticked",
    )
    category: PersonalCategory | None = Field(
        default=None,
        description="Personal-data category (氏名・住所・生年月日・電話・個人番号…); empty if none",
    )

    @model_validator(mode="after")
    def _options_match_type(self) -> FieldSpec:
        if self.type == "choice":
            if len(self.options) < 2:
                raise ValueError(f"choice field '{self.name}' needs at least two options")
            if len({o.value for o in self.options}) != len(self.options):
                raise ValueError(f"choice field '{self.name}' has duplicate option values")
            for option in self.options:
                _box_is_valid(option.box)
        elif self.options:
            raise ValueError(f"field '{self.name}' of type {self.type} cannot have options")
        return self

    @field_validator("box")
    @classmethod
    def _box_is_ordered(cls, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        return _box_is_valid(box)

    @property
    def column_header(self) -> str:
        return self.csv_column or self.label


class FormLayout(BaseModel):
    """A complete form definition version (without the template PDF bytes)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,62}$")
    title: str = Field(min_length=1, max_length=200)
    version: int = Field(default=1, ge=1)
    page_size_pt: tuple[float, float] = (595.28, 841.89)
    pages: int = Field(default=1, ge=1, le=20)
    fields: list[FieldSpec] = Field(min_length=1)
    identification: IdentificationHints | None = None
    cross_field_rules: list[CrossFieldRule] = Field(default_factory=list)
    review: ReviewOptions = Field(default_factory=ReviewOptions)
    export: ExportProfile = Field(default_factory=ExportProfile)

    @model_validator(mode="after")
    def _fields_fit(self) -> FormLayout:
        # Every problem at once: an administrator fixing a layout should not find them one per run.
        problems: list[str] = []
        seen: set[str] = set()
        width, height = self.page_size_pt
        for spec in self.fields:
            if spec.name in seen:
                problems.append(f"field '{spec.name}' is defined twice")
            seen.add(spec.name)
            if spec.page > self.pages:
                problems.append(f"field '{spec.name}' is on page {spec.page} but the form has {self.pages}")
            _x0, _y0, x1, y1 = spec.box
            if x1 > width + 1 or y1 > height + 1:
                problems.append(f"field '{spec.name}' box {list(spec.box)} lies outside the page")
        try:
            check_layout_rules(self.fields, self.cross_field_rules)
        except ValueError as exc:
            problems.append(str(exc))
        if unknown := self.export.unknown_fields(seen):
            problems.append(f"export columns name unknown fields: {unknown}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def fields_on_page(self, page: int) -> list[FieldSpec]:
        return [f for f in self.fields if f.page == page]
