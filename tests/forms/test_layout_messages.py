"""Layout validation messages in Japanese, each naming the field by its label and machine name."""

from __future__ import annotations

from typing import Any

from ocr_service.forms.messages import field_errors


def _layout(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"code": "t", "title": "テスト", "fields": list(fields)}


def test_each_broken_field_is_named_with_its_label() -> None:
    """GIVEN two broken fields WHEN checked THEN one Japanese message per field, each naming it."""
    errors = field_errors(
        _layout(
            {"name": "Name", "label": "氏名", "box": [10, 10, 100, 30]},
            {"name": "era", "label": "元号", "box": [10, 40, 100, 60], "type": "choice", "options": []},
        )
    )
    assert [e["field"] for e in errors] == ["Name", "era"]
    assert "項目「氏名」（Name）" in errors[0]["message"] and "半角英小文字" in errors[0]["message"]
    assert "項目「元号」（era）" in errors[1]["message"] and "選択肢が2つ以上" in errors[1]["message"]


def test_layout_level_problems_are_named_too() -> None:
    """GIVEN a duplicate name and a box off the page WHEN checked THEN Japanese messages naming them."""
    duplicate = field_errors(
        _layout(
            {"name": "a", "label": "甲", "box": [1, 1, 9, 9]},
            {"name": "a", "label": "乙", "box": [1, 1, 9, 9]},
        )
    )
    assert duplicate == [{"field": "a", "message": "項目名「a」が重複しています"}]
    outside = field_errors(_layout({"name": "b", "label": "欄外", "box": [500, 800, 700, 900]}))
    assert outside[0]["field"] == "b" and "用紙の外" in outside[0]["message"]
    assert field_errors(_layout({"name": "c", "label": "正常", "box": [1, 1, 9, 9]})) == []
