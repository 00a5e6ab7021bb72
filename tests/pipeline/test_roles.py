"""Roles read off labels: date priors in the beam, review reasons, and person names without digits."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from ocr_service.forms.layout import FieldSpec, FormLayout
from tests.support.ctc import frames
from workers.pipeline.decoding import DecodeContext, decode_field, field_context
from workers.pipeline.priors import prior_for
from workers.pipeline.recognizer import load_recognizer
from workers.pipeline.roles import (
    FieldRole,
    field_role,
    holds_person_name,
    implausible_reason,
    recent_era_years,
)
from workers.pipeline.types import FieldReading
from workers.pipeline.validate import validate_page_fields

UPLOAD = dt.date(2026, 12, 2)  # 令和8年


@pytest.mark.parametrize(
    ("name", "label", "field_type", "role"),
    [
        ("request_year", "請求日（年）", "digits", FieldRole.RECENT_YEAR),
        ("request_month", "請求日（月）", "digits", FieldRole.MONTH),
        ("x3", "申請日（日）", "digits", FieldRole.DAY),
        ("x4", "生年月日：月", "digits", FieldRole.MONTH),
        ("birth_year", "生年月日（年）", "digits", FieldRole.BIRTH_YEAR),
        ("fill_date", "記入日", "date", FieldRole.RECENT_DATE),
        ("applicant_birth", "窓口に来た人：生年月日", "date", FieldRole.BIRTH_DATE),
        ("submit_year", "年", "digits", FieldRole.RECENT_YEAR),
        ("cert_all_count", "必要なもの：住民票の写し（通数）", "digits", None),
        ("birth_weight_g", "出生時の体重（g）", "digits", None),
        ("request_year", "請求日（年）", "text", None),
        ("other_date", "有効期限", "date", FieldRole.PLANNED_DATE),
        ("moving_date", "転出予定日", "date", FieldRole.PLANNED_DATE),
        ("deadline", "申請期限", "date", FieldRole.PLANNED_DATE),
        ("deadline_year", "提出期限（年）", "digits", None),
        ("some_date", "日付", "date", None),
    ],
)
def test_roles_come_from_the_label_and_the_name(
    name: str, label: str, field_type: str, role: FieldRole | None
) -> None:
    """GIVEN a field's label, name and type WHEN its role is asked THEN the date part and kind it holds."""
    assert field_role(name=name, label=label, field_type=field_type) is role


def test_recent_years_are_the_last_few_reiwa_years() -> None:
    """GIVEN an upload in 令和8年 WHEN the recent era years are listed THEN 令和5〜8."""
    assert recent_era_years(UPLOAD) == frozenset({5, 6, 7, 8})


DIGITS = ["", *"0123456789", " "]


def test_a_close_runner_up_year_that_is_plausible_wins() -> None:
    """GIVEN a year box read 1 (55 %) or 7 (40 %) on a form uploaded in 令和8年
    WHEN decoded with the fill-in year role THEN 7; without the role THEN 1."""
    chars = DIGITS
    probs = frames(chars, [{}, {"1": 0.55, "7": 0.40}, {}])
    mask = np.ones(len(chars), dtype=bool)
    with_role, _ = decode_field(probs, chars, "digits", mask, reference=UPLOAD, context=DecodeContext(role=FieldRole.RECENT_YEAR))
    without, _ = decode_field(probs, chars, "digits", mask, reference=UPLOAD)
    assert (with_role, without) == ("7", "1")


def test_a_confident_implausible_reading_is_kept() -> None:
    """GIVEN a year box read 1 at 97 % WHEN decoded with the role THEN still 1 (a prior never overrides
    a confident reading); the validator, not the decoder, sends it to review."""
    chars = DIGITS
    probs = frames(chars, [{}, {"1": 0.97, "7": 0.02}, {}])
    mask = np.ones(len(chars), dtype=bool)
    assert decode_field(probs, chars, "digits", mask, reference=UPLOAD, context=DecodeContext(role=FieldRole.RECENT_YEAR))[0] == "1"


def test_day_and_month_priors_prefer_real_calendar_numbers() -> None:
    """GIVEN priors for month and day boxes WHEN scored THEN real numbers pass, others are penalised."""
    month = prior_for("digits", reference=UPLOAD, role=FieldRole.MONTH)
    day = prior_for("digits", reference=UPLOAD, role=FieldRole.DAY)
    assert month is not None and day is not None
    assert month("12", True) == 0.0 and month("1", False) == 0.0 and month("13", True) < 0
    assert day("25", True) == 0.0 and day("45", True) < 0 and day("4", False) == 0.0 and day("45", False) < 0


def test_an_old_fill_in_date_costs_in_the_beam() -> None:
    """GIVEN the 記入日 prior WHEN a date of two months ago and one of six years ago are scored THEN only
    the old one is penalised; the date grammar of the type still applies."""
    prior = prior_for("date", reference=UPLOAD, role=FieldRole.RECENT_DATE)
    assert prior is not None
    assert prior("令和8年10月1日", True) == 0.0
    assert prior("令和2年10月1日", True) < 0
    assert prior("令和2年", False) == 0.0


def test_a_broken_fill_in_date_costs_more_than_an_old_one() -> None:
    """GIVEN the 記入日 prior WHEN an old date and the same date with its year digit (or day) dropped are
    scored THEN the broken ones cost more: the beam must not drop a digit to escape the old-date cost."""
    prior = prior_for("date", reference=UPLOAD, role=FieldRole.RECENT_DATE)
    assert prior is not None
    old = prior("令和2年4月3日", True)
    assert old < 0
    assert prior("令和年4月3日", True) < old and prior("令和2年4月日", True) < old


