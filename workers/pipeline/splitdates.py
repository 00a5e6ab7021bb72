"""A date written in separate boxes (「請求日（年）」「（月）」「（日）」), judged as one date.

Each box is checked alone (:func:`~workers.pipeline.roles.implausible_reason`: a month of 1〜12,
a day of 1〜31, a year near the upload), but only the three together name a day: 2月30日 passes
both box checks, and so does a birth date of 令和8年12月25日 read on 令和8年12月4日. The day the
boxes name must exist (in its era: 平成31年5月 does not) and must not lie after the upload, as the
same date written in one field must not (a fill-in date, a birth date). A fill-in year read years
back is the year box's own doubt (:func:`~workers.pipeline.roles.implausible_reason`), judged by the
year alone, so the three boxes are not all sent to review as a form ages.

The year box holds a western year (four digits) or a year of an era: for a birth date the era
the form's own era box names (:func:`birth_era`: 「生年月日：令和」 ticked); for a fill-in date
the current era, which current forms print before the box (as the decoder's prior assumes).
A birth date whose era the form does not say is judged on its month and day only.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ocr_service.forms.layout import FieldSpec
from ocr_service.validation.wareki import ERAS, DateError, Era, check_month_day, parse_date
from workers.pipeline.roles import (
    FieldRole,
    compact,
    date_part_stem,
    field_role,
    implausible_reason,
    is_birth_label,
)

__all__ = [
    "SplitDate",
    "birth_era",
    "birth_year_eras",
    "missing_day_reason",
    "split_date_reason",
    "split_date_reasons",
    "split_dates",
    "split_dates_with_eras",
]

_LOOK = "読み取りを確認してください"
_ERA_CHOICE = re.compile(r"[（(](元号|年号)[）)]$")
_SEPARATORS = "：:・/／-"


@dataclass(frozen=True)
class SplitDate:
    """The boxes of one split date on one page."""

    whole: FieldRole
    """How the date is judged as one: :attr:`FieldRole.BIRTH_DATE` or :attr:`FieldRole.RECENT_DATE`."""
    stem: str
    """What the boxes' labels share (請求日), for the reason."""
    year: str
    month: str
    day: str
    """Field names of the three boxes."""

    @property
    def names(self) -> tuple[str, str, str]:
        return self.year, self.month, self.day


def _stems_match(a: tuple[str | None, str | None], b: tuple[str | None, str | None]) -> bool:
    return any(x is not None and x == y for x, y in zip(a, b, strict=True))


def split_dates(specs: Sequence[FieldSpec]) -> list[SplitDate]:
    """Every split date among ``specs`` (one page): a year box with a month and a day box whose
    label or machine name differs from it only by the part (:func:`date_part_stem`)."""
    roles = {spec.name: field_role(name=spec.name, label=spec.label, field_type=spec.type) for spec in specs}
    stems = {spec.name: date_part_stem(name=spec.name, label=spec.label) for spec in specs}
    found: list[SplitDate] = []
    for year in specs:
        if roles[year.name] not in (FieldRole.BIRTH_YEAR, FieldRole.RECENT_YEAR):
            continue
        parts = {
            role: [s for s in specs if roles[s.name] is role and _stems_match(stems[s.name], stems[year.name])]
            for role in (FieldRole.MONTH, FieldRole.DAY)
        }
        months, days = parts[FieldRole.MONTH], parts[FieldRole.DAY]
        if len(months) != 1 or len(days) != 1:
            continue
        label_stem = stems[year.name][0]
        found.append(
            SplitDate(
                whole=FieldRole.BIRTH_DATE if roles[year.name] is FieldRole.BIRTH_YEAR else FieldRole.RECENT_DATE,
                stem=label_stem or year.label,
                year=year.name,
                month=months[0].name,
                day=days[0].name,
            )
        )
    return found


def _era_box_stem(label: str) -> str:
    """The date an era box or era choice belongs to: its label without the era
    (「生年月日：令和」 → 生年月日, 「生年月日（元号）」 → 生年月日)."""
    text = compact(label)
    text = next((text[: -len(era.name)] for era in ERAS if text.endswith(era.name)), text)
    return _ERA_CHOICE.sub("", text).rstrip(_SEPARATORS)


def _era_boxes(specs: Sequence[FieldSpec]) -> list[FieldSpec]:
    """The era checkboxes and era choices of birth dates among ``specs``."""
    return [spec for spec in specs if is_birth_label(spec.label) and spec.type in ("checkbox", "choice")]


def _ticked_era(boxes: Sequence[FieldSpec], values: Mapping[str, str | bool]) -> Era | None:
    """The one era ``boxes`` answer (a ticked checkbox, a chosen option), or None: none or several."""
    eras: set[Era] = set()
    for spec in boxes:
        label, value = compact(spec.label), values.get(spec.name)
        if spec.type == "checkbox" and value is True:
            eras.update(era for era in ERAS if label.endswith(era.name))
        elif spec.type == "choice" and isinstance(value, str):
            eras.update(era for era in ERAS if compact(value) == era.name)
    return eras.pop() if len(eras) == 1 else None


