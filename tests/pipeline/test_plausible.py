"""A date part read implausibly is replaced by the plausible value the model finds likeliest, for review."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pytest

from ocr_service.forms.layout import FieldSpec
from ocr_service.validation.wareki import ERAS, Era
from tests.support.fakes import FixedReader
from workers.pipeline.across import read_across_fields
from workers.pipeline.decoding import DecodeContext
from workers.pipeline.furigana import ReadField
from workers.pipeline.plausible import (
    PLAUSIBLE_NATS,
    era_year_candidates,
    plausible_candidates,
    reason_outside_era,
    reason_replaced,
    replace_implausible_dates,
)
from workers.pipeline.recognizer import TextResult
from workers.pipeline.roles import FieldRole

UPLOAD = dt.date(2026, 12, 2)  # 令和8年
CROP = np.zeros((8, 8), np.uint8)


class _Scorer(FixedReader):
    """Stands in for the recogniser: scores texts by a table (others: -99); reads nothing new."""

    def __init__(self, scores: dict[str, float]) -> None:
        super().__init__()
        self.scores = scores
        self.scored: list[list[str]] = []

    def log_likelihoods(self, crops: Sequence[np.ndarray], candidates: Sequence[Sequence[str]]) -> list[list[float]]:
        self.scored.extend(list(c) for c in candidates)
        return [[self.scores.get(t, -99.0) for t in c] for c in candidates]


def test_an_implausible_year_month_or_day_is_tried_against_every_plausible_value() -> None:
    """GIVEN a 令和8 upload WHEN a request year 1, a month 13 or a day 45 was read THEN every plausible
    value of the box is a candidate; GIVEN a plausible reading, an empty box or a letter THEN none."""
    years = plausible_candidates(FieldRole.RECENT_YEAR, "1", UPLOAD)
    assert {"5", "6", "7", "8", "2026"} <= set(years) and "1" not in years and "9" not in years
    assert plausible_candidates(FieldRole.MONTH, "13", UPLOAD)[:3] == ["1", "2", "3"]
    assert "12" in plausible_candidates(FieldRole.MONTH, "13", UPLOAD)
    assert "31" in plausible_candidates(FieldRole.DAY, "45", UPLOAD)
    assert plausible_candidates(FieldRole.RECENT_YEAR, "7", UPLOAD) == []
    assert plausible_candidates(FieldRole.RECENT_YEAR, "", UPLOAD) == []
    assert plausible_candidates(FieldRole.BIRTH_DATE, "令和2年1月1日", UPLOAD) == []


def test_a_year_or_date_only_a_few_years_old_is_doubted_but_kept() -> None:
    """GIVEN a 令和8 upload WHEN a request year 4 (or 2022), or a fill-in date of 令和4年, was read (four years
    back: the validator doubts it) THEN no candidate: only a reading more than five years back or after
    the upload is replaced, so a right reading does not turn wrong as the scans age."""
    assert plausible_candidates(FieldRole.RECENT_YEAR, "4", UPLOAD) == []
    assert plausible_candidates(FieldRole.RECENT_YEAR, "2022", UPLOAD) == []
    assert plausible_candidates(FieldRole.RECENT_DATE, "令和4年5月1日", UPLOAD) == []
    assert plausible_candidates(FieldRole.RECENT_YEAR, "2", UPLOAD) != []
    assert plausible_candidates(FieldRole.RECENT_YEAR, "9", UPLOAD) != []


def test_an_old_fill_in_date_is_tried_with_each_recent_year_but_never_after_the_upload() -> None:
    """GIVEN a fill-in date read 令和2年12月10日 on 2026-12-02 WHEN candidates are asked THEN the same
    month and day in 令和5〜7 (令和8年12月10日 lies after the upload); one read after the upload
    (令和9年) likewise; a western year likewise; a recent date or text that is no date has none."""
    assert plausible_candidates(FieldRole.RECENT_DATE, "令和2年12月10日", UPLOAD) == [
        "令和5年12月10日",
        "令和6年12月10日",
        "令和7年12月10日",
    ]
    assert plausible_candidates(FieldRole.RECENT_DATE, "令和9年4月1日", UPLOAD) == [
        "令和6年4月1日",
        "令和7年4月1日",
        "令和8年4月1日",
    ]
    assert plausible_candidates(FieldRole.RECENT_DATE, "2019年4月1日", UPLOAD)[-1] == "2026年4月1日"
    assert plausible_candidates(FieldRole.RECENT_DATE, "令和2年2月30日", UPLOAD) == []
    assert plausible_candidates(FieldRole.RECENT_DATE, "令和7年12月10日", UPLOAD) == []
    assert plausible_candidates(FieldRole.RECENT_DATE, "ちょうど", UPLOAD) == []


def _page(
    year: str, confidence: float = 0.98
) -> tuple[list[ReadField], list[DecodeContext | None], list[TextResult]]:
    year_spec = FieldSpec(name="request_year", label="請求日（年）", box=(10, 10, 40, 30), type="digits")
    count_spec = FieldSpec(name="copies", label="通数", box=(50, 10, 80, 30), type="digits")
    fields = [ReadField(year_spec, 0, 1), ReadField(count_spec, 1, 1)]
    contexts: list[DecodeContext | None] = [DecodeContext(role=FieldRole.RECENT_YEAR), None]
    return fields, contexts, [TextResult(year, [confidence], confidence), TextResult("1", [0.99], 0.99)]


@pytest.mark.parametrize(
    ("gap", "taken"), [(4.3, True), (PLAUSIBLE_NATS - 0.1, True), (PLAUSIBLE_NATS + 0.5, False)]
)
def test_the_likeliest_plausible_year_replaces_a_confident_misread_within_the_gap(
    gap: float, taken: bool
) -> None:
    """GIVEN a request-year box read 1 at 98 % and the model finding 7 ``gap`` nats less likely (5 and 6
    further off) WHEN implausible dates are replaced THEN 7 at 0.5 with a reason naming both values
    while the gap is within PLAUSIBLE_NATS; beyond it the reading stays. The box without a role is
    never scored."""
    fields, contexts, results = _page("1")
    scorer = _Scorer({"1": -0.1, "7": -0.1 - gap, "5": -30.0, "6": -25.0})
    out, replaced = replace_implausible_dates(
        scorer=scorer, fields=fields, crops=[CROP, CROP], contexts=contexts, results=results, reference=UPLOAD
    )
    if taken:
        assert (out[0].text, out[0].confidence, out[0].char_confidences) == ("7", 0.5, [0.5])
        assert replaced == {"request_year": reason_replaced("1", "7")}
        assert "「1」" in replaced["request_year"] and "「7」" in replaced["request_year"]
    else:
        assert out[0] == results[0] and replaced == {}
    assert out[1] == results[1] and len(scorer.scored) == 1 and scorer.scored[0][0] == "1"
    assert scorer.crops == 0


def test_a_plausible_reading_is_not_scored_and_an_unspellable_value_never_put_in() -> None:
    """GIVEN a request year read 7 WHEN replaced THEN nothing is scored; GIVEN a year read 1 whose every
    plausible value the model cannot spell (-inf) THEN the reading stays."""
    fields, contexts, results = _page("7")
    scorer = _Scorer({})
    assert replace_implausible_dates(
        scorer=scorer, fields=fields, crops=[CROP, CROP], contexts=contexts, results=results, reference=UPLOAD
    ) == (results, {})
    assert scorer.scored == []
    fields, contexts, results = _page("1")
    table = {"1": -0.1} | {c: float("-inf") for c in plausible_candidates(FieldRole.RECENT_YEAR, "1", UPLOAD)}
    out, replaced = replace_implausible_dates(
        scorer=_Scorer(table),
        fields=fields,
        crops=[CROP, CROP],
        contexts=contexts,
        results=results,
        reference=UPLOAD,
    )
    assert out == results and replaced == {}


def test_a_replaced_month_leaves_the_page_with_its_own_review_reason() -> None:
    """GIVEN a month box read 13 that the model finds nearly as likely to be 12 WHEN the page's fields
    are read across THEN 12, named with the replacement reason (what the reviewer reads)."""
    spec = FieldSpec(name="request_month", label="請求日（月）", box=(10, 10, 40, 30), type="digits")
    out, changed = read_across_fields(
        recognizer=_Scorer({"13": -0.2, "12": -2.0, "1": -6.0}),
        fields=[ReadField(spec, 0, 1)],
        crops=[CROP],
        types=["digits"],
        contexts=[DecodeContext(role=FieldRole.MONTH)],
        results=[TextResult("13", [0.97, 0.96], 0.96)],
    )
    assert out[0].text == "12"
    assert changed == {"request_month": reason_replaced("13", "12")}


REIWA, HEISEI = ERAS[-1], ERAS[-2]


def test_a_birth_year_outside_its_era_is_tried_with_each_year_of_it() -> None:
    """GIVEN 令和 ticked on a 令和8 upload WHEN the birth-year box reads 9 or 0 THEN 令和1〜8 are tried; 7 or
    the western 2021 THEN nothing; under 平成, 35 is tried against 平成1〜31."""
    assert era_year_candidates("9", REIWA, UPLOAD) == [str(y) for y in range(1, 9)]
    assert era_year_candidates("0", REIWA, UPLOAD)[-1] == "8"
    assert era_year_candidates("7", REIWA, UPLOAD) == [] and era_year_candidates("2021", REIWA, UPLOAD) == []
    assert era_year_candidates("35", HEISEI, UPLOAD)[-1] == "31" and era_year_candidates("", REIWA, UPLOAD) == []


def test_a_whole_birth_date_after_the_upload_is_tried_in_each_year_of_its_era() -> None:
    """GIVEN a birth date read 令和9年2月7日 on 2026-12-02 WHEN candidates are asked THEN 令和2〜8年2月7日
    (令和1年2月7日 lies before 令和 began); a past birth date has none."""
    assert plausible_candidates(FieldRole.BIRTH_DATE, "令和9年2月7日", UPLOAD) == [f"令和{y}年2月7日" for y in range(2, 9)]
    assert plausible_candidates(FieldRole.BIRTH_DATE, "昭和30年2月7日", UPLOAD) == []


def _birth_page(year: str) -> tuple[list[ReadField], list[DecodeContext | None], list[TextResult]]:
    spec = FieldSpec(name="birth_year", label="生年月日（年）", box=(10, 30, 40, 50), type="digits")
    return [ReadField(spec, 0, 1)], [DecodeContext(role=FieldRole.BIRTH_YEAR)], [TextResult(year, [0.97], 0.97)]


def test_a_birth_year_beyond_its_ticked_era_is_replaced_or_doubted() -> None:
    """GIVEN 令和 ticked on a 令和8 upload and the birth-year box read 9 WHEN the model finds 7 within the gap
    THEN 7 for review; WHEN no year of 令和 is close THEN 9 stays, for review with the era reason; without
    the ticked era THEN 9 is a plausible birth year (昭和9) and nothing is scored."""
    fields, contexts, results = _birth_page("9")

    def settle(scorer: _Scorer, era: Era | None) -> tuple[list[TextResult], dict[str, str]]:
        return replace_implausible_dates(
            scorer=scorer, fields=fields, crops=[CROP], contexts=contexts, results=results, reference=UPLOAD,
            eras={} if era is None else {"birth_year": era},
        )

    out, reasons = settle(_Scorer({"9": -0.1, "7": -3.0}), REIWA)
    assert out[0].text == "7" and reasons == {"birth_year": reason_replaced("9", "7")}
    out, reasons = settle(_Scorer({"9": -0.1}), REIWA)
    assert out == results and reasons == {"birth_year": reason_outside_era("9", REIWA, UPLOAD)}
    assert "令和" in reasons["birth_year"]
    scorer = _Scorer({})
    assert settle(scorer, None) == (results, {}) and scorer.scored == []


def test_the_ticked_era_reaches_the_birth_year_through_the_page_step() -> None:
    """GIVEN a birth-year box read 9 and 令和 ticked WHEN the page's fields are read across THEN the year the
    model finds next (7) is put in with its reason; without an era nothing changes."""
    fields, contexts, results = _birth_page("9")
    scorer = _Scorer({"9": -0.1, "7": -2.0})
    for era, text, changed in ((REIWA, "7", {"birth_year": reason_replaced("9", "7")}), (None, "9", {})):
        out, reasons = read_across_fields(
            recognizer=scorer, fields=fields, crops=[CROP], types=["digits"], contexts=contexts, results=results,
            eras={} if era is None else {"birth_year": era},
        )
        assert (out[0].text, reasons) == (text, changed)
