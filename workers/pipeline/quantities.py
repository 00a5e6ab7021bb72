"""The range of numbers a digits field can plausibly hold, as a prior for its decoding.

A layout may say it (``rules.min_value`` / ``rules.max_value``); for a few quantities
municipal health and resident forms ask (birth weight, weeks of gestation, birth order, age,
height), the label says it: 「出生時の体重（g）」 is a newborn's
weight in grams, a few hundred to a few thousand, never 9537. Like the date roles
(:mod:`workers.pipeline.roles`), the range only decides between readings the model
found close (dev: 2537 read 9537 with 9 at 56 % and 2 at 42 %); a number read clearly
outside it stays as read, and the validator sends it to review saying why.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ocr_service.validation.checkdigit import CheckDigitKind, has_valid_check_digit
from workers.pipeline.roles import compact

__all__ = [
    "NumberRange",
    "check_digit_kind",
    "check_digit_prior",
    "implausible_number",
    "known_range",
    "number_range",
    "range_prior",
]

NumberRange = tuple[int, int]
"""Smallest and largest plausible value, both included."""

_KNOWN: tuple[tuple[re.Pattern[str], NumberRange, str], ...] = (
    # The smallest surviving newborns weigh under 300 g; over 6 kg at birth is a record.
    (re.compile(r"出生.{0,4}体重.*(\(g\)|グラム)|体重.*出生.*(\(g\)|グラム)"), (200, 6500), "出生体重"),
    # 在胎週数: a live birth before 22 weeks is not viable; over 44 weeks does not happen.
    (re.compile(r"在胎週数|妊娠週数|在胎期間"), (20, 45), "在胎週数"),
    (re.compile(r"出生順位|第.子"), (1, 15), "出生順位"),
    (re.compile(r"年齢|満.*歳|\(歳\)"), (0, 120), "年齢"),
    (re.compile(r"身長.*(\(cm\)|センチ)"), (20, 220), "身長"),
)

_CHECKED_NUMBERS: tuple[tuple[re.Pattern[str], CheckDigitKind], ...] = (
    (re.compile(r"個人番号|マイナンバー"), "my_number"),
    (re.compile(r"法人番号"), "corporate_number"),
)
"""Numbers whose last (個人番号) or first (法人番号) digit checks the others, by label."""
_CHECKED_LENGTH = {"my_number": 12, "corporate_number": 13}



def _known(label: str) -> tuple[NumberRange, str] | None:
    text = compact(label)
    return next(((span, what) for pattern, span, what in _KNOWN if pattern.search(text)), None)


def known_range(label: str) -> NumberRange | None:
    """The range a well-known quantity's label implies (出生時の体重（g）: 200–6500), or None."""
    found = _known(label)
    return found[0] if found is not None else None


def number_range(*, label: str, min_value: int | None = None, max_value: int | None = None) -> NumberRange | None:
    """The plausible range of a digits field: the layout's rules first, else a well-known label's."""
    if min_value is not None or max_value is not None:
        return (max(0, min_value or 0), max_value if max_value is not None else 10**12)
    return known_range(label)


def range_prior(span: NumberRange, *, penalty: float) -> Callable[[str, bool], float]:
    """Prior of a digits text that must be a number in ``span`` (no leading zero unless 0 itself).

    While reading, a text is fine as long as some number of the range starts with it; one that
    cannot be costs ``penalty`` nats (the caller's grammar-violation cost).
    """
    lo, hi = span

    def can_grow(text: str) -> bool:
        if not text.isdigit() or (text[0] == "0" and text != "0") or len(text) > len(str(hi)):
            return False
        value = int(text)
        for extra in range(len(str(hi)) - len(text) + 1):
            # Numbers of len(text) + extra digits that start with text: [value·10^e, (value+1)·10^e).
            first, last = value * 10**extra, (value + 1) * 10**extra - 1
            if first <= hi and last >= lo:
                return True
        return False

    def score(text: str, final: bool) -> float:
        t = compact(text)
        if not t:
            return 0.0
        inside = t.isdigit() and (t[0] != "0" or t == "0") and lo <= int(t) <= hi
        return 0.0 if (inside if final else can_grow(t)) else -penalty

    return score


def implausible_number(*, label: str, value: str) -> str | None:
    """Review reason for a number outside the range its well-known label implies, or None.

    A range the layout's rules set is checked by the rules' own validation instead.
    """
    found = _known(label)
    t = compact(value)
    if found is None or not t.isdigit():
        return None
    (lo, hi), what = found
    if lo <= int(t) <= hi:
        return None
    return f"{what}として考えにくい値です（{lo}〜{hi}）。読み取りを確認してください"


def check_digit_kind(*, label: str, field_type: str | None, rules_kind: CheckDigitKind | None = None) -> CheckDigitKind | None:
    """The check digit a digits field carries: the layout's rule, else its label's (個人番号, 法人番号).

    A layout the form editor proposed or an evaluation set names no rules, but 「個人番号」 in 12
    comb cells is a My Number all the same.
    """
    if field_type != "digits":
        return None
    if rules_kind is not None:
        return rules_kind
    text = compact(label)
    return next((kind for pattern, kind in _CHECKED_NUMBERS if pattern.search(text)), None)


def check_digit_prior(kind: CheckDigitKind, *, penalty: float) -> Callable[[str, bool], float]:
    """Prior of a number whose check digit must hold: one digit misread breaks it.

    While reading, only more digits than the number has cost; at the end, a number failing its
    check costs ``penalty`` nats, so the beam prefers the close reading that passes (a doubtful
    digit's runner-up) but never overturns a confident one.
    """
    length = _CHECKED_LENGTH.get(kind)

    def score(text: str, final: bool) -> float:
        t = compact(text)
        if not final:
            return -penalty if length is not None and len(t) > length else 0.0
        return 0.0 if not t or has_valid_check_digit(t, kind) is None else -penalty

    return score
