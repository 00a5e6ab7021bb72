"""Layout validation errors in Japanese, each naming the field (label and machine name) it is about."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ocr_service.forms.layout import FieldSpec, FormLayout

_KEYS_JA = {
    "name": "項目名",
    "label": "ラベル",
    "box": "枠",
    "type": "種類",
    "page": "ページ",
    "cells": "マス数",
    "csv_column": "CSV列名",
    "rules": "入力規則",
    "options": "選択肢",
    "code": "様式コード",
    "title": "様式名",
    "cross_field_rules": "項目間の規則",
    "export": "出力設定",
    "review": "確認設定",
}


def _message_ja(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    loc = [str(part) for part in err.get("loc", ()) if not isinstance(part, int)]
    key = _KEYS_JA.get(loc[0], loc[0]) if loc else ""
    raw = str(err.get("msg", "")).removeprefix("Value error, ")
    if kind == "string_pattern_mismatch" and loc[:1] == ["name"]:
        return "項目名は半角英小文字で始まり、半角英小文字・数字・_ のみ（63文字まで）にしてください"
    if kind == "string_pattern_mismatch" and loc[:1] == ["code"]:
        return "様式コードは半角英小文字・数字・_・- のみにしてください"
    if kind == "missing":
        return f"{key}を入力してください"
    if kind in ("string_too_short",):
        return f"{key}を入力してください"
    if kind in ("literal_error", "enum"):
        return f"{key}の値が選べる値ではありません"
    if "x1 > x0" in raw or "negative coordinate" in raw:
        return "枠の座標が正しくありません（右下が左上より右下にあり、負の値がないこと）"
    if "needs at least two options" in raw:
        return "選択式には選択肢が2つ以上必要です"
    if "duplicate option" in raw:
        return "選択肢の値が重複しています"
    if "cannot have options" in raw:
        return "選択肢を持てるのは種類「選択式」だけです"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return f"{key}の値が範囲外です"
    return f"{key}：{raw}" if key else raw


def field_errors(mapping: dict[str, Any]) -> list[dict[str, str]]:
    """Problems of a layout mapping as ``{"field": name, "message": 日本語}``; [] when it is valid.

    Each field is checked on its own first, so every broken field is named at once;
    then the layout as a whole (duplicate names, boxes off the page, cross-field rules).
    """
    errors: list[dict[str, str]] = []
    raw_fields: list[Any] = mapping["fields"] if isinstance(mapping.get("fields"), list) else []
    for index, raw in enumerate(raw_fields):
        name = str(raw.get("name", "")) if isinstance(raw, dict) else ""
        label = str(raw.get("label", "")) if isinstance(raw, dict) else ""
        who = f"項目「{label or name or index + 1}」（{name or '名前なし'}）"
        try:
            FieldSpec.model_validate(raw)
        except ValidationError as exc:
            for err in exc.errors():
                errors.append({"field": name, "message": f"{who}：{_message_ja(dict(err))}"})
    if errors:
        return errors
    try:
        FormLayout.model_validate(mapping)
    except ValidationError as exc:
        for err in exc.errors():
            raw = str(err.get("msg", "")).removeprefix("Value error, ")
            name = raw.split("'")[1] if raw.count("'") >= 2 else ""
            labels = {str(f.get("name")): str(f.get("label", "")) for f in raw_fields if isinstance(f, dict)}
            if "is defined twice" in raw:
                message = f"項目名「{name}」が重複しています"
            elif "lies outside the page" in raw:
                message = f"項目「{labels.get(name, name)}」（{name}）：枠が用紙の外にあります"
            elif "must have type date" in raw or "must be a checkbox" in raw or "unknown field" in raw:
                message = f"項目間の規則が正しくありません：{raw}"
            elif name in labels:
                message = f"項目「{labels[name]}」（{name}）：{raw}"
            else:
                message = _message_ja(dict(err))
            errors.append({"field": name if name in labels else "", "message": message})
    return errors
