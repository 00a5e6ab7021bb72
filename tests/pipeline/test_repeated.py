"""One text written twice on a form: CTC scoring of given texts and the joint reading (no model)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pytest

from ocr_service.forms.layout import FieldSpec
from workers.pipeline.across import flag_changed
from workers.pipeline.ctcscore import ctc_log_likelihood
from workers.pipeline.furigana import ReadField
from workers.pipeline.recognizer import TextResult
from workers.pipeline.repeated import (
    REASON_REPEATED,
    fuse_repeated,
    mixes,
    read_repeated_together,
)
from workers.pipeline.types import FieldReading


def _brute_force(probs: np.ndarray, chars: list[str], text: str) -> float:
    total = 0.0
    for path in itertools.product(range(len(chars)), repeat=probs.shape[0]):
        out: list[str] = []
        previous = -1
        for c in path:
            if c != previous and c != 0:
                out.append(chars[c])
            previous = c
        if "".join(out) == text:
            total += float(np.prod([probs[t, c] for t, c in enumerate(path)]))
    return math.log(total) if total else -math.inf


@pytest.mark.parametrize("text", ["12", "11", "1-2", "2", ""])
def test_ctc_log_likelihood_sums_every_alignment(text: str) -> None:
    """GIVEN random frame probabilities WHEN a text is scored THEN the log of the summed probability
    of every CTC path that collapses to it (brute force over 5 frames)."""
    chars = ["", "1", "2", "-"]
    rng = np.random.default_rng(7)
    probs = rng.random((5, len(chars))).astype(np.float64)
    probs /= probs.sum(axis=1, keepdims=True)
    assert ctc_log_likelihood(probs, chars, text) == pytest.approx(_brute_force(probs, chars, text), abs=1e-6)


def test_a_character_no_class_reads_as_is_impossible_and_width_forms_count() -> None:
    """GIVEN a dictionary with a full-width ２ only WHEN 2 and 3 are scored THEN ２ reads as 2, 3 is impossible."""
    chars = ["", "２", "1"]
    probs = np.array([[0.1, 0.8, 0.1], [0.9, 0.05, 0.05]])
    assert ctc_log_likelihood(probs, chars, "2") > -1.0
    assert ctc_log_likelihood(probs, chars, "3") == -math.inf


def test_mixes_take_each_differing_stretch_from_either_reading() -> None:
    """GIVEN two readings of one address with a digit wrong in different places WHEN mixed THEN the four
    texts, including the one neither reading gave; readings differing everywhere give none."""
    assert sorted(mixes("高砂5-90-23", "高砂5-20-93")) == sorted(
        ["高砂5-90-23", "高砂5-90-93", "高砂5-20-23", "高砂5-20-93"]
    )
    assert mixes("コーポ108", "コーポ10") == ["コーポ108", "コーポ10"]
    assert mixes("a1b2c3d4e5", "a9b8c7d6e0") == []


class _Scorer:
    """Scores texts from a table: crop id (its first pixel) → text → log-likelihood (default -30)."""

    def __init__(self, table: dict[int, dict[str, float]]) -> None:
        self.table = table

    def log_likelihoods(self, crops: Sequence[np.ndarray], candidates: Sequence[Sequence[str]]) -> list[list[float]]:
        return [[self.table[int(c[0, 0])].get(t, -30.0) for t in texts] for c, texts in zip(crops, candidates, strict=True)]


def _crop(ident: int) -> np.ndarray:
    return np.full((4, 4), ident, dtype=np.uint8)


def _spec(name: str, label: str, field_type: str = "text") -> FieldSpec:
    return FieldSpec(name=name, label=label, box=(1, 1, 9, 9), type=field_type)


def test_one_address_written_twice_is_read_as_one_text() -> None:
    """GIVEN the applicant's and the subject's address read 5-90-23 and 5-20-93, each crop giving the
    common 5-20-23 some likelihood WHEN read together THEN both become 5-20-23, both sent to review."""
    scorer = _Scorer(
        {
            1: {"浦和区高砂5-90-23": -0.5, "浦和区高砂5-20-23": -3.2, "浦和区高砂5-20-93": -18.0},
            2: {"浦和区高砂5-20-93": -0.2, "浦和区高砂5-20-23": -6.3, "浦和区高砂5-90-23": -16.0},
        }
    )
    fields = [ReadField(_spec("applicant_address", "住所"), 0, 1), ReadField(_spec("subject_address", "住所"), 1, 1)]
    results = [TextResult("浦和区高砂5-90-23", [0.9] * 12, 0.9), TextResult("浦和区高砂5-20-93", [0.8] * 12, 0.8)]
    out, changed = read_repeated_together(scorer=scorer, fields=fields, crops=[_crop(1), _crop(2)], results=results)
    assert [r.text for r in out] == ["浦和区高砂5-20-23", "浦和区高砂5-20-23"]
    assert changed == {"applicant_address", "subject_address"} and out[0].confidence == 0.8


def test_the_field_s_grammar_chooses_among_the_common_texts() -> None:
    """GIVEN one address read ...ハイツス03 and ...ハイツ203, the common ス03 slightly more likely (1 nat)
    WHEN read together THEN ...ハイツ203: the address grammar (no room number starts with 0) decides
    between close common texts, as it does for a crop alone."""
    scorer = _Scorer(
        {
            1: {"長野県長野市若里3-7-4ハイツス03": -2.0, "長野県長野市若里3-7-4ハイツ203": -3.5},
            2: {"長野県長野市若里3-7-4ハイツス03": -4.0, "長野県長野市若里3-7-4ハイツ203": -3.5},
        }
    )
    fields = [
        (_spec("applicant_address", "住所"), _crop(1), TextResult("長野県長野市若里3-7-4ハイツス03", [0.6] * 16, 0.6)),
        (_spec("subject_address", "住所"), _crop(2), TextResult("長野県長野市若里3-7-4ハイツ203", [0.6] * 16, 0.6)),
    ]
    fused = fuse_repeated(scorer=scorer, fields=fields)
    assert [f.text for f in fused] == ["長野県長野市若里3-7-4ハイツ203"]
    # As measured on dev, after a name the building words do not know: one crop prefers ス03 by 2.8
    # nats, the other by 0.3, together 3.1 (more than a plain grammar slip costs).
    ours, theirs = "長野県長野市若里3-7-4グランドールス03", "長野県長野市若里3-7-4グランドール203"
    scorer = _Scorer({1: {ours: -2.4, theirs: -5.2}, 2: {ours: -4.3, theirs: -4.6}})
    fields = [
        (_spec("applicant_address", "住所"), _crop(1), TextResult(ours, [0.6] * len(ours), 0.6)),
        (_spec("subject_address", "住所"), _crop(2), TextResult(theirs, [0.6] * len(theirs), 0.6)),
    ]
    assert [f.text for f in fuse_repeated(scorer=scorer, fields=fields)] == [theirs]


def test_two_close_names_that_each_crop_reads_clearly_stay_apart() -> None:
    """GIVEN two family members タナカユウタ / タナカユウト, each crop sure of its own text
    WHEN read together THEN nothing is fused (names get a smaller allowance than addresses)."""
    scorer = _Scorer({1: {"タナカユウタ": -0.2, "タナカユウト": -6.0}, 2: {"タナカユウト": -0.3, "タナカユウタ": -5.0}})
    fields = [
        (_spec("applicant_name_kana", "フリガナ", "katakana"), _crop(1), TextResult("タナカユウタ", [0.99] * 6, 0.99)),
        (_spec("subject_name_kana", "フリガナ", "katakana"), _crop(2), TextResult("タナカユウト", [0.99] * 6, 0.99)),
    ]
    assert fuse_repeated(scorer=scorer, fields=fields) == []


def test_only_fields_of_one_type_with_nearly_equal_readings_are_compared() -> None:
    """GIVEN a name and an address, and two very different addresses WHEN paired THEN nothing is scored."""

    class _Refuses:
        def log_likelihoods(self, crops: Sequence[np.ndarray], candidates: Sequence[Sequence[str]]) -> list[list[float]]:
            raise AssertionError("nothing should be scored")

    fields = [
        (_spec("name", "氏名"), _crop(1), TextResult("山田太郎", [0.9] * 4, 0.9)),
        (_spec("phone", "電話", "phone"), _crop(2), TextResult("山田太朗", [0.9] * 4, 0.9)),
        (_spec("address", "住所"), _crop(3), TextResult("東京都新宿区1-2-3", [0.9] * 11, 0.9)),
        (_spec("address2", "住所"), _crop(4), TextResult("大阪府大阪市北区9-9", [0.9] * 11, 0.9)),
    ]
    assert fuse_repeated(scorer=_Refuses(), fields=fields) == []


def test_a_page_of_similar_fields_costs_at_most_one_more_read_per_field() -> None:
    """GIVEN six address fields all read nearly alike WHEN read together THEN at most six crops are
    scored again (three disjoint pairs), not one pair per combination."""
    seen: list[int] = []

    class _Counting:
        def log_likelihoods(self, crops: Sequence[np.ndarray], candidates: Sequence[Sequence[str]]) -> list[list[float]]:
            seen.append(len(crops))
            return [[-1.0] * len(texts) for texts in candidates]

    fields = [
        (_spec(f"address_{k}", "住所"), _crop(k), TextResult(f"宮城県仙台市青葉区上杉4-18-1{k}", [0.9] * 20, 0.9))
        for k in range(6)
    ]
    fuse_repeated(scorer=_Counting(), fields=fields)
    assert sum(seen) <= 6


def test_a_field_read_together_goes_to_review_saying_why() -> None:
    """GIVEN readings changed by reading two fields together, one confident and one already doubtful
    WHEN flagged THEN both are under review with the Japanese reason and at most 0.5 confidence;
    an unreadable field is left as it is."""
    sure = FieldReading(name="a", value="高砂5-20-23", confidence=0.99, status="ok")
    doubtful = FieldReading(name="b", value="高砂5-20-23", confidence=0.8, status="low_confidence", reason="信頼度が低い")
    unreadable = FieldReading(name="c", value="", confidence=0.0, status="unreadable", reason="読めません")
    for reading in (flag_changed(sure, REASON_REPEATED), flag_changed(doubtful, REASON_REPEATED)):
        assert (reading.status, reading.reason, reading.value) == ("low_confidence", REASON_REPEATED, "高砂5-20-23")
        assert reading.confidence <= 0.5
    assert flag_changed(unreadable, REASON_REPEATED) == unreadable
