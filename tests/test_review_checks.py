"""Confirmation checks a date written in separate boxes as one date (:mod:`ocr_service.review.checks`)."""

from __future__ import annotations

import pytest

from ocr_service.forms.layout import FieldSpec, FormLayout
from ocr_service.review.checks import check_document


def _layout() -> FormLayout:
    def box(name: str, label: str, x: float, field_type: str = "digits", page: int = 1) -> FieldSpec:
        return FieldSpec(name=name, label=label, box=(x, 10, x + 20, 30), type=field_type, page=page)

    return FormLayout(
        code="kenshin",
        title="健診",
        pages=2,
        fields=[
            box("birth_era_reiwa", "生年月日：令和", 10, "checkbox"),
            box("birth_era_heisei", "生年月日：平成", 40, "checkbox"),
            box("birth_year", "生年月日（年）", 70),
            box("birth_month", "生年月日（月）", 100),
            box("birth_day", "生年月日（日）", 130),
            box("request_year", "請求日（年）", 10, page=2),
            box("request_month", "請求日（月）", 40, page=2),
            box("request_day", "請求日（日）", 70, page=2),
        ],
    )


BIRTH = ("birth_year", "birth_month", "birth_day")


@pytest.mark.parametrize(
    ("era", "birth", "refused"),
    [
        ("reiwa", ("7", "2", "30"), "生年月日の2月30日は存在しない日付です"),
        ("reiwa", ("7", "2", "29"), "生年月日の令和7年2月29日は存在しない日付です"),
        ("heisei", ("31", "5", "3"), "生年月日の平成31年5月3日は平成の期間外です"),
        ("reiwa", ("6", "2", "29"), None),
        ("reiwa", ("8", "12", "25"), None),
        ("", ("9", "4", "31"), "生年月日の4月31日は存在しない日付です"),
        ("", ("9", "2", "29"), None),
    ],
)
def test_confirm_refuses_split_boxes_that_name_no_day(era: str, birth: tuple[str, str, str], refused: str | None) -> None:
    """GIVEN reviewed values of a split birth date (era box 令和, 平成 or none ticked) WHEN the document is
    checked for confirmation THEN boxes naming no day (2月30日, 令和7年2月29日, 平成31年5月 after 平成 ended,
    4月31日 in any era) are refused on each box with the reason; a real day passes, also one after
    today (a doubt for review, not a refusal) and 2月29日 when the era, and so the year, is unknown."""
    values = {
        "birth_era_reiwa": "1" if era == "reiwa" else "0",
        "birth_era_heisei": "1" if era == "heisei" else "0",
        **dict(zip(BIRTH, birth, strict=True)),
        "request_year": "8",
        "request_month": "11",
        "request_day": "20",
    }
    problems = {p.field_name: p.reason for p in check_document(_layout(), values)}
    if refused is None:
        assert problems == {}
    else:
        assert set(problems) == set(BIRTH) and all(reason == refused for reason in problems.values())


def test_a_split_date_on_another_page_is_checked_with_its_own_boxes() -> None:
    """GIVEN a request date on page 2 reading 8/2/30 WHEN checked THEN its three boxes are refused, the
    birth date on page 1 is not."""
    values = {"birth_era_reiwa": "1", "birth_year": "7", "birth_month": "1", "birth_day": "5"}
    values.update({"request_year": "8", "request_month": "2", "request_day": "30"})
    problems = {p.field_name: p.reason for p in check_document(_layout(), values)}
    assert set(problems) == {"request_year", "request_month", "request_day"}
    assert problems["request_day"] == "請求日の2月30日は存在しない日付です"
