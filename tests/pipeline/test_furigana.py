"""Furigana ↔ name as a prior: a kana field is read again with its name's reading (no OCR model)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ocr_service.forms.layout import FieldSpec
from tests.support.ctc import frames
from workers.pipeline.across import read_across_fields
from workers.pipeline.decoding import DecodeContext, decode_field
from workers.pipeline.furigana import (
    REASON_MENDED,
    ReadField,
    kana_base_field,
    mend_slips_against_names,
    one_slip_apart,
    reread_against_names,
)
from workers.pipeline.namereading import given_name_reading
from workers.pipeline.priors import kana_prior, name_readings, reading_prior
from workers.pipeline.recognizer import TextResult

CHARS = ["", "オ", "ク", "ボ", "ポ", "ア", "ス", "カ", " "]


def _okubo(p_po: float, p_bo: float) -> np.ndarray:
    return frames(CHARS, [{"オ": 0.99}, {}, {"オ": 0.98}, {}, {"ク": 0.97}, {}, {"ポ": p_po, "ボ": p_bo}, {}, {"ア": 0.99}])


def test_the_name_gives_its_surname_readings_and_the_given_name_s_usual_one() -> None:
    """GIVEN written names WHEN their readings are asked THEN each listed surname reading followed by
    the dictionary's reading of the given name, in the field's script; the surname's alone on request."""
    assert name_readings("大久保明日香", katakana=True) == ("オオクボアスカ",)
    assert name_readings("大久保明日香", katakana=True, given=False) == ("オオクボ",)
    assert set(name_readings("山崎健一")) == {"やまざきけんいち", "やまさきけんいち"}
    assert name_readings("小林　由美") == ("こばやしゆみ",)
    assert name_readings("架空野太郎") == ()


def test_the_given_name_is_read_in_its_place_and_a_misread_name_gives_no_reading() -> None:
    """GIVEN a full name WHEN its given name's reading is asked THEN the name reading (星野学: まなぶ, not
    the word がく); GIVEN a digit or Latin letter in the name (a misread) THEN no reading."""
    assert given_name_reading("星野学", 2) == "まなぶ"
    assert given_name_reading("野村真由美", 2) == "まゆみ"
    assert given_name_reading("渡部さく5", 2) is None and given_name_reading("渡部A子", 2) is None
    assert given_name_reading("山下", 2) is None
    assert name_readings("渡部さく5") == name_readings("渡部さく5", given=False)


def test_reading_prior_rewards_only_the_expected_reading() -> None:
    """GIVEN the reading prior of 大久保 WHEN texts are scored THEN オオクボ… earns more than オオクポ…,
    a text that left the reading keeps nothing of it at the end."""
    prior = reading_prior(("オオクボ",), None)
    assert prior("オオクボア", True) > prior("オオクポア", True) == 0.0
    assert prior("オオク", False) > 0.0 and prior("オオク", True) == 0.0


def test_a_close_misread_follows_the_name_and_a_confident_one_stays() -> None:
    """GIVEN ポ read at 93 % over ボ at 6.5 % WHEN decoded with the name's reading オオクボ THEN ボ
    (without it ポ); GIVEN ポ at 99.5 % THEN ポ even with the reading (a dictionary never overrides
    a confident different reading)."""
    context = DecodeContext(readings=("オオクボ",))
    close = _okubo(0.93, 0.065)
    assert decode_field(close, CHARS, "katakana", None)[0] == "オオクポア"
    assert decode_field(close, CHARS, "katakana", None, context=context)[0] == "オオクボア"
    sure = _okubo(0.995, 0.004)
    assert decode_field(sure, CHARS, "katakana", None, context=context)[0] == "オオクポア"
    assert kana_prior("オオクボア", True) > 0.0  # the common-surname bonus alone was not enough


KANA = ["", "た", "ぐ", "ち", "な", "お", "わ", "み", " "]


