"""Validate what the pipeline read: field types and rules, a date split into boxes as one date
(:mod:`workers.pipeline.splitdates`), then the form's cross-field rules.

The one place recognition meets :mod:`ocr_service.validation`. An invalid value
is a reading the reviewer must see: status ``invalid``, a Japanese reason, and
its confidence capped well below the auto-accept threshold so that no
calibration drift lets it through. Values are never rewritten here.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from ocr_service.forms.layout import FormLayout
from ocr_service.validation.checkdigit import has_valid_check_digit
from ocr_service.validation.rules import check_cross_field_rules, check_spec_value
from workers.pipeline.quantities import check_digit_kind, implausible_number
from workers.pipeline.roles import compact, field_role, implausible_reason
from workers.pipeline.splitdates import split_date_reasons
from workers.pipeline.types import FieldReading

__all__ = ["INVALID_CONFIDENCE_FACTOR", "validate_page_fields"]

INVALID_CONFIDENCE_FACTOR = 0.5
"""An invalid field's confidence is at most this fraction of the auto-accept threshold."""

_CHECKED_STATUSES = frozenset({"ok", "low_confidence", "empty"})
"""Unreadable fields already go to review with their own reason."""


def _invalid(reading: FieldReading, reason: str, threshold: float) -> FieldReading:
    return replace(
        reading,
        status="invalid",
        reason=reason,
        confidence=min(reading.confidence, threshold * INVALID_CONFIDENCE_FACTOR),
    )


def _doubtful(reading: FieldReading, reason: str, threshold: float) -> FieldReading:
    """Valid but implausible (an application dated years ago): review, not rejection."""
    return replace(
        reading,
        status="low_confidence",
        reason=reason,
        confidence=min(reading.confidence, threshold * INVALID_CONFIDENCE_FACTOR),
    )


def validate_page_fields(
    readings: list[FieldReading], *, layout: FormLayout, threshold: float, today: date | None = None
) -> list[FieldReading]:
    """Readings of one page with invalid values flagged (same order, same values).

    Args:
        readings: the page's field readings, as the pipeline made them.
        layout: the layout they were read with (field types, rules, cross-field rules).
        threshold: the auto-accept confidence threshold of the pipeline.
        today: the day of reading, for ``not_future`` date rules and the plausibility of
            fill-in dates (:mod:`workers.pipeline.roles`); default the system date.
    """
    day = today or date.today()
    specs = {spec.name: spec for spec in layout.fields}
    checked: dict[str, FieldReading] = {}
    for reading in readings:
        spec = specs.get(reading.name)
        if spec is not None and reading.status in _CHECKED_STATUSES:
            verdict = check_spec_value(spec, reading.value, today=today)
            if not verdict.ok and verdict.reason is not None:
                reading = _invalid(reading, verdict.reason, threshold)
            elif isinstance(reading.value, str):
                role = field_role(name=spec.name, label=spec.label, field_type=spec.type)
                doubt = implausible_reason(role, reading.value, day)
                if doubt is None and spec.type == "digits":
                    doubt = implausible_number(label=spec.label, value=reading.value)
                if doubt is None and reading.value and (spec.rules is None or spec.rules.check_digit is None):
                    # The layout set no rule, but its label names a number with a check digit.
                    kind = check_digit_kind(label=spec.label, field_type=spec.type)
                    doubt = has_valid_check_digit(compact(reading.value), kind) if kind is not None else None
                if doubt is not None:
                    reading = _doubtful(reading, doubt, threshold)
        checked[reading.name] = reading
    # Only a surely read era box says which era a split birth date's year counts in.
    read = {name: r.value for name, r in checked.items() if isinstance(r.value, str) or r.status == "ok"}
    page_specs = [specs[name] for name in checked if name in specs]
    for names, reason, exists in split_date_reasons(page_specs, read, reference=day):
        for name in names:
            reading = checked[name]
            if reading.status in ("ok", "low_confidence"):
                # A box already in review keeps its own reason beside the date's.
                both = reason if reading.reason is None else f"{reading.reason}／{reason}"
                # A day that does not exist is invalid, as it is written in one date field.
                checked[name] = (_doubtful if exists else _invalid)(reading, both, threshold)
    values = {name: r.value for name, r in checked.items()}
    for violation in check_cross_field_rules(layout, values):
        for name in violation.fields:
            if checked[name].status != "invalid":
                checked[name] = _invalid(checked[name], violation.reason, threshold)
    return [checked[r.name] for r in readings]
