"""The checks a document must pass before it is confirmed.

Kept behind :func:`check_document` on purpose: the form-validation package (issue 4)
replaces the simple rules here with the form's full validation rules, and only this
module has to change.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from ocr_service.export.dates import parse_japanese_date
from ocr_service.forms.layout import FieldSpec, FormLayout

_DIGITS = re.compile(r"^\d+$")


@dataclass(frozen=True)
class FieldProblem:
    field_name: str
    label: str
    reason: str
    """Japanese, shown to staff."""


def check_field_value(spec: FieldSpec, value: str) -> str | None:
    """Why ``value`` is not acceptable for ``spec`` (Japanese), or None when it is."""
    text = unicodedata.normalize("NFKC", value).strip()
    if spec.type == "checkbox":
        return None if text in ("0", "1", "") else "チェック欄は 0 か 1 です"
    if not text:
        return "必須項目が空です" if spec.required else None
    compact = text.replace("-", "").replace(" ", "")
    if spec.type == "digits":
        if not _DIGITS.match(compact):
            return "数字以外の文字があります"
        if spec.cells and len(compact) != spec.cells:
            return f"桁数が違います（{spec.cells} 桁）"
    elif spec.type == "postal" and not (_DIGITS.match(compact) and len(compact) == 7):
        return "郵便番号は 7 桁の数字です"
    elif spec.type == "phone" and not (_DIGITS.match(compact) and 10 <= len(compact) <= 11):
        return "電話番号は 10〜11 桁の数字です"
    elif spec.type == "date" and parse_japanese_date(text) is None:
        return "日付として読めません"
    return None


def check_document(layout: FormLayout, values: Mapping[str, str]) -> list[FieldProblem]:
    """Every field of the form checked against its value (a missing result counts as empty)."""
    problems = []
    for spec in layout.fields:
        reason = check_field_value(spec, values.get(spec.name, ""))
        if reason is not None:
            problems.append(FieldProblem(field_name=spec.name, label=spec.label, reason=reason))
    return problems