def _taguchi(p_wa: float, p_o: float) -> np.ndarray:
    rows: list[dict[str, float]] = [{"た": 0.99}, {"ぐ": 0.98}, {"ち": 0.99}, {"な": 0.97}]
    return frames(KANA, [*rows, {"わ": p_wa, "お": p_o}, {"み": 0.99}])


def test_furigana_agreeing_with_the_whole_name_outweighs_a_look_alike_misread() -> None:
    """GIVEN ふりがな たぐちな?み with わ at 90 % over お at 5 % (3 nats), under 田口直美 (たぐち + なおみ)
    WHEN decoded with the surname's and the whole name's readings favoured THEN たぐちなおみ; with the
    surname alone favoured, or with わ at 99.5 %, わ stays (never over a clear read)."""
    whole = DecodeContext(readings=("たぐちなおみ", "たぐち"), whole=("たぐちなおみ",))
    surname = DecodeContext(readings=("たぐちなおみ", "たぐち"))
    close = _taguchi(0.9, 0.05)
    assert decode_field(close, KANA, "hiragana", None, context=surname)[0] == "たぐちなわみ"
    assert decode_field(close, KANA, "hiragana", None, context=whole)[0] == "たぐちなおみ"
    assert decode_field(_taguchi(0.995, 0.002), KANA, "hiragana", None, context=whole)[0] == "たぐちなわみ"
    prior = reading_prior(("たぐちなおみ", "たぐち"), None, whole=("たぐちなおみ",))
    assert prior("たぐちなおみ", True) - reading_prior(("たぐちなおみ", "たぐち"), None)("たぐちなおみ", True) == 1.5
    assert prior("たぐちなおみ", False) == reading_prior(("たぐちなおみ", "たぐち"), None)("たぐちなおみ", False)


class _Reader:
    """Reads the kana crop as オオクポアスカ, and as what ``fix`` says when a reading is expected."""

    def __init__(self, fix: str) -> None:
        self.fix = fix
        self.calls: list[list[DecodeContext | None]] = []

    def recognize(
        self,
        crops: Sequence[np.ndarray],
        charsets: Sequence[str | None],
        contexts: Sequence[DecodeContext | None] | None = None,
    ) -> list[TextResult]:
        self.calls.append(list(contexts or [None] * len(crops)))
        return [TextResult(self.fix, [0.5] * len(self.fix), 0.5) for _ in crops]


def _page() -> tuple[list[ReadField], list[TextResult]]:
    kana = FieldSpec(name="subject_name_kana", label="フリガナ", box=(10, 10, 200, 30), type="katakana")
    name = FieldSpec(name="subject_name", label="氏名", box=(10, 40, 200, 60), type="text")
    fields = [ReadField(kana, 0, 1), ReadField(name, 1, 1)]
    results = [TextResult("オオクポアスカ", [0.95] * 7, 0.95), TextResult("大久保明日香", [0.99] * 6, 0.99)]
    return fields, results


def test_a_kana_field_contradicting_its_name_is_read_again_against_it() -> None:
    """GIVEN フリガナ read オオクポアスカ under 氏名 大久保明日香 WHEN checked against the name THEN the kana
    crop alone is read again with the name's reading (and its surname's) favoured, and the agreeing
    reading replaces it."""
    fields, results = _page()
    reader = _Reader("オオクボアスカ")
    crops = [np.zeros((8, 8), np.uint8)] * 2
    out = reread_against_names(
        recognizer=reader, crops=crops, types=["katakana", None], contexts=[None, None], results=results, fields=fields
    )
    assert [r.text for r in out] == ["オオクボアスカ", "大久保明日香"]
    assert reader.calls == [[DecodeContext(readings=("オオクボアスカ", "オオクボ"), whole=("オオクボアスカ",))]]


def test_a_second_reading_that_still_disagrees_is_not_taken() -> None:
    """GIVEN the second reading still disagrees with the name WHEN checked THEN the first reading stays
    (the review hint will show the disagreement)."""
    fields, results = _page()
    out = reread_against_names(
        recognizer=_Reader("オオクラアスカ"),
        crops=[np.zeros((8, 8), np.uint8)] * 2,
        types=["katakana", None],
        contexts=[None, None],
        results=results,
        fields=fields,
    )
    assert out[0].text == "オオクポアスカ"