def birth_era(specs: Sequence[FieldSpec], values: Mapping[str, str | bool]) -> Era | None:
    """The era a page's birth-date era boxes answer: a ticked era checkbox (「生年月日：令和」) or an era
    choice (「生年月日（元号）」 = 令和); None when the page asks none, or more than one is ticked."""
    return _ticked_era(_era_boxes(specs), values)


def split_dates_with_eras(
    specs: Sequence[FieldSpec], values: Mapping[str, str | bool]
) -> list[tuple[SplitDate, Era | None]]:
    """Every split date among ``specs`` (one page) with the era its year counts in: the current era
    for a fill-in date; for a birth date, what its own era boxes answer (labelled for that date,
    「世帯員1 生年月日：令和」), else the era boxes labelled for no split date of the page (「生年月日：令和」
    beside boxes labelled 年/月/日). A page may ask two people's birth dates: one person's era is never
    another's."""
    dates = split_dates(specs)
    boxes = _era_boxes(specs)
    claimed = {compact(date.stem) for date in dates}
    unclaimed = [spec for spec in boxes if _era_box_stem(spec.label) not in claimed]
    found: list[tuple[SplitDate, Era | None]] = []
    for date in dates:
        if date.whole is not FieldRole.BIRTH_DATE:
            found.append((date, ERAS[-1]))
            continue
        own = [spec for spec in boxes if _era_box_stem(spec.label) == compact(date.stem)]
        found.append((date, _ticked_era(own or unclaimed, values)))
    return found


def birth_year_eras(specs: Sequence[FieldSpec], values: Mapping[str, str | bool]) -> dict[str, Era]:
    """The era of each split birth date's year box on a page (by field name), where its era box says one."""
    return {
        date.year: era
        for date, era in split_dates_with_eras(specs, values)
        if date.whole is FieldRole.BIRTH_DATE and era is not None
    }


def _named_day(date: SplitDate, values: Mapping[str, str], era: Era | None) -> tuple[str, dt.date] | str | None:
    """The day the boxes of ``date`` name (as written, and the day), why they name none (Japanese),
    or None when they are not judged: a box empty, no number, or one whose own check says why."""
    texts = [compact(values.get(name, "")) for name in date.names]
    # A year of at most four digits, a month and a day of at most two (the box checks say why not).
    if not all(text.isdecimal() and len(text) <= most for text, most in zip(texts, (4, 2, 2), strict=True)):
        return None
    year, month, day = (int(text) for text in texts)
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None  # the box says why on its own
    try:
        # Judged in any year first: 2月30日 exists in none, whatever the era.
        check_month_day(month, day)
        if len(texts[0]) == 4:
            written = f"{year}年{month}月{day}日"
        elif era is not None:
            written = f"{era.name}{year}年{month}月{day}日"
        else:
            return None
        return written, parse_date(written)
    except DateError as exc:
        return f"{date.stem}の{exc}"


def missing_day_reason(date: SplitDate, values: Mapping[str, str], *, era: Era | None) -> str | None:
    """Why the boxes of ``date`` name no day (「生年月日の2月30日は存在しない日付です」), or None.

    Args:
        date: the boxes.
        values: their text, by field name; a box left empty or holding no number is not judged.
        era: the era of a year of one or two digits (None: unknown, the month and day are judged alone).
    """
    named = _named_day(date, values, era)
    return named if isinstance(named, str) else None


def split_date_reason(
    date: SplitDate, values: Mapping[str, str], *, era: Era | None, reference: dt.date
) -> str | None:
    """Why the day the boxes of ``date`` name together needs a look (Japanese), or None: it does not
    exist (:func:`missing_day_reason`), or lies after ``reference``, the upload day."""
    return _reason(date, _named_day(date, values, era), reference)


def _reason(date: SplitDate, named: tuple[str, dt.date] | str | None, reference: dt.date) -> str | None:
    """:func:`split_date_reason` of what :func:`_named_day` found."""
    if named is None:
        return None
    if isinstance(named, str):
        return f"{named}。{_LOOK}"
    written, when = named
    # Only what no box can say alone: a year read years back is the year box's own doubt.
    return implausible_reason(date.whole, written, reference) if when > reference else None


def split_date_reasons(
    specs: Sequence[FieldSpec], values: Mapping[str, str | bool], *, reference: dt.date
) -> list[tuple[tuple[str, str, str], str, bool]]:
    """``(boxes, reason, exists)`` for every split date among ``specs`` (one page) that needs a look;
    ``exists`` is False when the boxes name no day (invalid, as the same date in one field would be),
    True for a day after the upload (to review). ``values`` holds what was read, the era boxes only
    where surely read."""
    texts = {name: value for name, value in values.items() if isinstance(value, str)}
    found: list[tuple[tuple[str, str, str], str, bool]] = []
    for date, era in split_dates_with_eras(specs, values):
        named = _named_day(date, texts, era)
        reason = _reason(date, named, reference)
        if reason is not None:
            found.append((date.names, reason, not isinstance(named, str)))
    return found
