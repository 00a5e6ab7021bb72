"""A date written in separate boxes, judged as one date (:mod:`workers.pipeline.splitdates`)."""

from __future__ import annotations

import datetime as dt

import pytest

from ocr_service.forms.layout import FieldSpec, FormLayout
from ocr_service.validation.wareki import ERAS
from workers.pipeline.roles import FieldRole
from workers.pipeline.splitdates import (
    SplitDate,
    birth_era,
    birth_year_eras,
    split_date_reason,
    split_date_reasons,
    split_dates,
    split_dates_with_eras,
)
from workers.pipeline.types import FieldReading
from workers.pipeline.validate import validate_page_fields

UPLOAD = dt.date(2026, 12, 4)  # 令和8年
REIWA, HEISEI = ERAS[-1], ERAS[-2]


def _box(name: str, label: str, x: float, field_type: str = "digits") -> FieldSpec:
    return FieldSpec(name=name, label=label, box=(x, 10, x + 20, 30), type=field_type)


def _era_boxes() -> list[FieldSpec]:
    return [
        _box("birth_era_reiwa", "生年月日：令和", 10, "checkbox"),
        _box("birth_era_heisei", "生年月日：平成", 40, "checkbox"),
        _box("request_era_reiwa", "請求日：令和", 70, "checkbox"),
    ]


def _page() -> list[FieldSpec]:
    """A page with a split request date, a split birth date with its era boxes, and a lone count."""
    return [
        _box("request_year", "請求日（年）", 100),
        _box("request_month", "請求日（月）", 130),
        _box("request_day", "請求日（日）", 160),
        *_era_boxes()[:2],
        _box("birth_year", "生年月日（年）", 190),
        _box("birth_month", "生年月日（月）", 220),
        _box("birth_day", "生年月日（日）", 250),
        _box("cert_count", "通数", 280),
    ]


REQUEST = SplitDate(FieldRole.RECENT_DATE, "請求日", "request_year", "request_month", "request_day")
BIRTH = SplitDate(FieldRole.BIRTH_DATE, "生年月日", "birth_year", "birth_month", "birth_day")


def test_the_boxes_of_a_split_date_are_found_by_label_or_name() -> None:
    """GIVEN a page with 請求日（年）（月）（日） and 生年月日（年）（月）（日） boxes WHEN searched THEN two split
    dates, each with its own boxes; boxes named x1..x3 whose labels share 申請日 THEN found by label, also labelled
    生年月日：年 (the shipped 乳幼児健診 form);
    boxes labelled 年/月/日 named dob_year.. THEN found by name; a year box without a day THEN none."""
    assert split_dates(_page()) == [REQUEST, BIRTH]
    by_label = [_box("x1", "申請日（年）", 10), _box("x2", "申請日（月）", 40), _box("x3", "申請日（日）", 70)]
    assert split_dates(by_label) == [SplitDate(FieldRole.RECENT_DATE, "申請日", "x1", "x2", "x3")]
    by_name = [_box("dob_year", "年", 10), _box("dob_month", "月", 40), _box("dob_day", "日", 70)]
    assert [d.names for d in split_dates(by_name)] == [("dob_year", "dob_month", "dob_day")]
    assert split_dates(_page()[:2]) == []
    colon = [_box("b1", "生年月日：年", 10), _box("b2", "生年月日：月", 40), _box("b3", "生年月日：日", 70)]
    assert split_dates(colon) == [SplitDate(FieldRole.BIRTH_DATE, "生年月日", "b1", "b2", "b3")]


@pytest.mark.parametrize(
    ("date", "values", "expected"),
    [
        (REQUEST, ("7", "11", "20"), None),
        (REQUEST, ("2025", "11", "20"), None),
        (REQUEST, ("8", "2", "30"), "請求日の2月30日は存在しない日付です"),
        (REQUEST, ("7", "2", "29"), "請求日の令和7年2月29日は存在しない日付です"),
        (REQUEST, ("2025", "2", "29"), "請求日の2025年2月29日は存在しない日付です"),
        (REQUEST, ("8", "12", "25"), "記入日・申請日が処理日より後です"),
        (REQUEST, ("8", "12", "4"), None),
        (REQUEST, ("5", "1", "16"), None),
        (REQUEST, ("8", "13", "1"), None),
        (REQUEST, ("8", "", "1"), None),
        (REQUEST, ("8", "2", "030"), None),
        (REQUEST, ("9" * 5000, "2", "30"), None),
        (REQUEST, ("8", "２", "３０"), "請求日の2月30日は存在しない日付です"),
        (BIRTH, ("8", "12", "25"), "生年月日が処理日より後です"),
        (BIRTH, ("1", "4", "30"), "令和1年4月30日は令和の期間外です"),
        (BIRTH, ("7", "6", "31"), "生年月日の6月31日は存在しない日付です"),
    ],
)
def test_the_boxes_together_must_name_a_plausible_day(
    date: SplitDate, values: tuple[str, str, str], expected: str | None
) -> None:
    """GIVEN a split request date (令和, the current era) or birth date under 令和 WHEN its boxes read
    together name no day (2月30日, 令和7年2月29日, 令和1年4月30日 before 令和 began) or a day after the
    upload THEN a Japanese reason; a plausible day, a fill-in date more than three years back (the year
    box's own doubt), or a box that is empty or says why on its own
    (13月, a box of too many digits), THEN None; full-width digits count as digits."""
    reason = split_date_reason(date, dict(zip(date.names, values, strict=True)), era=REIWA, reference=UPLOAD)
    assert (reason is None) == (expected is None)
    assert expected is None or (reason is not None and expected in reason)