def _given_name_page(kana: str, confidence: float = 0.7) -> tuple[list[ReadField], list[TextResult]]:
    kana_spec = FieldSpec(name="guardian_name_kana", label="ふりがな", box=(10, 10, 200, 30), type="hiragana")
    name_spec = FieldSpec(name="guardian_name", label="氏名", box=(10, 40, 200, 60), type="text")
    results = [TextResult(kana, [confidence] * len(kana), confidence), TextResult("小林由美", [0.99] * 4, 0.99)]
    return [ReadField(kana_spec, 0, 1), ReadField(name_spec, 1, 1)], results


def test_a_given_name_read_short_is_restored_only_by_a_reading_that_follows_the_name_further() -> None:
    """GIVEN ふりがな こばやしゆ under 小林由美 (the surname agrees, the given name is cut short)
    WHEN checked THEN it is read again; こばやしゆみ replaces it, こばやしゆ or こばやしゆか does not."""
    crops = [np.zeros((8, 8), np.uint8)] * 2
    for second, kept in (("こばやしゆみ", "こばやしゆみ"), ("こばやしゆか", "こばやしゆ"), ("こはやしゆみ", "こばやしゆ")):
        fields, results = _given_name_page("こばやしゆ")
        reader = _Reader(second)
        out = reread_against_names(
            recognizer=reader, crops=crops, types=["hiragana", None], contexts=[None, None], results=results, fields=fields
        )
        assert out[0].text == kept
        assert reader.calls == [[DecodeContext(readings=("こばやしゆみ", "こばやし"), whole=("こばやしゆみ",))]]
    fields, results = _given_name_page("こばやしゆみ")
    reader = _Reader("こばやしゆ")
    reread_against_names(
        recognizer=reader, crops=crops, types=["hiragana", None], contexts=[None, None], results=results, fields=fields
    )
    assert reader.calls == []  # agreeing furigana cost nothing


def test_a_clear_given_name_reading_other_than_the_dictionary_s_is_left_alone() -> None:
    """GIVEN ふりがな こばやしゆか read clearly (0.97) under 小林由美 (the dictionary says ゆみ, but
    a name can be read otherwise) WHEN checked THEN it is not read again; read doubtfully it is."""
    crops = [np.zeros((8, 8), np.uint8)] * 2
    for confidence, calls in ((0.97, 0), (0.6, 1)):
        fields, results = _given_name_page("こばやしゆか", confidence)
        reader = _Reader("こばやしゆみ")
        reread_against_names(
            recognizer=reader, crops=crops, types=["hiragana", None], contexts=[None, None], results=results, fields=fields
        )
        assert len(reader.calls) == calls


def test_only_a_kana_field_beside_its_text_name_has_a_base() -> None:
    """GIVEN fields WHEN the name a kana field reads out is asked THEN <name>_kana ↔ <name> (text) only."""
    kana = FieldSpec(name="child_name_kana", label="ふりがな", box=(1, 1, 9, 9), type="hiragana")
    name = FieldSpec(name="child_name", label="氏名", box=(1, 11, 9, 19), type="text")
    digits = FieldSpec(name="child_name", label="番号", box=(1, 11, 9, 19), type="digits")
    assert kana_base_field(kana, [kana, name]) is name
    assert kana_base_field(kana, [kana, digits]) is None and kana_base_field(name, [kana, name]) is None


