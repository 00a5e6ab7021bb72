"""Number ranges and check digits of digits fields (layout rules or a well-known label) as priors and review reasons."""

from __future__ import annotations

import numpy as np
import pytest

from ocr_service.forms.layout import FieldSpec, FormLayout
from ocr_service.forms.rules import FieldRules
from ocr_service.validation.checkdigit import CheckDigitKind, my_number_check_digit
from tests.support.ctc import frames
from workers.pipeline.decoding import decode_field, field_context
from workers.pipeline.quantities import (
    check_digit_kind,
    implausible_number,
    known_range,
    number_range,
    range_prior,
)
from workers.pipeline.types import FieldReading
from workers.pipeline.validate import validate_page_fields

DIGITS = ["", *"0123456789", " "]
WEIGHT = FieldSpec(name="birth_weight_g", label="出生時の体重（g）", box=(10, 10, 90, 30), type="digits", cells=4)


@pytest.mark.parametrize(
    ("label", "span"),
    [
        ("出生時の体重（g）", (200, 6500)),
        ("出生体重（グラム）", (200, 6500)),
        ("在胎週数（週）", (20, 45)),
        ("出生順位（第○子）", (1, 15)),
        ("年齢（歳）", (0, 120)),
        ("身長（cm）", (20, 220)),
        ("体重（kg）", None),
        ("生年月日（年）", None),
        ("必要なもの：住民票の写し（通数）", None),
    ],
)
def test_well_known_quantities_are_read_off_the_label(label: str, span: tuple[int, int] | None) -> None:
    """GIVEN a label WHEN its range is asked THEN a newborn's weight in grams, the weeks of gestation,
    the birth order, an age and a height in cm have one; anything else (a weight in kg, a date box,
    a count) has none."""
    assert known_range(label) == span


def test_the_layout_s_rules_come_before_the_label() -> None:
    """GIVEN min/max rules WHEN the range is asked THEN the rules' range, open-ended where one is missing."""
    assert number_range(label="出生時の体重（g）", min_value=1000, max_value=5000) == (1000, 5000)
    assert number_range(label="通数", min_value=1) == (1, 10**12)
    assert number_range(label="通数") is None


def test_range_prior_accepts_only_numbers_that_can_still_fall_in_the_range() -> None:
    """GIVEN 200–6500 WHEN texts are scored THEN 953 and 2537 pass, 9537 is penalised while still being
    read, a leading zero and a too-short number at the end are penalised."""
    prior = range_prior((200, 6500), penalty=2.5)
    assert prior("953", True) == prior("2537", True) == prior("95", False) == 0.0
    assert prior("9537", False) < 0.0 and prior("9537", True) < 0.0
    assert prior("0253", True) < 0.0 and prior("25", True) < 0.0


def test_a_close_runner_up_inside_the_range_wins_and_a_clear_reading_stays() -> None:
    """GIVEN 出生時の体重（g） whose first cell reads 9 (56 %) over 2 (42 %) (dev: 2537 read 9537)
    WHEN decoded with the field's context THEN 2537, without it 9537; GIVEN 9 at 97 % THEN 9537
    (a prior never overrides a clear reading)."""
    context = field_context(WEIGHT)
    assert context is not None and context.span == (200, 6500)
    mask = np.ones(len(DIGITS), dtype=bool)

    def weight(p9: float, p2: float) -> np.ndarray:
        return frames(DIGITS, [{"9": p9, "2": p2}, {}, {"5": 0.99}, {}, {"3": 0.99}, {}, {"7": 0.99}])

    assert decode_field(weight(0.56, 0.42), DIGITS, "digits", mask, context=context)[0] == "2537"
    assert decode_field(weight(0.56, 0.42), DIGITS, "digits", mask)[0] == "9537"
    assert decode_field(weight(0.97, 0.02), DIGITS, "digits", mask, context=context)[0] == "9537"


def test_a_number_outside_a_well_known_range_goes_to_review_as_read() -> None:
    """GIVEN a confident 9537 for 出生時の体重（g） WHEN validated THEN kept, sent to review with a Japanese
    reason naming the quantity; 2537 stays ok; a field with no known range is not judged."""
    layout = FormLayout(code="kenshin", title="問診票", fields=[WEIGHT])
    odd = validate_page_fields(
        [FieldReading(name="birth_weight_g", value="9537", confidence=0.99, status="ok")], layout=layout, threshold=0.95
    )[0]
    assert (odd.value, odd.status) == ("9537", "low_confidence") and odd.confidence < 0.95
    assert odd.reason is not None and "出生体重" in odd.reason
    fine = FieldReading(name="birth_weight_g", value="2537", confidence=0.99, status="ok")
    assert validate_page_fields([fine], layout=layout, threshold=0.95) == [fine]
    assert implausible_number(label="通数", value="9537") is None


