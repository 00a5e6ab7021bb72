"""和暦 ⇄ 西暦: Japanese era dates with exact era boundaries.

Era boundaries (first and last Gregorian day of each era):

======  ==========  ==========
era     first day   last day
======  ==========  ==========
明治    1868-01-25  1912-07-29
大正    1912-07-30  1926-12-24
昭和    1926-12-25  1989-01-07
平成    1989-01-08  2019-04-30
令和    2019-05-01  (current)
======  ==========  ==========

明治 before 1873 used the lunisolar calendar; those dates are converted as if
Gregorian (no municipal form holds them). 元年 is year 1 of an era. A date
outside its era (平成31年5月1日, 昭和64年1月8日) is rejected, as is any day
that does not exist (令和5年2月29日).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from ocr_service.validation.text import fold_width, kanji_number, unify_hyphens

__all__ = [
    "ERAS",
    "DateError",
    "Era",
    "WarekiDate",
    "check_month_day",
    "format_wareki",
    "normalize_date",
    "parse_date",
    "parse_eraless_date",
    "to_wareki",
    "wareki_to_date",
]


class DateError(ValueError):
    """Not a valid date; ``str(exc)`` is a Japanese reason for the reviewer."""


@dataclass(frozen=True)
class Era:
    name: str
    letter: str
    first_day: date
    last_day: date | None

    def contains(self, day: date) -> bool:
        return self.first_day <= day and (self.last_day is None or day <= self.last_day)

    @property
    def last_year(self) -> int | None:
        return None if self.last_day is None else self.last_day.year - self.first_day.year + 1


ERAS: tuple[Era, ...] = (
    Era("明治", "M", date(1868, 1, 25), date(1912, 7, 29)),
    Era("大正", "T", date(1912, 7, 30), date(1926, 12, 24)),
    Era("昭和", "S", date(1926, 12, 25), date(1989, 1, 7)),
    Era("平成", "H", date(1989, 1, 8), date(2019, 4, 30)),
    Era("令和", "R", date(2019, 5, 1), None),
)
"""Modern eras, oldest first."""

_BY_KEY: dict[str, Era] = {}
for _era in ERAS:
    _BY_KEY[_era.name] = _era
    _BY_KEY[_era.name[0]] = _era  # 令6.9.20
    _BY_KEY[_era.letter] = _era
# The single-code-point era ligatures (㍻ ㋿ …) decompose to the two kanji under NFKC.


@dataclass(frozen=True)
class WarekiDate:
    era: str
    year: int
    month: int
    day: int

    def __str__(self) -> str:
        year = "元" if self.year == 1 else str(self.year)
        return f"{self.era}{year}年{self.month}月{self.day}日"


def wareki_to_date(era: str, year: int, month: int, day: int) -> date:
    """The Gregorian date of ``era`` ``year``/``month``/``day``; DateError when it does not exist."""
    found = _BY_KEY.get(era)
    if found is None:
        raise DateError(f"元号「{era}」は使えません")
    if year < 1:
        raise DateError(f"{found.name}{year}年はありません")
    try:
        result = date(found.first_day.year + year - 1, month, day)
    except ValueError as exc:
        raise DateError(f"{found.name}{year}年{month}月{day}日は存在しない日付です") from exc
    if not found.contains(result):
        raise DateError(f"{found.name}{year}年{month}月{day}日は{found.name}の期間外です")
    return result


def era_of(day: date) -> Era:
    for era in reversed(ERAS):
        if era.contains(day):
            return era
    raise DateError(f"{day.isoformat()}は明治より前の日付です")


def to_wareki(day: date) -> WarekiDate:
    """The era date of a Gregorian date (明治 onward)."""
    era = era_of(day)
    return WarekiDate(era.name, day.year - era.first_day.year + 1, day.month, day.day)


def format_wareki(day: date) -> str:
    """``令和元年5月1日`` style (元年 for year 1, no leading zeros)."""
    return str(to_wareki(day))


_N = r"(?:\d{1,4}|[〇○零一二三四五六七八九十百千]{1,6})"
_NUM = rf"({_N})"
_ERA_NAMES = "|".join(sorted((k for k in _BY_KEY), key=len, reverse=True))
_WAREKI_KANJI = re.compile(rf"^({_ERA_NAMES})(元|{_N})年{_NUM}月{_NUM}日$")
_WAREKI_SHORT = re.compile(rf"^({_ERA_NAMES})(元|\d{{1,2}})[./-](\d{{1,2}})[./-](\d{{1,2}})$")
_SEIREKI_KANJI = re.compile(rf"^{_NUM}年{_NUM}月{_NUM}日$")
_SEIREKI_SHORT = re.compile(r"^(\d{4})[./-](\d{1,2})[./-](\d{1,2})$")
_SEIREKI_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def _number(text: str) -> int:
    if text == "元":
        return 1
    if text.isdigit():
        return int(text)
    value = kanji_number(text)
    if value is None:
        raise DateError(f"「{text}」は数字として読めません")
    return value


def _clean(text: str) -> str:
    # NFKC folds full-width digits and the era ligatures (㋿ → 令和); keep 年月日 and era kanji.
    return unify_hyphens(fold_width(text)).upper().replace("年度", "年")


def parse_date(text: str) -> date:
    """Parse a written date: 和暦 (令和6年9月20日, 令和元年5月1日, R6.9.20, 令6/9/20,
    令和六年九月二十日) or 西暦 (2024年9月20日, 2024/9/20, 2024-09-20, 20240920).

    Full-width digits, spaces and kanji numerals (〇-style 二〇二四 too) are accepted.

    Raises:
        DateError: empty, malformed, or a day that does not exist in that era.
    """
    cleaned = _clean(text)
    if not cleaned:
        raise DateError("日付が空欄です")
    for pattern in (_WAREKI_KANJI, _WAREKI_SHORT):
        match = pattern.match(cleaned)
        if match:
            era, year, month, day = match.groups()
            return wareki_to_date(era, _number(year), _number(month), _number(day))
    for pattern in (_SEIREKI_KANJI, _SEIREKI_SHORT, _SEIREKI_COMPACT):
        match = pattern.match(cleaned)
        if match:
            year, month, day = (_number(part) for part in match.groups())
            if year < 1000:
                raise DateError(f"「{text}」の年が読めません（元号または4桁の西暦で書いてください）")
            try:
                return date(year, month, day)
            except ValueError as exc:
                raise DateError(f"{year}年{month}月{day}日は存在しない日付です") from exc
    raise DateError(f"「{text}」は日付の形式ではありません")


_ERALESS = re.compile(rf"^{_NUM}年{_NUM}月{_NUM}日$")


def parse_eraless_date(text: str) -> tuple[int, int, int]:
    """Year, month, day of a date written without era (``6年9月20日``), for boxes whose era is printed.

    The year must be 1–99 and the month/day must exist in some year (2月29日 is allowed).

    Raises:
        DateError: not of that shape, or no such month and day.
    """
    match = _ERALESS.match(_clean(text))
    if match is None:
        raise DateError(f"「{text}」は日付の形式ではありません")
    year, month, day = (_number(part) for part in match.groups())
    if not 1 <= year <= 99:
        raise DateError(f"「{text}」の年が読めません")
    check_month_day(month, day)
    return year, month, day


def check_month_day(month: int, day: int) -> None:
    """Raise DateError when ``month``/``day`` exists in no year (2月30日; 2月29日 exists).

    Raises:
        DateError: 「2月30日は存在しない日付です」.
    """
    try:
        date(2024, month, day)  # a leap year: every real month/day pair exists in it
    except ValueError as exc:
        raise DateError(f"{month}月{day}日は存在しない日付です") from exc


def normalize_date(text: str) -> str:
    """The canonical 和暦 spelling of a written date (``令和6年9月20日``); DateError when invalid."""
    return format_wareki(parse_date(text))
