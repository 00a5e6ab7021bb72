"""Declarative validation rules in a form definition: per field, across fields, identification hints.

These models are part of the ``form.yaml`` schema (referenced from
:mod:`ocr_service.forms.layout`); :mod:`ocr_service.validation.rules` applies them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ocr_service.validation.checkdigit import CheckDigitKind
from ocr_service.validation.phone import PhoneKind

__all__ = [
    "AtMostOneRule",
    "BeforeRule",
    "Condition",
    "CrossFieldRule",
    "EqualIfRule",
    "FieldRules",
    "IdentificationHints",
    "RequiredIfRule",
    "check_layout_rules",
]

EraName = Literal["明治", "大正", "昭和", "平成", "令和"]

_STRICT = ConfigDict(extra="forbid", frozen=True)


class FieldRules(BaseModel):
    """Rules one field's value must satisfy (on top of its type); all optional."""

    model_config = _STRICT

    min_length: int | None = Field(default=None, ge=0, description="Fewest characters (after normalisation)")
    max_length: int | None = Field(default=None, ge=1, description="Most characters (after normalisation)")
    pattern: str | None = Field(
        default=None, description="Python regular expression the whole normalised value must match"
    )
    digits: int | None = Field(default=None, ge=1, le=64, description="Exact number of digits")
    min_value: int | None = Field(default=None, description="Smallest number (digits fields)")
    max_value: int | None = Field(default=None, description="Largest number (digits fields)")
    check_digit: CheckDigitKind | None = Field(
        default=None, description="Check-digit algorithm: my_number (個人番号), corporate_number, luhn"
    )
    date_min: date | None = Field(default=None, description="Earliest allowed date (date fields)")
    date_max: date | None = Field(default=None, description="Latest allowed date (date fields)")
    not_future: bool = Field(default=False, description="The date may not be after the day of reading")
    eras: list[EraName] | None = Field(
        default=None, min_length=1, description="Allowed eras of a date (e.g. the ones the form prints)"
    )
    phone_kinds: list[PhoneKind] | None = Field(
        default=None, min_length=1, description="Allowed kinds: mobile, ip, free_dial, navi_dial, fixed"
    )

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {exc}") from exc
        return pattern

    @model_validator(mode="after")
    def _ranges_ordered(self) -> FieldRules:
        for low, high in (("min_length", "max_length"), ("min_value", "max_value"), ("date_min", "date_max")):
            a, b = getattr(self, low), getattr(self, high)
            if a is not None and b is not None and a > b:
                raise ValueError(f"{low} ({a}) is greater than {high} ({b})")
        return self


_TYPE_ONLY_KEYS: dict[str, frozenset[str]] = {
    "date": frozenset({"date_min", "date_max", "not_future", "eras"}),
    "digits": frozenset({"min_value", "max_value", "check_digit"}),
    "phone": frozenset({"phone_kinds"}),
}
"""Rule keys that only make sense for one field type."""
_DIGIT_COUNT_TYPES = frozenset({"digits", "phone", "postal"})


class Condition(BaseModel):
    """``when`` of a conditional rule: another field is filled / ticked, or equals a value."""

    model_config = _STRICT

    field: str
    equals: str | bool | None = Field(
        default=None, description="Value to compare with; omitted = the field is filled (or ticked)"
    )


class _Rule(BaseModel):
    model_config = _STRICT

    message: str | None = Field(default=None, max_length=200, description="Reason shown to the reviewer")


class BeforeRule(_Rule):
    """Date ``field`` is before date ``other`` (e.g. 生年月日 before 申請日)."""

    kind: Literal["before"]
    field: str
    other: str
    allow_equal: bool = False


class EqualIfRule(_Rule):
    """``field`` equals ``other`` when the condition holds (e.g. 同上 ticked → same address)."""

    kind: Literal["equal_if"]
    field: str
    other: str
    when: Condition


class RequiredIfRule(_Rule):
    """``field`` must be filled when the condition holds (e.g. その他 ticked → 内容 required)."""

    kind: Literal["required_if"]
    field: str
    when: Condition


class AtMostOneRule(_Rule):
    """Of these checkboxes at most one (``at_most_one``) or exactly one (``exactly_one``) is ticked."""

    kind: Literal["at_most_one", "exactly_one"]
    fields: list[str] = Field(min_length=2)


CrossFieldRule = Annotated[
    BeforeRule | EqualIfRule | RequiredIfRule | AtMostOneRule, Field(discriminator="kind")
]


class IdentificationHints(BaseModel):
    """Printed text that identifies the form (used by form identification; stored with the version)."""

    model_config = _STRICT

    form_codes: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, description="Printed form numbers, e.g. 様式第3号"
    )
    titles: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, description="Printed titles, e.g. 住民票の写し等交付請求書"
    )


class _FieldLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def rules(self) -> FieldRules | None: ...


def _referenced(rule: BeforeRule | EqualIfRule | RequiredIfRule | AtMostOneRule) -> list[str]:
    if isinstance(rule, AtMostOneRule):
        return list(rule.fields)
    names = [rule.field]
    if isinstance(rule, BeforeRule | EqualIfRule):
        names.append(rule.other)
    if isinstance(rule, EqualIfRule | RequiredIfRule):
        names.append(rule.when.field)
    return names


def check_layout_rules(
    fields: Sequence[_FieldLike],
    cross_rules: Sequence[BeforeRule | EqualIfRule | RequiredIfRule | AtMostOneRule],
) -> None:
    """Rules fit their fields: keys match the field type, cross rules name existing fields of the right type.

    Raises:
        ValueError: the first problem, naming the field or rule.
    """
    types = {spec.name: spec.type for spec in fields}
    for spec in fields:
        if spec.rules is None:
            continue
        # Keys with a value, not model_fields_set: a stored layout spells out every default.
        used = {key for key, value in spec.rules.model_dump().items() if value not in (None, False)}
        if spec.type == "checkbox" and used:
            raise ValueError(
                f"field '{spec.name}': checkbox fields take no rules ({', '.join(sorted(used))})"
            )
        for field_type, keys in _TYPE_ONLY_KEYS.items():
            wrong = sorted(used & keys)
            if wrong and spec.type != field_type:
                raise ValueError(
                    f"field '{spec.name}': rule {', '.join(wrong)} needs type {field_type}, not {spec.type}"
                )
        if "digits" in used and spec.type not in _DIGIT_COUNT_TYPES:
            raise ValueError(f"field '{spec.name}': rule digits needs type digits, phone or postal")
    for index, rule in enumerate(cross_rules):
        where = f"cross_field_rules[{index}] ({rule.kind})"
        for name in _referenced(rule):
            if name not in types:
                raise ValueError(f"{where}: unknown field '{name}'")
        if isinstance(rule, BeforeRule):
            for name in (rule.field, rule.other):
                if types[name] != "date":
                    raise ValueError(f"{where}: field '{name}' must have type date, not {types[name]}")
        if isinstance(rule, AtMostOneRule):
            for name in rule.fields:
                if types[name] != "checkbox":
                    raise ValueError(f"{where}: field '{name}' must be a checkbox, not {types[name]}")