def test_rules_give_any_digits_field_a_range_prior() -> None:
    """GIVEN a digits field whose layout rules say 1–20 WHEN its context is built THEN it carries that range."""
    spec = FieldSpec(
        name="copies", label="通数", box=(1, 1, 9, 9), type="digits", rules=FieldRules(min_value=1, max_value=20)
    )
    context = field_context(spec)
    assert context is not None and context.span == (1, 20)
    assert field_context(FieldSpec(name="note", label="備考", box=(1, 1, 9, 9), type="text")) is None


MY_NUMBER = FieldSpec(name="my_number", label="個人番号（マイナンバー）", box=(10, 10, 200, 30), type="digits", cells=12)


def _valid_my_number(first11: str) -> str:
    return first11 + str(my_number_check_digit(first11))


@pytest.mark.parametrize(
    ("label", "field_type", "rules_kind", "kind"),
    [
        ("個人番号", "digits", None, "my_number"),
        ("マイナンバー", "digits", None, "my_number"),
        ("法人番号", "digits", None, "corporate_number"),
        ("会員番号", "digits", "luhn", "luhn"),
        ("個人番号", "text", None, None),
        ("電話番号", "digits", None, None),
    ],
)
def test_a_check_digit_comes_from_the_rules_or_the_label(
    label: str, field_type: str, rules_kind: CheckDigitKind | None, kind: str | None
) -> None:
    """GIVEN a field's label, type and rule WHEN its check digit is asked THEN the rule's, else 個人番号 /
    マイナンバー / 法人番号 by the label, and only for digits fields."""
    assert check_digit_kind(label=label, field_type=field_type, rules_kind=rules_kind) == kind


def test_a_doubtful_digit_whose_runner_up_passes_the_check_wins_and_a_clear_reading_stays() -> None:
    """GIVEN a 個人番号 whose 5th digit reads 1 (55 %) over 7 (40 %), where only 7 passes the check
    WHEN decoded with the field's context THEN 7, without it 1; GIVEN the 1 at 97 % THEN it stays
    (the check never overturns a clear reading; the validator sends it to review)."""
    truth = _valid_my_number("12347678901")
    misread = truth[:4] + "1" + truth[5:]
    assert my_number_check_digit(misread[:11]) != int(misread[11])
    context = field_context(MY_NUMBER)
    assert context is not None and context.check_digit == "my_number"
    mask = np.ones(len(DIGITS), dtype=bool)

    def number(p1: float, p7: float) -> np.ndarray:
        rows: list[dict[str, float]] = []
        for i, ch in enumerate(truth):
            rows += [{"1": p1, "7": p7} if i == 4 else {ch: 0.99}, {}]
        return frames(DIGITS, rows)

    assert decode_field(number(0.55, 0.40), DIGITS, "digits", mask, context=context)[0] == truth
    assert decode_field(number(0.55, 0.40), DIGITS, "digits", mask)[0] == misread
    assert decode_field(number(0.97, 0.02), DIGITS, "digits", mask, context=context)[0] == misread


def test_a_my_number_failing_its_check_goes_to_review_as_read() -> None:
    """GIVEN a layout with 個人番号 and no rules WHEN a number failing its check digit is validated THEN
    it is kept and sent to review with a Japanese reason; a valid one stays ok."""
    layout = FormLayout(code="todoke", title="届出書", fields=[MY_NUMBER])
    truth = _valid_my_number("12347678901")
    bad = truth[:4] + "1" + truth[5:]
    flagged = validate_page_fields(
        [FieldReading(name="my_number", value=bad, confidence=0.99, status="ok")], layout=layout, threshold=0.95
    )[0]
    assert (flagged.value, flagged.status) == (bad, "low_confidence") and flagged.confidence < 0.95
    assert flagged.reason is not None and "チェックデジット" in flagged.reason
    fine = FieldReading(name="my_number", value=truth, confidence=0.99, status="ok")
    assert validate_page_fields([fine], layout=layout, threshold=0.95) == [fine]
