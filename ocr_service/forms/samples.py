"""Random but VALID values for every field of a layout, for synthetic test sheets.

Each value is drawn for the field's type and declared rules, then checked with
:mod:`ocr_service.validation` (a generator that produced an invalid value would
make ``forms test`` measure the wrong thing). Cross-field rules are satisfied
too: one tick per ``at_most_one`` group, ``required_if`` targets filled,
``equal_if`` copied, ``before`` dates ordered. Values follow the keying
conventions of the evaluation data: dates as 令和6年9月20日, comb fields digits
only, free-written postal codes and phone numbers hyphenated.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from ocr_service.forms.layout import FieldSpec, FormLayout
from ocr_service.forms.rules import AtMostOneRule, BeforeRule, EqualIfRule, RequiredIfRule
from ocr_service.validation.checkdigit import (
    corporate_number_check_digit,
    luhn_check_digit,
    my_number_check_digit,
)
from ocr_service.validation.kana import to_katakana
from ocr_service.validation.phone import hyphenate_phone
from ocr_service.validation.rules import check_cross_field_rules, check_spec_value
from ocr_service.validation.wareki import ERAS, format_wareki

__all__ = ["SampleValue", "random_values"]

SampleValue = str | bool

_SURNAMES = [
    ("山田", "やまだ"), ("佐藤", "さとう"), ("鈴木", "すずき"), ("高橋", "たかはし"), ("田中", "たなか"),
    ("伊藤", "いとう"), ("渡辺", "わたなべ"), ("中村", "なかむら"), ("小林", "こばやし"), ("加藤", "かとう"),
    ("吉田", "よしだ"), ("松本", "まつもと"), ("井上", "いのうえ"), ("木村", "きむら"), ("林", "はやし"),
]  # fmt: skip
_GIVEN = [
    ("太郎", "たろう"), ("花子", "はなこ"), ("健太", "けんた"), ("美咲", "みさき"), ("翔", "しょう"),
    ("結衣", "ゆい"), ("大輔", "だいすけ"), ("陽菜", "ひな"), ("直樹", "なおき"), ("さくら", "さくら"),
]  # fmt: skip
_SENTENCES = ["夜泣きが続いていて心配です。", "特にありません。", "離乳食の進め方を相談したいです。"]
_PLACES = ["東山市桜町", "東山市緑が丘", "西川市本町", "北野市中央", "南浜市港町", "川口市栄町"]


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def _date(rng: random.Random, spec: FieldSpec, today: date) -> str:
    rules = spec.rules
    low = rules.date_min if rules and rules.date_min else date(1950, 1, 1)
    high = rules.date_max if rules and rules.date_max else today
    if rules and rules.eras:
        eras = [e for e in ERAS if e.name in rules.eras]
        low = max(low, min(e.first_day for e in eras))
        ends = [e.last_day or today for e in eras]
        high = min(high, max(ends))
    if rules and rules.not_future:
        high = min(high, today)
    return format_wareki(low + timedelta(days=rng.randint(0, max(0, (high - low).days))))


def _digit_value(rng: random.Random, spec: FieldSpec) -> str:
    rules = spec.rules
    if rules and rules.check_digit == "my_number":
        body = _digits(rng, 11)
        return body + str(my_number_check_digit(body))
    if rules and rules.check_digit == "corporate_number":
        body = _digits(rng, 12)
        return str(corporate_number_check_digit(body)) + body
    x0, y0, x1, y1 = spec.box
    fits = max(1, min(4, int((x1 - x0) / (y1 - y0) * 1.2)))  # a digit is about 0.8 box heights wide
    count = (rules.digits if rules and rules.digits else None) or spec.cells or rng.randint(1, fits)
    if rules and rules.check_digit == "luhn":
        body = _digits(rng, max(1, count - 1))
        return body + str(luhn_check_digit(body))
    if rules and (rules.min_value is not None or rules.max_value is not None):
        low = rules.min_value if rules.min_value is not None else 0
        high = rules.max_value if rules.max_value is not None else 10**count - 1
        return str(rng.randint(low, high))
    return _digits(rng, count)


def _phone(rng: random.Random, spec: FieldSpec) -> str:
    kinds = list(spec.rules.phone_kinds) if spec.rules and spec.rules.phone_kinds else ["mobile", "fixed"]
    kind = rng.choice(kinds)
    prefix = {
        "mobile": rng.choice(["070", "080", "090"]),
        "ip": "050",
        "free_dial": "0120",
        "navi_dial": "0570",
    }
    head = prefix.get(kind) or rng.choice(["03", "06", "011", "045", "052", "092", "0123", "0465"])
    digits = head + _digits(rng, (11 if kind in ("mobile", "ip") else 10) - len(head))
    return digits if spec.cells else hyphenate_phone(digits)


def _value(rng: random.Random, spec: FieldSpec, today: date) -> SampleValue:
    surname, reading = rng.choice(_SURNAMES)
    given, given_reading = rng.choice(_GIVEN)
    if spec.type == "checkbox":
        return rng.random() < 0.5
    if spec.type == "date":
        return _date(rng, spec, today)
    if spec.type == "digits":
        return _digit_value(rng, spec)
    if spec.type == "postal":
        code = _digits(rng, 7)
        return code if spec.cells else f"{code[:3]}-{code[3:]}"
    if spec.type == "phone":
        return _phone(rng, spec)
    if spec.type == "hiragana":
        return reading + given_reading
    if spec.type == "katakana":
        return to_katakana(reading + given_reading)
    if spec.multiline:
        return rng.choice(_SENTENCES)
    if "住所" in spec.label or "address" in spec.name:
        return f"{rng.choice(_PLACES)}{rng.randint(1, 5)}丁目{rng.randint(1, 30)}番{rng.randint(1, 20)}号"
    return surname + given


def _satisfy_cross_rules(rng: random.Random, layout: FormLayout, values: dict[str, SampleValue]) -> None:
    for rule in layout.cross_field_rules:
        if isinstance(rule, AtMostOneRule):
            chosen = rng.choice(rule.fields)
            keep = rule.kind == "exactly_one" or rng.random() < 0.8
            for name in rule.fields:
                values[name] = keep and name == chosen
        elif isinstance(rule, RequiredIfRule) and not values.get(rule.field):
            values[rule.field] = "記入あり" if rule.field not in values else values[rule.field] or "記入あり"
        elif isinstance(rule, EqualIfRule):
            values[rule.field] = values[rule.other]
        elif isinstance(rule, BeforeRule):
            a, b = values[rule.field], values[rule.other]
            values[rule.field], values[rule.other] = sorted([a, b], key=_sort_key)


def _sort_key(value: SampleValue) -> date:
    from ocr_service.validation.wareki import parse_date

    return parse_date(str(value)) if value else date.min


def random_values(
    layout: FormLayout, *, rng: random.Random, today: date | None = None, page: int | None = None
) -> dict[str, SampleValue]:
    """A valid value for every field (of ``page``, or all pages) of ``layout``.

    Types this generator does not know (e.g. a ``choice`` field) are left out.

    Raises:
        ValueError: no valid set of values was found in 20 tries (contradictory rules).
    """
    day = today or date.today()
    specs = [s for s in layout.fields if page is None or s.page == page]
    for _attempt in range(20):
        values = {s.name: _value(rng, s, day) for s in specs if s.type in _KNOWN_TYPES}
        _satisfy_cross_rules(rng, layout, values)
        by_name = {s.name: s for s in specs}
        if all(check_spec_value(by_name[n], v, today=day).ok for n, v in values.items()) and not (
            check_cross_field_rules(layout, values)
        ):
            return values
    raise ValueError(f"layout '{layout.code}': could not generate values that satisfy its rules")


_KNOWN_TYPES = frozenset({"text", "hiragana", "katakana", "digits", "date", "postal", "phone", "checkbox"})