def test_a_birth_date_with_no_era_is_judged_on_its_month_and_day() -> None:
    """GIVEN a split birth date whose era the form does not say WHEN it reads 9/12/25 THEN no reason (平成9
    is a fine birthday); 9/2/30 THEN 2月30日 exists in no year."""
    values = dict(zip(BIRTH.names, ("9", "12", "25"), strict=True))
    assert split_date_reason(BIRTH, values, era=None, reference=UPLOAD) is None
    values["birth_day"], values["birth_month"] = "30", "2"
    assert split_date_reason(BIRTH, values, era=None, reference=UPLOAD) is not None


def test_the_ticked_era_box_of_a_birth_date_names_its_era() -> None:
    """GIVEN a form with 生年月日：令和 / 平成 boxes WHEN one is ticked THEN that era; none or both ticked THEN
    None; an era box of another date (請求日：令和) says nothing of the birth date; GIVEN an era choice
    of the birth date THEN its chosen era."""
    boxes = _era_boxes()
    assert birth_era(boxes, {"birth_era_reiwa": True}) == REIWA
    assert birth_era(boxes, {"birth_era_heisei": True, "request_era_reiwa": True}) == HEISEI
    assert birth_era(boxes, {}) is None and birth_era(boxes, {"request_era_reiwa": True}) is None
    assert birth_era(boxes, {"birth_era_reiwa": True, "birth_era_heisei": True}) is None
    choice = FieldSpec.model_validate(
        {
            "name": "birth_era",
            "label": "生年月日（元号）",
            "box": (10, 10, 120, 20),
            "type": "choice",
            "options": [{"value": "令和", "box": (10, 10, 50, 20)}, {"value": "平成", "box": (60, 10, 100, 20)}],
        }
    )
    assert birth_era([choice], {"birth_era": "平成"}) == HEISEI and birth_era([choice], {"birth_era": ""}) is None


def _readings(values: dict[str, str | bool], *, unsure: frozenset[str] = frozenset()) -> list[FieldReading]:
    return [
        FieldReading(
            name=name,
            value=value,
            confidence=0.6 if name in unsure else 0.99,
            status="low_confidence" if name in unsure else "ok",
            reason="信頼度が低いため確認が必要です（60%）" if name in unsure else None,
        )
        for name, value in values.items()
    ]


PAGE_VALUES: dict[str, str | bool] = {
    "request_year": "8",
    "request_month": "11",
    "request_day": "20",
    "birth_era_reiwa": True,
    "birth_era_heisei": False,
    "birth_year": "8",
    "birth_month": "12",
    "birth_day": "25",
    "cert_count": "1",
}


def test_the_validator_sends_every_box_of_a_future_birth_date_to_review() -> None:
    """GIVEN 令和 ticked and a birth date read 8/12/25 on 令和8年12月4日 WHEN the page is validated THEN its
    three boxes go to review with the reason, values unchanged, confidence under the threshold (a box
    already in review keeps its own reason beside it); the plausible request date and the count stay ok."""
    layout = FormLayout(code="kenshin", title="健診", fields=_page())
    checked = validate_page_fields(
        _readings(PAGE_VALUES, unsure=frozenset({"birth_day"})), layout=layout, threshold=0.95, today=UPLOAD
    )
    by_name = {r.name: r for r in checked}
    for name in BIRTH.names:
        reading = by_name[name]
        assert reading.value == PAGE_VALUES[name] and reading.status == "low_confidence"
        assert reading.reason is not None and "生年月日が処理日より後です" in reading.reason
        assert reading.confidence < 0.95
    assert by_name["birth_day"].reason is not None and by_name["birth_day"].reason.startswith("信頼度が低い")
    assert all(by_name[n].status == "ok" for n in (*REQUEST.names, "cert_count"))