def test_furigana_printed_above_a_name_is_its_reading_whatever_the_fields_are_called() -> None:
    """GIVEN a layout whose fields are not named <name>_kana / <name> WHEN the name a kana field
    reads out is asked THEN the text field right below the フリガナ line and as wide as it;
    not a field far below, beside it or on another page, and not the text below a kana field
    that is no reading (カタカナ) when that text is no name either."""
    furigana = FieldSpec(name="furigana", label="フリガナ", box=(100, 100, 400, 112), type="katakana")
    shimei = FieldSpec(name="shimei", label="氏名", box=(100, 116, 400, 140), type="text")
    far = FieldSpec(name="shimei", label="氏名", box=(100, 160, 400, 184), type="text")
    beside = FieldSpec(name="shimei", label="氏名", box=(420, 100, 560, 124), type="text")
    other_page = FieldSpec(name="shimei", label="氏名", box=(100, 116, 400, 140), type="text", page=2)
    assert kana_base_field(furigana, [furigana, shimei]) is shimei
    for base in (far, beside, other_page):
        assert kana_base_field(furigana, [furigana, base]) is None
    katakana = FieldSpec(name="building", label="建物名（カタカナ）", box=(100, 100, 400, 112), type="katakana")
    room = FieldSpec(name="room", label="部屋番号", box=(100, 116, 400, 140), type="text")
    assert kana_base_field(katakana, [katakana, room]) is None
    assert kana_base_field(katakana, [katakana, shimei]) is shimei


def test_a_layout_the_form_editor_proposes_pairs_its_furigana_with_the_name() -> None:
    """GIVEN a blank 国民健康保険 form with フリガナ printed above 氏名 WHEN the form editor proposes its
    layout (it names them kana / name, not <name>_kana) THEN the proposed kana field reads out the
    proposed name field."""
    from ocr_service.forms.propose import propose_template
    from ocr_service.forms.propose.output import to_layout
    from tests.support.blank_forms import kokuho_shutoku

    layout = to_layout(propose_template(kokuho_shutoku()[0]), code="kokuho")
    specs = list(layout.fields)
    kana = next(s for s in specs if s.type == "katakana")
    base = kana_base_field(kana, specs)
    assert base is not None and base.label == "氏名"


def test_one_slip_is_one_kana_left_out_or_one_voicing_mark_changed_after_the_surname() -> None:
    """GIVEN furigana and the name's reading WHEN compared THEN a kana left out or a ゛/゜ changed in the
    given name is one slip (its index in the reading); in the surname, another kana or two slips are not."""
    assert one_slip_apart("しみずゆま", "しみずゆうま", after=3) == 4
    assert one_slip_apart("やましたり", "やましたりく", after=4) == 5
    assert one_slip_apart("ホシノマナプ", "ホシノマナブ", after=3) == 5
    assert one_slip_apart("こばやしゆみ", "こばやしゆみ", after=4) is None
    assert one_slip_apart("オオクポアスカ", "オオクボアスカ", after=4) is None  # the surname
    assert one_slip_apart("こばやしゆか", "こばやしゆみ", after=4) is None  # another kana
    assert one_slip_apart("しみずま", "しみずゆうま", after=3) is None  # two left out
    assert one_slip_apart("ホシノマナフ", "ホシノマナブ", after=3) == 5  # the dakuten not seen at all


class _Scorer(_Reader):
    """Stands in for the recogniser: reads every crop again as しみずゆま, scores texts by a table."""

    def __init__(self, scores: dict[str, float]) -> None:
        super().__init__("しみずゆま")
        self.scores = scores
        self.scored: list[list[str]] = []

    def log_likelihoods(self, crops: Sequence[np.ndarray], candidates: Sequence[Sequence[str]]) -> list[list[float]]:
        self.scored.extend(list(c) for c in candidates)
        return [[self.scores.get(t, -99.0) for t in c] for c in candidates]


def _shimizu(kana: str, *, name_confidence: float = 0.996, kana_type: str = "hiragana") -> tuple[list[ReadField], list[TextResult]]:
    kana_spec = FieldSpec(name="child_name_kana", label="ふりがな", box=(10, 10, 200, 30), type=kana_type)
    name_spec = FieldSpec(name="child_name", label="氏名", box=(10, 40, 200, 60), type="text")
    name = "清水悠真" if kana_type == "hiragana" else "星野学"
    results = [TextResult(kana, [0.86] * len(kana), 0.86), TextResult(name, [name_confidence] * 4, name_confidence)]
    return [ReadField(kana_spec, 0, 1), ReadField(name_spec, 1, 1)], results


