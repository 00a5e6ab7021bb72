"""Apply a field's type and declared rules to a value, and a form's cross-field rules to a page.

Pure functions: values in, verdicts out. Reasons are Japanese, for the reviewer.
The value itself is never changed here; ``normalized`` is what an export or a
comparison should use (postal digits, canonical 和暦, full-width katakana, …).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from ocr_service.forms.layout import FieldSpec, FormLayout
from ocr_service.forms.rules import (
    AtMostOneRule,
    BeforeRule,
    Condition,
    EqualIfRule,
    FieldRules,
    RequiredIfRule,
)
from ocr_service.validation.checkdigit import has_valid_check_digit
from ocr_service.validation.kana import is_hiragana, is_katakana, normalize_hiragana, normalize_katakana
from ocr_service.validation.phone import PhoneError, normalize_phone, phone_kind
from ocr_service.validation.postal import PostalError, normalize_postal
from ocr_service.validation.text import fold_width
from ocr_service.validation.wareki import DateError, format_wareki, parse_date, parse_eraless_date, to_wareki

__all__ = ["CrossViolation", "FieldCheck", "check_cross_field_rules", "check_field_value"]

REQUIRED_EMPTY = "必須項目が空欄です"


@dataclass(frozen=True)
class FieldCheck:
    """Verdict on one value: ``reason`` is None when it is valid."""

    reason: str | None = None
    normalized: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class CrossViolation:
    """A broken cross-field rule and the fields the reviewer should look at."""

    fields: tuple[str, ...]
    reason: str


def _date_check(text: str, rules: FieldRules | None) -> FieldCheck:
    try:
        day = parse_date(text)
        return FieldCheck(normalized=format_wareki(day) if day >= date(1868, 1, 25) else day.isoformat())
    except DateError as exc:
        problem = str(exc)
    # A box after a printed era (令和 [6年9月20日]) holds no era: accept a real month and day,
    # unless date rules need the exact day.
    if rules is None or not (rules.date_min or rules.date_max or rules.not_future or rules.eras):
        try:
            year, month, day_of_month = parse_eraless_date(text)
            return FieldCheck(normalized=f"{year}年{month}月{day_of_month}日")
        except DateError:
            pass
    return FieldCheck(reason=problem)


def _by_type(text: str, field_type: str, cells: int, rules: FieldRules | None = None) -> FieldCheck:
    """Type check and normalisation; the error types carry the Japanese reason."""
    if field_type == "date":
        return _date_check(text, rules)
    try:
        if field_type == "postal":
            return FieldCheck(normalized=normalize_postal(text))
        if field_type == "phone":
            return FieldCheck(normalized=normalize_phone(text).digits)
    except (DateError, PostalError, PhoneError) as exc:
        return FieldCheck(reason=str(exc))
    if field_type == "digits":
        digits = fold_width(text)
        if not (digits.isascii() and digits.isdigit()):
            return FieldCheck(reason=f"「{text}」に数字以外の文字があります")
        if cells and len(digits) > cells:
            return FieldCheck(reason=f"マス目（{cells}個）より多い{len(digits)}桁が読み取られました")
        return FieldCheck(normalized=digits)
    if field_type == "katakana":
        kana = normalize_katakana(text)
        return (
            FieldCheck(normalized=kana)
            if is_katakana(kana)
            else FieldCheck(reason="カタカナ以外の文字があります")
        )
    if field_type == "hiragana":
        kana = normalize_hiragana(text)
        return (
            FieldCheck(normalized=kana)
            if is_hiragana(kana)
            else FieldCheck(reason="ひらがな以外の文字があります")
        )
    return FieldCheck(normalized=text.strip())


def _by_rules(normalized: str, field_type: str, rules: FieldRules, today: date | None) -> str | None:
    """The first broken rule's reason, or None."""
    if rules.min_length is not None and len(normalized) < rules.min_length:
        return f"{rules.min_length}文字以上必要です（{len(normalized)}文字）"
    if rules.max_length is not None and len(normalized) > rules.max_length:
        return f"{rules.max_length}文字以内です（{len(normalized)}文字）"
    if rules.pattern is not None and re.fullmatch(rules.pattern, normalized) is None:
        return "決められた書式に合いません"
    if rules.digits is not None:
        count = sum(ch.isdigit() for ch in normalized)
        if count != rules.digits:
            return f"{rules.digits}桁の番号です（{count}桁）"
    if rules.min_value is not None and int(normalized) < rules.min_value:
        return f"{rules.min_value}以上の数です"
    if rules.max_value is not None and int(normalized) > rules.max_value:
        return f"{rules.max_value}以下の数です"
    if rules.check_digit is not None and (problem := has_valid_check_digit(normalized, rules.check_digit)):
        return problem
    if (
        rules.phone_kinds is not None
        and field_type == "phone"
        and phone_kind(normalized)[0] not in rules.phone_kinds
    ):
        return "この欄に書けない種類の電話番号です"
    if field_type == "date" and (rules.date_min or rules.date_max or rules.not_future or rules.eras):
        return _date_rules(parse_date(normalized), rules, today)
    return None


