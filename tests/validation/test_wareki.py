"""和暦 ⇄ 西暦: era boundaries (examples) and round trips (hypothesis)."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocr_service.validation.wareki import (
    ERAS,
    DateError,
    format_wareki,
    normalize_date,
    parse_date,
    to_wareki,
    wareki_to_date,
)

_KANJI = "〇一二三四五六七八九"


def _kanji_positional(n: int) -> str:
    """二十三 style (n < 100)."""
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _KANJI[tens] + "十")
    return head + (_KANJI[ones] if ones else "") if n else "〇"


def _full_width(text: str) -> str:
    return text.translate(str.maketrans("0123456789", "０１２３４５６７８９"))


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("平成31年4月30日", date(2019, 4, 30)),
        ("令和元年5月1日", date(2019, 5, 1)),
        ("令和1年5月1日", date(2019, 5, 1)),
        ("昭和64年1月7日", date(1989, 1, 7)),
        ("平成元年1月8日", date(1989, 1, 8)),
        ("大正15年12月24日", date(1926, 12, 24)),
        ("昭和元年12月25日", date(1926, 12, 25)),
        ("明治45年7月29日", date(1912, 7, 29)),
        ("大正元年7月30日", date(1912, 7, 30)),
        ("令和6年2月29日", date(2024, 2, 29)),
        ("R6.9.20", date(2024, 9, 20)),
        ("h31/4/30", date(2019, 4, 30)),
        ("令6-9-20", date(2024, 9, 20)),
        ("令和六年九月二十日", date(2024, 9, 20)),
        ("二〇二四年九月二十日", date(2024, 9, 20)),
        ("２０２４年９月２０日", date(2024, 9, 20)),
        ("令和 6年 9月 20日", date(2024, 9, 20)),
        ("㋿6年1月1日", date(2024, 1, 1)),
        ("2024-09-20", date(2024, 9, 20)),
        ("20240920", date(2024, 9, 20)),
    ],
)
def test_written_dates_parse(written: str, expected: date) -> None:
    """GIVEN a date as people write it WHEN parsed THEN the Gregorian day is exact."""
    assert parse_date(written) == expected


@pytest.mark.parametrize(
    "written",
    [
        "平成31年5月1日",  # 平成 ended on 4/30
        "令和元年4月30日",  # 令和 began on 5/1
        "昭和64年1月8日",
        "大正15年12月25日",
        "明治45年7月30日",
        "令和5年2月29日",  # not a leap year
        "令和6年13月1日",
        "令和6年4月31日",
        "令和0年1月1日",
        "平成32年1月1日",
        "令和6年9月20",  # incomplete
        "慶応3年1月1日",
        "",
        "きのう",
    ],
)
def test_impossible_dates_are_rejected(written: str) -> None:
    """GIVEN a date outside its era or that does not exist WHEN parsed THEN DateError."""
    with pytest.raises(DateError):
        parse_date(written)


def test_era_boundaries_format_with_gannen() -> None:
    """GIVEN the days around each change of era WHEN formatted THEN the era flips and year 1 is 元年."""
    assert format_wareki(date(2019, 4, 30)) == "平成31年4月30日"
    assert format_wareki(date(2019, 5, 1)) == "令和元年5月1日"
    assert format_wareki(date(1989, 1, 7)) == "昭和64年1月7日"
    assert format_wareki(date(1989, 1, 8)) == "平成元年1月8日"
    assert normalize_date("R1.5.1") == "令和元年5月1日"
    assert wareki_to_date("平成", 31, 4, 30) == date(2019, 4, 30)


def test_eras_are_contiguous() -> None:
    """GIVEN the era table WHEN consecutive eras are compared THEN each starts the day after the last ends."""
    for older, newer in itertools.pairwise(ERAS):
        assert older.last_day is not None
        assert (newer.first_day - older.last_day).days == 1


_DAYS = st.dates(min_value=date(1873, 1, 1), max_value=date(2099, 12, 31))


@given(_DAYS)
def test_round_trip_through_wareki(day: date) -> None:
    """GIVEN any day since 1873 WHEN formatted as 和暦 and parsed THEN the same day comes back."""
    assert parse_date(format_wareki(day)) == day


@given(_DAYS, st.sampled_from(["kanji", "full", "short", "iso", "seireki"]))
def test_spellings_agree(day: date, spelling: str) -> None:
    """GIVEN a day written in any accepted spelling WHEN parsed THEN all spellings give the same day."""
    w = to_wareki(day)
    era = next(e for e in ERAS if e.name == w.era)
    if spelling == "kanji":
        written = (
            f"{w.era}{_kanji_positional(w.year)}年{_kanji_positional(w.month)}月{_kanji_positional(w.day)}日"
        )
    elif spelling == "full":
        written = _full_width(f"{w.era}{w.year}年{w.month}月{w.day}日")
    elif spelling == "short":
        written = f"{era.letter}{w.year}.{w.month}.{w.day}"
    elif spelling == "iso":
        written = day.isoformat()
    else:
        written = _full_width(f"{day.year}年{day.month}月{day.day}日")
    assert parse_date(written) == day
    assert normalize_date(written) == format_wareki(day)


@given(
    st.sampled_from([e.name for e in ERAS]),
    st.integers(min_value=-2, max_value=70),
    st.integers(min_value=0, max_value=14),
    st.integers(min_value=0, max_value=33),
)
def test_any_era_date_is_exact_or_rejected(era: str, year: int, month: int, day: int) -> None:
    """GIVEN arbitrary era/year/month/day WHEN converted THEN either it round-trips exactly or DateError."""
    try:
        result = wareki_to_date(era, year, month, day)
    except DateError:
        return
    assert to_wareki(result).era == era
    assert (to_wareki(result).year, result.month, result.day) == (year, month, day)


@given(st.text(max_size=20))
def test_parse_never_crashes(text: str) -> None:
    """GIVEN any text WHEN parsed THEN a date or DateError, never another exception."""
    try:
        result = parse_date(text)
    except DateError:
        return
    assert isinstance(result, date)