def test_a_kana_the_model_did_not_see_is_put_back_from_a_surely_read_name_for_review() -> None:
    """GIVEN ふりがな しみずゆま under 清水悠真 read at 0.996, the model finding しみずゆうま 5.8 nats less
    likely WHEN mended THEN しみずゆうま, the put-back う at 0.5 (to review); 12 nats less likely, not
    spellable by the model at all, or under a name read at 0.9, it stays as read."""
    crops = [np.zeros((8, 8), np.uint8)] * 2
    fields, results = _shimizu("しみずゆま")
    scorer = _Scorer({"しみずゆま": -1.8, "しみずゆうま": -7.6})
    out, mended = mend_slips_against_names(scorer=scorer, crops=crops, results=results, fields=fields)
    assert out[0] == TextResult("しみずゆうま", [0.86, 0.86, 0.86, 0.86, 0.5, 0.86], 0.5)
    assert mended == {"child_name_kana"} and out[1] == results[1]
    assert scorer.scored == [["しみずゆま", "しみずゆうま"]]
    out, mended = mend_slips_against_names(
        scorer=_Scorer({"しみずゆま": -1.8, "しみずゆうま": -13.8}), crops=crops, results=results, fields=fields
    )
    assert out == results and mended == set()
    out, mended = mend_slips_against_names(
        scorer=_Scorer({"しみずゆま": float("-inf"), "しみずゆうま": float("-inf")}), crops=crops, results=results, fields=fields
    )
    assert out == results and mended == set()
    fields, doubtful = _shimizu("しみずゆま", name_confidence=0.9)
    scorer = _Scorer({"しみずゆま": -1.8, "しみずゆうま": -7.6})
    out, mended = mend_slips_against_names(scorer=scorer, crops=crops, results=doubtful, fields=fields)
    assert out == doubtful and mended == set() and scorer.scored == []


def test_a_voicing_mark_is_mended_even_under_a_clear_read_and_a_surname_never() -> None:
    """GIVEN フリガナ ホシノマナプ under 星野学 (まなぶ) WHEN mended THEN ホシノマナブ for review; GIVEN a
    slip in the surname (オオクポアスカ under 大久保明日香) THEN nothing is scored or changed."""
    crops = [np.zeros((8, 8), np.uint8)] * 2
    fields, results = _shimizu("ホシノマナプ", kana_type="katakana")
    out, mended = mend_slips_against_names(
        scorer=_Scorer({"ホシノマナプ": -0.05, "ホシノマナブ": -4.05}), crops=crops, results=results, fields=fields
    )
    assert out[0] == TextResult("ホシノマナブ", [0.86] * 5 + [0.5], 0.5) and mended == {"child_name_kana"}
    okubo_fields, okubo = _page()
    scorer = _Scorer({"オオクポアスカ": -0.05, "オオクボアスカ": -1.0})
    out, mended = mend_slips_against_names(scorer=scorer, crops=crops, results=okubo, fields=okubo_fields)
    assert out == okubo and mended == set() and scorer.scored == []


def test_a_mended_furigana_leaves_the_page_with_its_own_review_reason() -> None:
    """GIVEN a page whose furigana is mended WHEN its fields are read across THEN the kana field is
    named with the mending reason (what the reviewer reads), the name field not at all."""
    fields, results = _shimizu("しみずゆま")
    out, changed = read_across_fields(
        recognizer=_Scorer({"しみずゆま": -1.8, "しみずゆうま": -7.6}),
        fields=fields,
        crops=[np.zeros((8, 8), np.uint8)] * 2,
        types=["hiragana", None],
        contexts=[None, None],
        results=results,
    )
    assert out[0].text == "しみずゆうま"
    assert changed == {"child_name_kana": REASON_MENDED}
