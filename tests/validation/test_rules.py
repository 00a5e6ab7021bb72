"""Field rules, cross-field rules and the pipeline hook that flags invalid readings."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ocr_service.forms.layout import FormLayout
from ocr_service.forms.rules import FieldRules
from ocr_service.validation.rules import check_cross_field_rules, check_field_value
from workers.pipeline.types import FieldReading
from workers.pipeline.validate import validate_page_fields


def _layout(fields: list[dict[str, Any]], cross: list[dict[str, Any]] | None = None) -> FormLayout:
    boxed = [
        {"label": f["name"], "box": [10, 10 + 20 * i, 200, 28 + 20 * i], **f} for i, f in enumerate(fields)
    ]
    return FormLayout.model_validate(
        {"code": "t", "title": "テスト", "fields": boxed, "cross_field_rules": cross or []}
    )


@pytest.mark.parametrize(
    ("value", "field_type", "ok"),
    [
        ("令和6年9月20日", "date", True),
        ("令和6年9月31日", "date", False),
        ("平成31年5月1日", "date", False),
        ("〒123-4567", "postal", True),
        ("123-456", "postal", False),
        ("03-1234-5678", "phone", True),
        ("03-1234-567", "phone", False),
        ("12", "digits", True),
        ("1a", "digits", False),
        ("ヤマダ", "katakana", True),
        ("ヤマ田", "katakana", False),
        ("やまだ", "hiragana", True),
        ("山田", "text", True),
        ("", "date", True),
        ("6年9月20日", "date", True),  # the era is printed before the box
        ("6年2月30日", "date", False),
        ("令和年4月3日", "date", False),
    ],
)
def test_type_checks(value: str, field_type: str, ok: bool) -> None:
    """GIVEN a value of a field type WHEN checked THEN valid exactly when the type allows it."""
    verdict = check_field_value(value, field_type=field_type)
    assert verdict.ok is ok
    assert (verdict.reason is None) is ok


def test_required_and_normalised_values() -> None:
    """GIVEN required empty fields and valid values WHEN checked THEN 必須 reason, or the normalised value."""
    assert check_field_value(" ", field_type="text", required=True).reason == "必須項目が空欄です"
    assert check_field_value("〒１２３－４５６７", field_type="postal").normalized == "1234567"
    assert check_field_value("R1.5.1", field_type="date").normalized == "令和元年5月1日"
    assert check_field_value("ﾔﾏﾀﾞ", field_type="katakana").normalized == "ヤマダ"
    assert check_field_value("1234", field_type="digits", cells=3).reason is not None


def test_declared_rules() -> None:
    """GIVEN declared rules WHEN values break them THEN each gives its own Japanese reason."""
    mynumber = FieldRules(check_digit="my_number")
    assert check_field_value("123456789018", field_type="digits", rules=mynumber).ok
    assert "チェックデジット" in (
        check_field_value("123456789019", field_type="digits", rules=mynumber).reason or ""
    )
    month = FieldRules(min_value=1, max_value=12)
    assert check_field_value("12", field_type="digits", rules=month).ok
    assert check_field_value("13", field_type="digits", rules=month).reason == "12以下の数です"
    eras = FieldRules(eras=["令和", "平成"], not_future=True)
    assert check_field_value("平成30年1月1日", field_type="date", rules=eras, today=date(2025, 1, 1)).ok
    assert "元号" in (check_field_value("昭和60年1月1日", field_type="date", rules=eras).reason or "")
    assert not check_field_value("6年9月20日", field_type="date", rules=eras).ok  # rules need the era
    future = check_field_value("令和9年1月1日", field_type="date", rules=eras, today=date(2025, 1, 1))
    assert future.reason == "未来の日付になっています"
    assert not check_field_value(
        "090-1234-5678", field_type="phone", rules=FieldRules(phone_kinds=["fixed"])
    ).ok
    assert not check_field_value("ab1", field_type="text", rules=FieldRules(pattern=r"[a-z]+")).ok
    assert not check_field_value("あ", field_type="text", rules=FieldRules(min_length=2)).ok
    assert check_field_value("090-1234-5678", field_type="phone", rules=FieldRules(digits=11)).ok


def test_cross_field_rules() -> None:
    """GIVEN before / required_if / equal_if / at_most_one rules WHEN broken THEN violations name the fields."""
    layout = _layout(
        [
            {"name": "birth", "type": "date"},
            {"name": "applied", "type": "date"},
            {"name": "other", "type": "checkbox"},
            {"name": "other_text"},
            {"name": "same", "type": "checkbox"},
            {"name": "addr1"},
            {"name": "addr2"},
            {"name": "male", "type": "checkbox"},
            {"name": "female", "type": "checkbox"},
        ],
        [
            {"kind": "before", "field": "birth", "other": "applied"},
            {"kind": "required_if", "field": "other_text", "when": {"field": "other"}},
            {
                "kind": "equal_if",
                "field": "addr2",
                "other": "addr1",
                "when": {"field": "same", "equals": True},
            },
            {"kind": "at_most_one", "fields": ["male", "female"]},
        ],
    )
    good: dict[str, str | bool] = {
        "birth": "平成2年3月4日",
        "applied": "令和6年9月20日",
        "other": True,
        "other_text": "祖母",
        "same": True,
        "addr1": "東山市1-2",
        "addr2": "東山市１－２",
        "male": True,
        "female": False,
    }
    assert check_cross_field_rules(layout, good) == []
    bad: dict[str, str | bool] = {
        **good,
        "birth": "令和7年1月1日",
        "other_text": "",
        "addr2": "西山市",
        "female": True,
    }
    found = {v.fields: v.reason for v in check_cross_field_rules(layout, bad)}
    assert set(found) == {("birth", "applied"), ("other_text",), ("addr2", "addr1"), ("male", "female")}
    assert found[("birth", "applied")] == "birthはappliedより前の日付のはずです"
    # A rule whose fields are not all on this page is not evaluated.
    assert check_cross_field_rules(layout, {"birth": "令和7年1月1日"}) == []


def test_rules_must_fit_field_types() -> None:
    """GIVEN rules on the wrong field type or cross rules naming unknown fields WHEN loaded THEN ValueError."""
    with pytest.raises(ValueError, match="eras needs type date"):
        _layout([{"name": "n", "type": "digits", "rules": {"eras": ["令和"]}}])
    with pytest.raises(ValueError, match="unknown field 'nope'"):
        _layout([{"name": "d", "type": "date"}], [{"kind": "before", "field": "d", "other": "nope"}])
    with pytest.raises(ValueError, match="must be a checkbox"):
        _layout([{"name": "a"}, {"name": "b"}], [{"kind": "exactly_one", "fields": ["a", "b"]}])
    with pytest.raises(ValueError, match="greater than"):
        FieldRules(min_value=5, max_value=1)
    with pytest.raises(ValueError, match="regular expression"):
        FieldRules(pattern="([")


def _reading(name: str, value: str | bool, confidence: float = 0.97, status: str = "ok") -> FieldReading:
    return FieldReading(name, value, confidence, [], None, status, None)  # type: ignore[arg-type]


def test_pipeline_hook_flags_invalid_and_caps_confidence() -> None:
    """GIVEN confident readings, one impossible date and a broken cross rule WHEN validated
    THEN those fields are invalid with a reason and below the threshold; valid ones untouched."""
    layout = _layout(
        [
            {"name": "birth", "type": "date"},
            {"name": "applied", "type": "date"},
            {"name": "zip", "type": "postal"},
            {"name": "name", "required": True},
        ],
        [{"kind": "before", "field": "birth", "other": "applied"}],
    )
    readings = [
        _reading("birth", "令和8年1月1日"),
        _reading("applied", "令和6年9月20日"),
        _reading("zip", "123-456"),
        _reading("name", "", 0.95, "empty"),
    ]
    out = validate_page_fields(readings, layout=layout, threshold=0.8)
    assert [r.name for r in out] == ["birth", "applied", "zip", "name"]
    assert all(r.status == "invalid" and r.confidence < 0.8 and r.reason for r in out)
    assert [r.value for r in out] == [r.value for r in readings]
    assert out[2].reason == "郵便番号は7桁です（6桁）"
    assert out[3].reason == "必須項目が空欄です"
    fine = [
        _reading("birth", "平成2年1月1日"),
        _reading("applied", "令和6年9月20日"),
        _reading("zip", "1234567"),
    ]
    assert validate_page_fields(fine, layout=layout, threshold=0.8) == fine
    unreadable = [_reading("zip", "", 0.0, "unreadable")]
    assert validate_page_fields(unreadable, layout=layout, threshold=0.8) == unreadable