def test_only_a_surely_read_era_box_sets_the_birth_date_s_era() -> None:
    """GIVEN the same future birth date WHEN the ticked 令和 box itself is in doubt THEN the era is unknown
    and the date is judged on its month and day only (12月25日 exists): no box changes."""
    layout = FormLayout(code="kenshin", title="健診", fields=_page())
    checked = validate_page_fields(
        _readings(PAGE_VALUES, unsure=frozenset({"birth_era_reiwa"})), layout=layout, threshold=0.95, today=UPLOAD
    )
    assert all(r.status == "ok" for r in checked if r.name in BIRTH.names)


def test_the_validator_marks_boxes_naming_no_day_invalid() -> None:
    """GIVEN a request date read 8/2/30 WHEN the page is validated THEN its three boxes are invalid (as
    令和8年2月30日 in one date field would be) with the reason, values unchanged."""
    layout = FormLayout(code="kenshin", title="健診", fields=_page())
    values = {**PAGE_VALUES, "request_month": "2", "request_day": "30", "birth_month": "1"}
    by_name = {r.name: r for r in validate_page_fields(_readings(values), layout=layout, threshold=0.95, today=UPLOAD)}
    for name in REQUEST.names:
        assert (by_name[name].value, by_name[name].status) == (values[name], "invalid")
        assert by_name[name].reason == "請求日の2月30日は存在しない日付です。読み取りを確認してください"
    assert all(by_name[n].status == "ok" for n in BIRTH.names)


def _two_people() -> list[FieldSpec]:
    """A page asking two people's birth dates, each with its own era boxes."""
    specs: list[FieldSpec] = []
    for n, y in ((1, 10), (2, 60)):
        specs += [
            FieldSpec(name=f"p{n}_era_heisei", label=f"世帯員{n} 生年月日：平成", box=(10, y, 20, y + 10), type="checkbox"),
            FieldSpec(name=f"p{n}_era_showa", label=f"世帯員{n} 生年月日：昭和", box=(30, y, 40, y + 10), type="checkbox"),
            FieldSpec(name=f"p{n}_birth_year", label=f"世帯員{n} 生年月日（年）", box=(50, y, 70, y + 10), type="digits"),
            FieldSpec(name=f"p{n}_birth_month", label=f"世帯員{n} 生年月日（月）", box=(80, y, 100, y + 10), type="digits"),
            FieldSpec(name=f"p{n}_birth_day", label=f"世帯員{n} 生年月日（日）", box=(110, y, 130, y + 10), type="digits"),
        ]
    return specs


def test_each_person_s_birth_date_counts_in_its_own_era_box() -> None:
    """GIVEN two people's split birth dates with their own era boxes WHEN only the first person's 平成 is
    ticked THEN the first year box counts in 平成 and the second in no era (not the first person's):
    the second's 55年2月3日 is no 平成55年 outside 平成; the page step gets the first year box's era only."""
    specs = _two_people()
    values: dict[str, str | bool] = {
        "p1_era_heisei": True,
        "p1_era_showa": False,
        "p2_era_heisei": False,
        "p2_era_showa": False,
        "p1_birth_year": "3",
        "p1_birth_month": "4",
        "p1_birth_day": "5",
        "p2_birth_year": "55",
        "p2_birth_month": "2",
        "p2_birth_day": "3",
    }
    (first, first_era), (second, second_era) = split_dates_with_eras(specs, values)
    assert (first.year, second.year) == ("p1_birth_year", "p2_birth_year")
    assert first_era == HEISEI and second_era is None
    assert birth_year_eras(specs, values) == {"p1_birth_year": HEISEI}
    assert split_date_reasons(specs, values, reference=UPLOAD) == []
    values["p2_era_showa"] = True
    assert birth_year_eras(specs, values) == {"p1_birth_year": HEISEI, "p2_birth_year": ERAS[-3]}
    # The second person without era boxes of their own: still never the first person's era.
    alone = [s for s in specs if s.name not in ("p2_era_heisei", "p2_era_showa")]
    assert birth_year_eras(alone, values) == {"p1_birth_year": HEISEI}


def test_era_boxes_labelled_for_no_date_count_for_the_page() -> None:
    """GIVEN era boxes labelled 「生年月日：令和」 and year boxes named dob_year.. labelled 年/月/日 WHEN 令和 is
    ticked THEN the page's one birth date counts in 令和."""
    specs = [
        *_era_boxes()[:2],
        _box("dob_year", "生年月日 年", 100),
        _box("dob_month", "月", 130),
        _box("dob_day", "日", 160),
    ]
    assert birth_year_eras(specs, {"birth_era_reiwa": True}) == {"dob_year": REIWA}
