"""The checks a document must pass before it is confirmed.

Confirmation applies the form's full validation (:mod:`ocr_service.validation`):
field types, declared rules, required fields and cross-field rules, i.e. exactly
what the pipeline checked when it read the page, now on the reviewed values; and a
date written in separate boxes must name a day that exists
(:mod:`workers.pipeline.splitdates`), as the same date written in one field must.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ocr_service.forms.layout import FieldSpec, FormLayout
from ocr_service.validation.rules import check_cross_field_rules, check_spec_value
from workers.pipeline.splitdates import missing_day_reason, split_dates_with_eras

_CHECKBOX_VALUES = {"1": True, "0": False, "": False}
"""Stored checkbox values (FieldResult.value) and what they mean."""


@dataclass(frozen=True)
class FieldProblem:
    field_name: str
    label: str
    reason: str
    """Japanese, shown to staff."""


def _typed(spec: FieldSpec, value: str) -> str | bool:
    return _CHECKBOX_VALUES.get(value.strip(), value) if spec.type == "checkbox" else value


def check_field_value(spec: FieldSpec, value: str) -> str | None:
    """Why ``value`` is not acceptable for ``spec`` (Japanese), or None when it is."""
    typed = _typed(spec, value)
    if spec.type == "checkbox" and not isinstance(typed, bool):
        return "チェック欄は 0 か 1 です"
    return check_spec_value(spec, typed).reason


def check_document(layout: FormLayout, values: Mapping[str, str]) -> list[FieldProblem]:
    """Every field of the form checked against its value (a missing result counts as empty),
    then the form's cross-field rules; one problem per field, the field's own first."""
    problems: dict[str, FieldProblem] = {}
    for spec in layout.fields:
        reason = check_field_value(spec, values.get(spec.name, ""))
        if reason is not None:
            problems[spec.name] = FieldProblem(field_name=spec.name, label=spec.label, reason=reason)
    specs = {spec.name: spec for spec in layout.fields}
    typed = {spec.name: _typed(spec, values.get(spec.name, "")) for spec in layout.fields}
    for page in sorted({spec.page for spec in layout.fields}):
        for date, era in split_dates_with_eras(layout.fields_on_page(page), typed):
            reason = missing_day_reason(date, values, era=era)
            if reason is None:
                continue
            for name in date.names:
                problems.setdefault(name, FieldProblem(field_name=name, label=specs[name].label, reason=reason))
    for violation in check_cross_field_rules(layout, typed):
        for name in violation.fields:
            if name not in problems:
                problems[name] = FieldProblem(
                    field_name=name, label=specs[name].label, reason=violation.reason
                )
    return [problems[spec.name] for spec in layout.fields if spec.name in problems]