def _date_rules(day: date, rules: FieldRules, today: date | None) -> str | None:
    if rules.date_min is not None and day < rules.date_min:
        return f"{format_wareki(rules.date_min)}より前の日付は書けません"
    if rules.date_max is not None and day > rules.date_max:
        return f"{format_wareki(rules.date_max)}より後の日付は書けません"
    if rules.not_future and day > (today or date.today()):
        return "未来の日付になっています"
    if rules.eras is not None and to_wareki(day).era not in rules.eras:
        return f"元号は{'・'.join(rules.eras)}のいずれかです"
    return None


def check_field_value(
    value: str | bool,
    *,
    field_type: str,
    rules: FieldRules | None = None,
    required: bool = False,
    cells: int = 0,
    today: date | None = None,
) -> FieldCheck:
    """Validate one field value against its type, ``required`` and its rules.

    Args:
        value: the text read (or keyed), or a checkbox's bool.
        field_type: the layout field type (text, hiragana, katakana, digits, date, postal, phone, …).
        rules: the field's declared rules, if any.
        required: an empty value is invalid.
        cells: comb cell count (digits fields may not have more characters).
        today: the day of reading, for ``not_future`` (default: the system date).

    Returns:
        the verdict: ``reason`` (Japanese) when invalid, else ``normalized``.
    """
    if isinstance(value, bool):
        return FieldCheck(normalized="1" if value else "0")
    if not fold_width(value):
        return FieldCheck(reason=REQUIRED_EMPTY) if required else FieldCheck(normalized="")
    checked = _by_type(value, field_type, cells, rules)
    if not checked.ok or rules is None or checked.normalized is None:
        return checked
    reason = _by_rules(checked.normalized, field_type, rules, today)
    return checked if reason is None else FieldCheck(reason=reason)


def _filled(value: str | bool | None) -> bool:
    return value is True or (isinstance(value, str) and bool(fold_width(value)))


def _holds(condition: Condition, values: Mapping[str, str | bool]) -> bool:
    value = values.get(condition.field)
    if condition.equals is None:
        return _filled(value)
    if isinstance(condition.equals, bool) or isinstance(value, bool):
        return value is condition.equals or (value is None and condition.equals is False)
    return isinstance(value, str) and fold_width(value) == fold_width(condition.equals)


def _labels(layout: FormLayout) -> dict[str, str]:
    return {spec.name: spec.label for spec in layout.fields}


def _date_or_none(value: str | bool | None) -> date | None:
    if not isinstance(value, str) or not fold_width(value):
        return None
    try:
        return parse_date(value)
    except DateError:
        return None  # the field check reports it


def check_cross_field_rules(layout: FormLayout, values: Mapping[str, str | bool]) -> list[CrossViolation]:
    """Evaluate the layout's cross-field rules on the values present.

    A rule is evaluated only when every field it names is in ``values`` (a page of a
    multi-page form holds only some fields; the rest are checked with their page).
    """
    labels = _labels(layout)
    found: list[CrossViolation] = []
    for rule in layout.cross_field_rules:
        if isinstance(rule, BeforeRule):
            if rule.field not in values or rule.other not in values:
                continue
            first, second = _date_or_none(values[rule.field]), _date_or_none(values[rule.other])
            if first is None or second is None:
                continue
            if first > second or (first == second and not rule.allow_equal):
                reason = rule.message or f"{labels[rule.field]}は{labels[rule.other]}より前の日付のはずです"
                found.append(CrossViolation((rule.field, rule.other), reason))
        elif isinstance(rule, EqualIfRule):
            if not {rule.field, rule.other, rule.when.field} <= values.keys() or not _holds(
                rule.when, values
            ):
                continue
            a, b = values[rule.field], values[rule.other]
            if isinstance(a, str) and isinstance(b, str) and fold_width(a) != fold_width(b):
                reason = rule.message or f"{labels[rule.field]}が{labels[rule.other]}と一致しません"
                found.append(CrossViolation((rule.field, rule.other), reason))
        elif isinstance(rule, RequiredIfRule):
            if not {rule.field, rule.when.field} <= values.keys() or not _holds(rule.when, values):
                continue
            if not _filled(values[rule.field]):
                reason = rule.message or f"{labels[rule.when.field]}のときは{labels[rule.field]}が必要です"
                found.append(CrossViolation((rule.field,), reason))
        elif isinstance(rule, AtMostOneRule):
            if not set(rule.fields) <= values.keys():
                continue
            ticked = tuple(name for name in rule.fields if values[name] is True)
            if len(ticked) > 1:
                names = "・".join(labels[n] for n in ticked)
                found.append(CrossViolation(ticked, rule.message or f"複数にチェックがあります（{names}）"))
            elif rule.kind == "exactly_one" and not ticked:
                names = "・".join(labels[n] for n in rule.fields)
                found.append(
                    CrossViolation(
                        tuple(rule.fields), rule.message or f"どれにもチェックがありません（{names}）"
                    )
                )
    return found


def check_spec_value(spec: FieldSpec, value: str | bool, *, today: date | None = None) -> FieldCheck:
    """:func:`check_field_value` with the type, rules, required flag and cells of a layout field."""
    return check_field_value(
        value, field_type=spec.type, rules=spec.rules, required=spec.required, cells=spec.cells, today=today
    )
