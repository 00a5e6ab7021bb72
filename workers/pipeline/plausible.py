"""A date part read implausibly: the plausible value the model finds most likely, for review.

The decoder's date prior is a few nats (:mod:`workers.pipeline.priors`): it settles a close call
(1 at 55 %, 7 at 40 % in a 請求日（年） box) but never overturns a confident reading. Some
glyphs are confidently misread all the same (a 7 written with a long stem reads 1 at 98 %, or
9 at 95 %), and a request year of 令和1 on a form uploaded in 令和8 is a misread, not an
application kept for seven years.

The set of plausible values of such a field is closed and small (:func:`plausible_values`:
令和5〜8 or 2023〜2026 for a request year, 1〜12 for a month), so every one of them can be
scored against the crop (CTC log-likelihood, :mod:`workers.pipeline.ctcscore`). When the
model finds the best of them at most :data:`PLAUSIBLE_NATS` less likely than what it read,
that value replaces the reading, and the field goes to review with both values in the
reason (:func:`reason_replaced`): the reviewer confirms the likely value with one key,
or types what the crop shows. Beyond that gap the crop shows no plausible value and the
reading stays as read (the validator's plausibility reason sends it to review).

A whole fill-in date (type ``date``) read years before the upload (令和2年12月10日 on a
令和8 upload) is tried with each recent 令和 year in its place, the month and day as read.
A fill-in year or date is only replaced when read more than :data:`_FAR_YEARS` years back or
after the upload (the validator already doubts one three years old): the window the candidates
come from moves with the calendar, and a right reading must not be replaced as a form ages.

A birth date cannot lie after the upload: a whole one read so (令和9年… on a 令和8 upload) is tried
with each year of its era up to now. A split one whose era the form asks as a checkbox
(「生年月日：令和」 ticked, :func:`~workers.pipeline.splitdates.birth_year_eras`) holds a year of that era: a year box read beyond it
(9 under 令和 in 令和8) is tried with each of its years, and kept for review with
:func:`reason_outside_era` when none is close.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence

import numpy as np

from ocr_service.validation.wareki import ERAS, Era
from workers.pipeline.decoding import DecodeContext
from workers.pipeline.furigana import ReadField
from workers.pipeline.recognizer import TextResult, TextScorer
from workers.pipeline.roles import (
    RECENT_YEARS,
    FieldRole,
    compact,
    implausible_reason,
    last_era_year,
    plausible_values,
    recent_era_years,
    written_date,
)
from workers.pipeline.types import CHANGED_CONFIDENCE

__all__ = [
    "PLAUSIBLE_NATS",
    "era_year_candidates",
    "plausible_candidates",
    "reason_outside_era",
    "reason_replaced",
    "replace_implausible_dates",
]

PLAUSIBLE_NATS = 10.0
"""How much more likely the model may find its own implausible reading than the plausible value
put in its place (dev: 3.0, 4.3 and 4.5 nats for three 7s read 9, 1 and 1 in request-year boxes)."""
_FAR_YEARS = 5
"""A fill-in date or year is replaced only when read more than this many years before the upload
(or after it): one kept three to five years is unusual but happens (a form found in a drawer), and
the scans of a benchmark age, so a right reading must not turn implausible as the calendar moves on."""
_ERA_DATE = re.compile(r"^(明治|大正|昭和|平成|令和)(元|\d{1,2})年(.+)$")
_WESTERN_DATE = re.compile(r"^(\d{4})年(.+)$")


def plausible_candidates(role: FieldRole, value: str, reference: dt.date) -> list[str]:
    """The plausible values to try in place of ``value``, a reading of a field with ``role``
    that :func:`implausible_reason` doubts; empty when the value is not doubted or nothing fits."""
    text = compact(value)
    if not text or implausible_reason(role, text, reference) is None or not _far_off(role, text, reference):
        return []
    if role is FieldRole.BIRTH_DATE:
        return _earlier_birth_dates(text, reference)
    if role is FieldRole.RECENT_DATE:
        era = _ERA_DATE.match(text)
        western = _WESTERN_DATE.match(text)
        if era is not None:
            rest = era.group(3)
            tried = [f"令和{year}年{rest}" for year in sorted(recent_era_years(reference))]
        elif western is not None:
            rest = western.group(2)
            tried = [f"{reference.year - back}年{rest}" for back in range(RECENT_YEARS, -1, -1)]
        else:
            return []
        return [c for c in _real_days(tried, reference) if implausible_reason(role, c, reference) is None]
    if not text.isdigit():
        return []
    return sorted(plausible_values(role, reference), key=lambda c: (len(c), c))


def _earlier_birth_dates(text: str, reference: dt.date) -> list[str]:
    """A birth date read after ``reference``: the same month and day in each year of its era up to now."""
    match = _ERA_DATE.match(text)
    era = next((e for e in ERAS if match is not None and e.name == match.group(1)), None)
    if match is None or era is None:
        return []
    tried = [f"{era.name}{year}年{match.group(3)}" for year in range(1, last_era_year(era, reference) + 1)]
    return _real_days(tried, reference, era)


def _real_days(dates: Sequence[str], reference: dt.date, era: Era | None = None) -> list[str]:
    """The written ``dates`` that name a real day on or before ``reference`` (and inside ``era``):
    a fill-in or birth date never lies after the upload."""
    return [
        c
        for c in dates
        if (when := written_date(c)) is not None and when <= reference and (era is None or era.contains(when))
    ]


def era_year_candidates(value: str, era: Era, reference: dt.date) -> list[str]:
    """The years to try in a birth-year box whose era is ``era`` when ``value`` is none of them (令和:
    1 to this year); empty when it is one, or no number."""
    text = compact(value)
    last = last_era_year(era, reference)
    western = (era.first_day.year, era.last_day.year if era.last_day is not None else reference.year)
    if not text.isdigit() or 1 <= int(text) <= last or western[0] <= int(text) <= western[1]:
        return []
    return [str(year) for year in range(1, last + 1)]


def reason_outside_era(value: str, era: Era, reference: dt.date) -> str:
    """The review reason of a birth-year box read outside its ticked era (Japanese)."""
    return f"生年月日の年「{value}」が{era.name}の年（1〜{last_era_year(era, reference)}）にありません。確認してください"


def _far_off(role: FieldRole, text: str, reference: dt.date) -> bool:
    """A doubted fill-in year or date lies after the upload or more than :data:`_FAR_YEARS` before
    it; a month, day or birth year outside its range is far off at any time."""
    oldest = reference.year - _FAR_YEARS
    if role is FieldRole.RECENT_DATE:
        when = written_date(text)
        return when is not None and (when > reference or when < reference.replace(year=oldest, day=min(reference.day, 28)))
    if role is FieldRole.RECENT_YEAR:
        number = int(text)
        # A small number is a 令和 year (令和1 = 2019), a four-digit one a western year.
        year = number if number >= 1000 else ERAS[-1].first_day.year - 1 + number
        return year > reference.year or year < oldest
    return True


def reason_replaced(was: str, now: str) -> str:
    """The review reason of a value put in place of an implausible reading (Japanese)."""
    return f"「{was}」と読めましたが日付として不自然なため、次に可能性の高い「{now}」にしました。確認してください"


def replace_implausible_dates(
    *,
    scorer: TextScorer,
    fields: Sequence[ReadField],
    crops: Sequence[np.ndarray],
    contexts: Sequence[DecodeContext | None],
    results: list[TextResult],
    reference: dt.date | None = None,
    eras: Mapping[str, Era] | None = None,
) -> tuple[list[TextResult], dict[str, str]]:
    """``results`` with each implausibly read date part replaced by the plausible value the model
    finds most likely, when within :data:`PLAUSIBLE_NATS` of its own reading.

    Only one-line fields with a date role take part (:func:`~workers.pipeline.roles.field_role`);
    ``eras`` holds the ticked era of each split birth date's year box, by field name
    (:func:`~workers.pipeline.splitdates.birth_year_eras`).

    Returns:
        the new results, and the fields to review with the reason to show: those replaced, and a
        birth year outside its era that no year of it could replace.
    """
    day = reference or dt.date.today()
    todo: list[tuple[ReadField, list[str]]] = []
    doubts: dict[str, str] = {}
    for field in fields:
        context = contexts[field.first]
        if field.count != 1 or context is None or context.role is None:
            continue
        text = results[field.first].text
        era = (eras or {}).get(field.spec.name)
        if context.role is FieldRole.BIRTH_YEAR and era is not None:
            candidates = era_year_candidates(text, era, day)
            if candidates:
                doubts[field.spec.name] = reason_outside_era(text, era, day)
        else:
            candidates = plausible_candidates(context.role, text, day)
        if candidates:
            todo.append((field, candidates))
    if not todo:
        return results, doubts
    scores = scorer.log_likelihoods(
        [crops[field.first] for field, _ in todo],
        [[results[field.first].text, *candidates] for field, candidates in todo],
    )
    out = list(results)
    replaced = dict(doubts)
    for (field, candidates), (own, *others) in zip(todo, scores, strict=True):
        best = max(range(len(candidates)), key=others.__getitem__)
        # A value the model cannot spell at all, or one far less likely than what it saw, is never put in.
        if not math.isfinite(others[best]) or others[best] < own - PLAUSIBLE_NATS:
            continue
        was, now = results[field.first].text, candidates[best]
        out[field.first] = TextResult(now, [CHANGED_CONFIDENCE] * len(now), CHANGED_CONFIDENCE)
        replaced[field.spec.name] = reason_replaced(was, now)
    return out, replaced
