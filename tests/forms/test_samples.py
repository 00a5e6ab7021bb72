"""Random values for synthetic sheets are valid for their field types, rules and cross-field rules."""

from __future__ import annotations

import random
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocr_service.forms.layout import FormLayout
from ocr_service.forms.loader import load_layout_file
from ocr_service.forms.samples import random_values
from ocr_service.forms.synthetic import HANDWRITING_FONTS, font_covers, installed_handwriting_fonts
from ocr_service.validation.rules import check_cross_field_rules, check_spec_value
from tests.conftest import SAMPLE_FORM_DIR

RULED = FormLayout.model_validate(
    {
        "code": "ruled",
        "title": "規則つき",
        "fields": [
            {"name": "birth", "label": "生年月日", "box": [10, 10, 200, 30], "type": "date", "rules": {"eras": ["平成"]}},
            {"name": "applied", "label": "申請日", "box": [10, 40, 200, 60], "type": "date"},
            {"name": "my_number", "label": "個人番号", "box": [10, 70, 250, 90], "type": "digits", "cells": 12,
             "rules": {"check_digit": "my_number"}},
            {"name": "corp", "label": "法人番号", "box": [10, 100, 250, 120], "type": "digits",
             "rules": {"check_digit": "corporate_number"}},
            {"name": "month", "label": "月", "box": [10, 130, 40, 150], "type": "digits",
             "rules": {"min_value": 1, "max_value": 12}},
            {"name": "tel", "label": "電話", "box": [10, 160, 200, 180], "type": "phone",
             "rules": {"phone_kinds": ["fixed"]}},
            {"name": "other", "label": "その他", "box": [10, 190, 24, 204], "type": "checkbox"},
            {"name": "other_text", "label": "その他の内容", "box": [30, 190, 200, 204]},
            {"name": "yes", "label": "はい", "box": [10, 210, 24, 224], "type": "checkbox"},
            {"name": "no", "label": "いいえ", "box": [30, 210, 44, 224], "type": "checkbox"},
        ],
        "cross_field_rules": [
            {"kind": "before", "field": "birth", "other": "applied"},
            {"kind": "required_if", "field": "other_text", "when": {"field": "other"}},
            {"kind": "exactly_one", "fields": ["yes", "no"]},
        ],
    }
)  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=2**32), st.sampled_from(["ruled", "sample"]))
def test_generated_values_are_valid(seed: int, which: str) -> None:
    """GIVEN any seed WHEN values are generated THEN each passes its field check and no cross rule breaks."""
    layout = RULED if which == "ruled" else load_layout_file(SAMPLE_FORM_DIR).layout
    today = date(2026, 1, 15)
    values = random_values(layout, rng=random.Random(seed), today=today)
    specs = {spec.name: spec for spec in layout.fields}
    assert set(values) == set(specs)
    for name, value in values.items():
        assert check_spec_value(specs[name], value, today=today).ok, (name, value)
    assert check_cross_field_rules(layout, values) == []


def test_same_seed_same_values() -> None:
    """GIVEN one seed WHEN generating twice THEN identical values (forms test --seed is reproducible)."""
    first = random_values(RULED, rng=random.Random(7), today=date(2026, 1, 1))
    assert first == random_values(RULED, rng=random.Random(7), today=date(2026, 1, 1))


@pytest.mark.skipif(not installed_handwriting_fonts(), reason="no handwriting font installed")
def test_font_coverage_detects_missing_glyphs() -> None:
    """GIVEN an installed handwriting font WHEN asked about kana and a CJK Extension B character
    THEN kana are covered and 𠮷 (absent from the Seto and Kiloji fonts) is reported missing there."""
    for path in installed_handwriting_fonts().values():
        assert font_covers(path, "やまだ タロウ 0123")
    for name in ("seto", "kiloji"):
        if name in installed_handwriting_fonts():
            assert not font_covers(HANDWRITING_FONTS[name], "𠮷")