@pytest.mark.parametrize(
    ("role", "value", "flagged"),
    [
        (FieldRole.RECENT_YEAR, "7", False),
        (FieldRole.RECENT_YEAR, "2025", False),
        (FieldRole.RECENT_YEAR, "1", True),
        (FieldRole.RECENT_YEAR, "9", True),
        (FieldRole.MONTH, "13", True),
        (FieldRole.DAY, "07", False),
        (FieldRole.DAY, "45", True),
        (FieldRole.RECENT_DATE, "令和1年5月1日", True),
        (FieldRole.RECENT_DATE, "令和7年5月1日", False),
        (FieldRole.RECENT_DATE, "令和8年12月2日", False),
        (FieldRole.RECENT_DATE, "令和8年12月3日", True),
        (FieldRole.RECENT_DATE, "令和9年5月1日", True),
        (FieldRole.BIRTH_DATE, "昭和30年2月7日", False),
        (FieldRole.BIRTH_DATE, "令和9年2月7日", True),
        (FieldRole.MONTH, "", False),
    ],
)
def test_implausible_values_get_a_japanese_reason(role: FieldRole, value: str, flagged: bool) -> None:
    """GIVEN a role and a read value WHEN judged against the upload date THEN a reason only when implausible."""
    reason = implausible_reason(role, value, UPLOAD)
    assert (reason is not None) == flagged
    if reason is not None:
        assert any("\u3040" <= ch <= "\u9fff" for ch in reason)


def test_validator_sends_an_implausible_year_to_review_without_rewriting_it() -> None:
    """GIVEN a confident 請求日（年） reading of 1 on a form uploaded in 令和8年
    WHEN the page is validated THEN the value is kept, the status is low_confidence with the reason,
    and the confidence is capped under the auto-accept threshold; a plausible year stays ok."""
    layout = FormLayout(
        code="req",
        title="請求書",
        fields=[
            FieldSpec(name="request_year", label="請求日（年）", box=(10, 10, 60, 30), type="digits"),
            FieldSpec(name="request_month", label="請求日（月）", box=(70, 10, 120, 30), type="digits"),
        ],
    )
    readings = [
        FieldReading(name="request_year", value="1", confidence=0.99, status="ok"),
        FieldReading(name="request_month", value="9", confidence=0.99, status="ok"),
    ]
    year, month = validate_page_fields(readings, layout=layout, threshold=0.95, today=UPLOAD)
    assert (year.value, year.status) == ("1", "low_confidence")
    assert year.reason is not None and "年" in year.reason and year.confidence < 0.95
    assert (month.value, month.status, month.confidence) == ("9", "ok", 0.99)


def test_a_date_that_may_lie_ahead_is_not_held_to_the_past() -> None:
    """GIVEN a date next spring WHEN scored by the prior of a 転出予定日 (a plan) and of a date the label
    says nothing about THEN only the latter is penalised; the planned date keeps the date grammar."""
    planned = prior_for("date", reference=UPLOAD, role=FieldRole.PLANNED_DATE)
    plain = prior_for("date", reference=UPLOAD)
    assert planned is not None and plain is not None
    assert planned("令和9年4月1日", True) == 0.0
    assert plain("令和9年4月1日", True) < 0
    assert planned("令和9年13月1日", True) < 0 and planned("令和30年4月1日", True) < 0
    assert implausible_reason(FieldRole.PLANNED_DATE, "令和9年4月1日", UPLOAD) is None


@pytest.mark.parametrize(
    ("label", "category", "field_type", "person"),
    [
        ("お子さんの氏名", None, "text", True),
        ("窓口に来た人：氏名", None, "text", True),
        ("お名前", None, "text", True),
        ("署名", None, "text", True),
        ("代表者", "氏名", "text", True),
        ("氏名又は名称", None, "text", False),
        ("法人名", "氏名", "text", False),
        ("お子さんの氏名（ふりがな）", None, "hiragana", False),
        ("住所", None, "text", False),
        ("提出先", None, "text", False),
    ],
)
def test_a_person_s_name_is_known_by_its_label_or_category(
    label: str, category: str | None, field_type: str, person: bool
) -> None:
    """GIVEN a field's label, personal-data category and type WHEN asked whether it holds a person's
    name THEN yes for 氏名 / お名前 / 署名 or the 氏名 category, no where an organisation may be named."""
    assert holds_person_name(label=label, category=category, field_type=field_type) is person


def test_a_person_s_name_is_decoded_without_digits() -> None:
    """GIVEN a name whose last character the model reads as 5 (ら second) WHEN decoded as a person's
    name THEN ら is read; the same frames in another free-text field keep the 5."""
    spec = FieldSpec(name="child_name", label="お子さんの氏名", box=(1, 1, 9, 9), type="text")
    context = field_context(spec)
    assert context is not None and context.person_name
    recognizer = load_recognizer(None, intra_op_threads=1)
    probs = frames(recognizer.characters, [{}, {"さ": 0.99}, {}, {"く": 0.99}, {}, {"5": 0.6, "ら": 0.35}, {}])
    line = np.full((48, 200), 255, dtype=np.uint8)
    name = recognizer._decode(line, probs, "text", context)
    other = recognizer._decode(line, probs, "text", None)
    assert (name.text, other.text) == ("さくら", "さく5")
    assert name.confidence < 0.5
