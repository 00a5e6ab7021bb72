"""Japanese-only free text, kana grammar, the name gap and the beam search with priors (no model needed)."""

from __future__ import annotations

import datetime as dt

import numpy as np

from tests.support.ctc import frames as _frames
from workers.pipeline.charsets import EXCLUDED, apply_kana_grammar, apply_text_grammar, normalize_text
from workers.pipeline.ctcbeam import ctc_beam_search
from workers.pipeline.ctcscore import ctc_log_likelihood
from workers.pipeline.decoding import decode_field, gap_frames, greedy
from workers.pipeline.japanese import (
    fold_columns,
    fold_variants,
    is_japanese_char,
    load_variants,
    to_japanese,
)
from workers.pipeline.priors import date_prior, kana_prior, phone_prior, text_prior


def _kana(text: str, field_type: str | None) -> str:
    chars, confs = apply_kana_grammar(list(text), [0.9] * len(text), field_type)
    assert len(chars) == len(confs)
    return "".join(chars)


# -- variant table ---------------------------------------------------------------------------


def test_variant_table_maps_chinese_and_old_forms_to_the_japanese_form() -> None:
    """GIVEN the committed table WHEN the issue's examples are looked up THEN each has its Japanese form,
    and Japanese characters, kana and surname old forms (澤, 邊, 齋) are left alone."""
    table = load_variants()
    assert {k: table[k] for k in "宫霸橫穗亞惠"} == {"宫": "宮", "霸": "覇", "橫": "横", "穗": "穂", "亞": "亜", "惠": "恵"}
    assert to_japanese("宫城県仙台市青葉区门") == "宮城県仙台市青葉区門"
    assert to_japanese("やまだタロウ山田澤邊齋") == "やまだタロウ山田澤邊齋"
    assert all(is_japanese_char(v) for v in table.values())
    assert not any(is_japanese_char(k) for k in ("宫", "们", "门"))


def test_variant_probability_is_added_to_the_japanese_form_not_dropped() -> None:
    """GIVEN a frame where 宫 (0.5) beats 宮 (0.3) and 官 (0.2) WHEN variants are folded
    THEN 宮 holds 0.8 and wins; the variant's class is empty."""
    chars = ["", "宫", "宮", "官", " "]
    probs = np.array([[0.0, 0.5, 0.3, 0.2, 0.0]], dtype=np.float32)
    folded = fold_variants(probs, chars)
    assert folded[0, 1] == 0.0 and abs(folded[0, 2] - 0.8) < 1e-6
    text, _ = decode_field(probs, chars, "text", None, use_priors=False)
    assert text == "宮"


def test_non_japanese_winner_gives_way_to_the_best_japanese_character() -> None:
    """GIVEN a frame won by a character outside the Japanese set with no table entry
    WHEN decoded as free text THEN the best Japanese character is emitted, not nothing."""
    chars = ["", "𰻞", "山", " "]
    probs = np.array([[0.3, 0.5, 0.2, 0.0]], dtype=np.float32)
    text, confs = decode_field(probs, chars, "text", None, use_priors=False)
    assert text == "山" and abs(confs[0] - 0.2) < 1e-6


# -- kana grammar ----------------------------------------------------------------------------


def test_long_vowel_mark_only_after_a_kana() -> None:
    """GIVEN ー at a word start, after ン, doubled, or in a hiragana field WHEN the grammar runs THEN it goes;
    after a kana in katakana it stays."""
    assert _kana("ーヤマダ", "katakana") == "ヤマダ"
    assert _kana("ケンーイチ", "katakana") == "ケンイチ"
    assert _kana("コーポ", "katakana") == "コーポ"
    assert _kana("サトーー", "katakana") == "サトー"
    assert _kana("やまーだ", "hiragana") == "やまだ"


def test_kanji_one_and_hyphens_inside_katakana_runs_become_long_vowel_marks() -> None:
    """GIVEN 一 or a hyphen between katakana in free text WHEN the grammar runs THEN ー;
    a ー after a kanji or at the start is the kanji 一; a hyphen between digits stays."""
    assert _kana("小坂本町4-13-11コ一ポ桜301", "text") == "小坂本町4-13-11コーポ桜301"
    assert _kana("ハイツコ-ポ", "text") == "ハイツコーポ"
    assert _kana("青葉区ー番町", "text") == "青葉区一番町"
    assert _kana("ー番町", "text") == "一番町"
    assert _kana("3-4", "text") == "3-4"
    assert _kana("ホシノマナ一", "katakana") == "ホシノマナー"


def test_a_katakana_drawn_like_a_kanji_takes_the_script_of_its_neighbours() -> None:
    """GIVEN ロ, ニ or ハ beside kanji and no katakana, or 口, 力 beside katakana and no kanji, in free
    text WHEN the text grammar runs THEN each becomes its twin of the neighbours' script; one inside a
    katakana word, one standing alone, or a kana field stays."""
    def text(value: str, field_type: str | None = "text") -> str:
        return "".join(apply_text_grammar(list(value), [0.9] * len(value), field_type)[0])

    assert text("埼玉県川ロ市栄町") == "埼玉県川口市栄町"
    assert text("奈良市ニ条大路") == "奈良市二条大路"
    assert text("東京都ハ王子市") == "東京都八王子市"
    assert text("山ロ") == "山口"
    assert text("グランド口イヤル") == "グランドロイヤル"
    assert text("ア力シア") == "アカシア"
    assert text("ロイヤル山田") == "ロイヤル山田"
    assert text("ロ") == "ロ"
    assert text("川ロ", "katakana") == "川ロ"


def test_small_kana_rules() -> None:
    """GIVEN small kana where Japanese spelling forbids them WHEN the grammar runs THEN full size;
    after an i-row kana (キャ, しゅ) and in ファ they stay small."""
    assert _kana("ゃまだ", "hiragana") == "やまだ"
    assert _kana("カャマ", "katakana") == "カヤマ"
    assert _kana("ッヨシ", "katakana") == "ツヨシ"
    assert _kana("キャンプ", "katakana") == "キャンプ"
    assert _kana("しゅんすけ", "hiragana") == "しゅんすけ"
    assert _kana("ファミリー", "katakana") == "ファミリー"


def test_a_small_tsu_before_a_kana_no_doubled_consonant_precedes_is_full_size() -> None:
    """GIVEN a small ッ/っ at the end or before an m-, y-, n-, r-row kana or a vowel in a kana field
    WHEN the grammar runs THEN full size; before k/s/t/p-row kana it stays small; free text is untouched."""
    assert _kana("マッモトヨウタ", "katakana") == "マツモトヨウタ"
    assert _kana("モリタタッヤ", "katakana") == "モリタタツヤ"
    assert _kana("なっみ", "hiragana") == "なつみ"
    assert _kana("みっ", "hiragana") == "みつ"
    assert _kana("ハットリ", "katakana") == "ハットリ"
    assert _kana("ほったりょう", "hiragana") == "ほったりょう"
    assert _kana("いっぺい", "hiragana") == "いっぺい"
    assert _kana("マッモト", "text") == "マッモト"


# -- name gap ------------------------------------------------------------------------------


def test_a_wide_gap_between_surname_and_given_name_emits_nothing() -> None:
    """GIVEN a line image with two ink blocks far apart and CTC output that puts ー in the gap
    WHEN decoded with the gap frames THEN no character comes out of the gap; without them ー does."""
    image = np.full((48, 320), 255, dtype=np.uint8)
    image[8:40, 10:110] = 0
    image[8:40, 210:310] = 0
    frames = 40  # 8 px per frame
    gaps = gap_frames(image, frames, 320)
    assert gaps[16:24].all() and not gaps[:13].any() and not gaps[27:].any()
    chars = ["", "ヤ", "マ", "ー", "タ", " "]
    rows: list[dict[str, float]] = [{} for _ in range(frames)]
    rows[5], rows[10], rows[20], rows[30] = {"ヤ": 0.9}, {"マ": 0.9}, {"ー": 0.8}, {"タ": 0.9}
    probs = _frames(chars, rows)
    with_gap, _ = decode_field(probs, chars, "katakana", None, gaps=gaps, use_priors=False)
    without, _ = decode_field(probs, chars, "katakana", None, use_priors=False)
    assert with_gap == "ヤマタ" and without == "ヤマータ"


def test_narrow_gaps_inside_a_character_are_not_boundaries() -> None:
    """GIVEN the two strokes of ハ a third of the height apart WHEN gaps are found THEN none."""
    image = np.full((48, 120), 255, dtype=np.uint8)
    image[8:40, 20:45] = 0
    image[8:40, 56:80] = 0
    assert not gap_frames(image, 15, 120).any()


# -- beam search -----------------------------------------------------------------------------

CHARS = ["", "0", "1", "2", "4", "7", "町", "丁", "目", "令", "和", "年", "月", "日", "-", "宮", "城", "県", "官", " "]


def test_beam_without_prior_equals_greedy_on_a_clear_line() -> None:
    """GIVEN clear frames WHEN decoded by beam without a prior THEN the same text as greedy."""
    probs = _frames(CHARS, [{"1": 0.95}, {}, {"2": 0.9}, {"2": 0.9}, {}, {"2": 0.9}])
    assert ctc_beam_search(probs, CHARS).text == greedy(probs, CHARS)[0] == "122"


def test_beam_sums_alignments_where_greedy_cannot() -> None:
    """GIVEN a character spread thinly over three frames (0.4 each, blank 0.6) WHEN decoded
    THEN greedy reads nothing but the beam, summing its alignments, reads it."""
    probs = _frames(CHARS, [{"7": 0.4}, {"7": 0.4}, {"7": 0.4}])
    assert greedy(probs, CHARS)[0] == ""
    assert ctc_beam_search(probs, CHARS).text == "7"


def test_grammar_prior_recovers_a_dropped_digit_before_chome() -> None:
    """GIVEN 「…町?丁目」 where the digit 4 has 0.3 against blank 0.7 WHEN decoded with the address prior
    THEN 4丁目; without the prior the digit is dropped."""
    rows = [{"宮": 0.95}, {"城": 0.95}, {"県": 0.95}, {"町": 0.95}, {"4": 0.3}, {"丁": 0.95}, {"目": 0.95}]
    probs = _frames(CHARS, rows)
    assert ctc_beam_search(probs, CHARS).text == "宮城県町丁目"
    assert ctc_beam_search(probs, CHARS, prior=text_prior).text == "宮城県町4丁目"


def test_dictionary_lifts_a_close_reading() -> None:
    """GIVEN 官 0.45 vs 宮 0.40 in 「?城県」 WHEN decoded with the place-name prior THEN 宮城県; plain beam: 官城県."""
    probs = _frames(CHARS, [{"官": 0.45, "宮": 0.40}, {"城": 0.95}, {"県": 0.95}])
    assert ctc_beam_search(probs, CHARS).text == "官城県"
    assert ctc_beam_search(probs, CHARS, prior=text_prior).text == "宮城県"


def test_dictionary_never_overrides_a_confident_different_reading() -> None:
    """GIVEN 官 read at 0.93 and 宮 at 0.04 WHEN decoded with the place-name prior THEN 官城県 stays:
    the dictionary only decides between readings the model found close."""
    probs = _frames(CHARS, [{"官": 0.93, "宮": 0.04}, {"城": 0.97}, {"県": 0.97}])
    assert ctc_beam_search(probs, CHARS, prior=text_prior).text == "官城県"
    text, confs = decode_field(probs, CHARS, "text", None)
    assert text == "官城県" and confs[0] > 0.9


def test_grammar_never_overrides_a_confident_reading() -> None:
    """GIVEN 町丁目 with every frame confident and the digit at 0.01 WHEN decoded with the prior
    THEN no digit is invented."""
    rows = [{"宮": 0.99}, {"城": 0.99}, {"県": 0.99}, {"町": 0.99}, {"4": 0.01}, {"丁": 0.99}, {"目": 0.99}]
    assert ctc_beam_search(_frames(CHARS, rows), CHARS, prior=text_prior).text == "宮城県町丁目"


def test_date_prior_plausibility() -> None:
    """GIVEN the processing date 2026-12-02 WHEN dates are scored THEN era-range, calendar and future
    violations are penalised and a valid past date is not."""
    prior = date_prior(dt.date(2026, 12, 2))
    assert prior("令和7年4月3日", True) == 0.0
    assert prior("令和年4月3日", True) < 0 and prior("令和年", False) < 0
    assert prior("令和9年1月1日", True) < 0  # after the processing date
    assert prior("昭和65年1月1日", True) < 0  # 昭和 ended in its 64th year
    assert prior("平成5年2月30日", True) < 0
    assert prior("令和7年4", False) == 0.0


def test_date_prior_in_the_decoder_restores_a_dropped_era_year() -> None:
    """GIVEN 令和?年 where 7 has 0.3 WHEN decoded as a date THEN 令和7年4月2日 (greedy: 令和年4月2日)."""
    rows = [{"令": 0.95}, {"和": 0.95}, {"7": 0.3}, {"年": 0.95}, {"4": 0.95}, {"月": 0.95}, {"2": 0.95}, {"日": 0.95}]
    probs = _frames(CHARS, rows)
    assert greedy(probs, CHARS)[0] == "令和年4月2日"
    text, _ = decode_field(probs, CHARS, "date", None, reference=dt.date(2026, 12, 2))
    assert text == "令和7年4月2日"


def test_phone_prior_counts_digits() -> None:
    """GIVEN phone texts WHEN scored THEN 10/11 digits with ≤ 2 hyphens pass, 12 digits or 3 hyphens do not."""
    assert phone_prior("03-2093-9903", True) == 0.0 and phone_prior("09012345678", True) == 0.0
    assert phone_prior("090-1234-56789", True) < 0 and phone_prior("090-1436-22-72", True) < 0


def test_phone_prior_follows_the_numbering_plan() -> None:
    """GIVEN a Tokyo number with one digit too many (03 numbers have 10 digits) and a mobile one
    WHEN scored THEN the 11-digit 03 number is penalised while being read and at the end, the
    mobile number with 11 digits is not, and a middle group of five digits is refused early."""
    assert phone_prior("03-2093-91903", True) < 0 and phone_prior("0320939190", False) == 0.0
    assert phone_prior("03209391903", False) < 0
    assert phone_prior("090-1436-2272", True) == 0.0 and phone_prior("0901436227", False) == 0.0
    assert phone_prior("03-20939-", False) < 0


def test_unknown_place_names_are_not_damaged() -> None:
    """GIVEN an invented town after a real municipality WHEN scored THEN no penalty for the town itself."""
    assert text_prior("宮城県仙台市青葉区架空町3丁目", True) == text_prior("宮城県仙台市青葉区", True)
    assert text_prior("やまだたろう", True) == 0.0


def test_name_reading_prior_prefers_a_known_surname_and_given_name() -> None:
    """GIVEN kana readings WHEN scored THEN a common surname + given name earns more than a misread,
    and an unknown name earns nothing (it is never pushed towards a listed one on its own)."""
    assert kana_prior("わたなべあいこ", True) > kana_prior("わたなべあいに", True) > 0.0
    assert kana_prior("ヤマダタロウ", True) > kana_prior("ヤマダタロ", True)
    assert kana_prior("ぬぬぬぬ", True) == 0.0


def test_a_semi_voiced_kana_costs_a_little_except_after_n_or_small_tsu() -> None:
    """GIVEN kana names WHEN scored THEN ノプユキ costs 1 nat against ノブユキ (a ゛ read as ゜), テッペイ and
    シュンペイ cost nothing; GIVEN プ at 64 % and ブ at 36 % WHEN decoded as katakana THEN ブ, and a
    clear パ (97 %, a name like パク) stays."""
    assert kana_prior("ノブユキ", True) - kana_prior("ノプユキ", True) == 1.0
    assert kana_prior("テッペイ", True) == kana_prior("テッヘイ", True)
    assert kana_prior("しゅんぺい", True) == kana_prior("しゅんへい", True)
    chars = ["", "ノ", "ブ", "プ", "ユ", "キ", "パ", "バ", "ク", " "]
    mask = np.ones(len(chars), dtype=bool)

    def read(rows: list[dict[str, float]]) -> str:
        return decode_field(_frames(chars, rows), chars, "katakana", mask)[0]

    assert read([{"ノ": 0.99}, {}, {"プ": 0.64, "ブ": 0.36}, {}, {"ユ": 0.99}, {}, {"キ": 0.99}]) == "ノブユキ"
    assert read([{"パ": 0.97, "バ": 0.03}, {}, {"ク": 0.99}]) == "パク"


def test_postal_and_address_disagreement_is_a_hint_not_a_rewrite() -> None:
    """GIVEN a page whose postal code serves Sendai but whose address is in Osaka WHEN checked
    THEN both fields get 「郵便番号と住所が一致しません」; a matching pair (random last four digits) gets nothing."""
    from ocr_service.forms.layout import FormLayout
    from workers.pipeline.hints import POSTAL_MISMATCH, consistency_hints

    layout = FormLayout.model_validate(
        {
            "code": "hint",
            "title": "t",
            "fields": [
                {"name": "postal", "label": "郵便番号", "box": [0, 0, 10, 10], "type": "postal"},
                {"name": "address", "label": "住所", "box": [0, 20, 10, 30]},
            ],
        }
    )
    wrong = consistency_hints({"postal": "980-0811", "address": "大阪市北区梅田3丁目"}, layout, 1)
    assert wrong == [(("postal", "address"), POSTAL_MISMATCH)]
    assert consistency_hints({"postal": "980-9999", "address": "宮城県仙台市青葉区架空町1-2"}, layout, 1) == []


def test_beam_keeps_the_allowed_character_of_a_frame_the_field_forbids() -> None:
    """GIVEN a hiragana field whose only inked frame is won by a kanji (0.99) with こ far behind (1e-5)
    WHEN decoded with the name prior THEN こ, as greedy reads it — never an empty field."""
    chars = ["", "二", "こ", "に", " "]
    probs = _frames(chars, [{}, {"二": 0.99, "こ": 1e-5, "に": 5e-6}, {}])
    allowed = np.array([True, False, True, True, True])
    text, confs = decode_field(probs, chars, "hiragana", allowed)
    assert text == "こ" and confs[0] < 0.01


def test_a_symbol_read_beside_a_digit_is_a_second_digit_not_a_merged_one() -> None:
    """GIVEN a written 「11」 read as 1 then / in adjacent frames (dev: 211号室 read 21号室)
    WHEN decoded as free text or as digits THEN both 1s are kept; the excluded / no longer
    merges into the 1 beside it."""
    chars = ["", "2", "1", "/", "号", " "]
    probs = _frames(chars, [{"2": 0.99}, {}, {"1": 0.87}, {"/": 0.95, "1": 0.02}, {}, {"号": 0.99}])
    no_slash = np.array([True, True, True, False, True, True])  # EXCLUDED["text"]
    assert decode_field(probs, chars, "text", no_slash, use_priors=False)[0] == "211号"
    digits = np.array([True, True, True, False, False, True])
    assert decode_field(probs[:4], chars, "digits", digits)[0] == "211"


def test_one_letter_seen_in_two_scripts_stays_one_letter() -> None:
    """GIVEN a hiragana し read as ル then し in adjacent frames (dev: こばやしたいし)
    WHEN decoded as hiragana THEN one し: only a symbol beside a digit is a second character."""
    chars = ["", "い", "し", "ル", " "]
    probs = _frames(chars, [{"い": 0.97}, {}, {"ル": 0.96, "し": 0.03}, {"し": 0.5}])
    allowed = np.array([True, True, True, False, True])
    assert decode_field(probs, chars, "hiragana", allowed)[0] == "いし"


def test_a_quote_mark_beside_a_kana_is_its_voicing_mark() -> None:
    """GIVEN a ゛ printed apart from its kana and read as “ (dev: つくば市 read つくばが市)
    WHEN decoded as free text THEN it voices a kana that can take it (か“ → が) and is dropped
    after one that cannot or already has it (ば“ → ば), never becoming a character of its own."""
    chars = ["", "ば", "か", "“", "市", "が", "ﾞ", " "]
    voiced = _frames(chars, [{"ば": 0.96}, {"“": 0.42, "が": 0.01}, {"市": 0.99}])
    assert normalize_text(decode_field(voiced, chars, "text", None, use_priors=False)[0]) == "ば市"
    plain = _frames(chars, [{"か": 0.96}, {"“": 0.6}, {"市": 0.99}])
    assert normalize_text(decode_field(plain, chars, "text", None, use_priors=False)[0]) == "が市"


def test_no_house_or_room_number_in_an_address_starts_with_zero() -> None:
    """GIVEN an address WHEN a number in it starts with 0 (ス03 for a handwritten 203) THEN the grammar
    objects, twice as strongly as to other slips (5 nats: no address number is written so); zeros inside
    a number (10-4, 203) and text that is no address are left alone."""
    address = "長野県長野市若里3-7-4ハイツ"
    assert text_prior(address + "ス03", True) == text_prior(address + "ス13", True) - 5.0
    assert text_prior(address + "〇3", True) < text_prior(address + "203", True)
    assert text_prior("長野県長野市若里3-10-4ハイツ203", True) == text_prior("長野県長野市若里3-11-4ハイツ213", True)
    assert text_prior("会員番号03", True) == 0.0


def test_a_dash_after_a_house_number_is_followed_by_a_number() -> None:
    """GIVEN an address WHEN a dash after a number is followed by kana (2-21-リノハイツ for a handwritten
    2-21-11ハイツ, the dash also read as ー) THEN the grammar objects; a number after it, a ー after
    katakana (センター) and a building name after the last number are left alone."""
    address = "宮城県仙台市青葉区一番町2-21"
    # ミドリ is no building word: only the grammar differs (building words: the next test).
    assert text_prior(address + "-リノミドリ", True) == text_prior(address + "-11ミドリ", True) - 2.5
    assert text_prior(address + "ーリノミドリ", True) == text_prior(address + "-11ミドリ", True) - 2.5
    assert text_prior(address + "-11センター", True) == text_prior(address + "-11ミドリ", True)


def test_the_symbols_an_open_four_is_read_as_count_for_a_four() -> None:
    """GIVEN a handwritten open 4 at the end of an address, read as blank 41 %, × 32 %, * 14 %, x 13 % (dev:
    ハイツ山田104 read 10) WHEN decoded as free text THEN 104; GIVEN a digit box read × over a faint
    7 THEN 4; GIVEN a looped 2 read as x THEN 2 (x is no 4 look-alike); kana fields fold nothing."""
    chars = ["", "1", "0", "2", "4", "7", "×", "*", "x", "ハ", " "]
    end = _frames(chars, [{"1": 0.99}, {}, {"0": 0.98}, {}, {"×": 0.32, "*": 0.14, "x": 0.13}])
    assert decode_field(end, chars, "text", None, use_priors=False)[0] == "104"
    digits = np.array([c == "" or c.isdigit() or c == " " for c in chars])
    cross = _frames(chars, [{"×": 0.5, "*": 0.2, "7": 0.25}])
    assert decode_field(cross, chars, "digits", digits)[0] == "4"
    loop = _frames(chars, [{"x": 0.5, "2": 0.3, "×": 0.1}])
    assert decode_field(loop, chars, "digits", digits)[0] == "2"
    kana = np.array([c in ("", "ハ", " ") for c in chars])
    assert decode_field(_frames(chars, [{"ハ": 0.99}, {}, {"×": 0.6}]), chars, "katakana", kana)[0] == "ハ"
    assert ctc_log_likelihood(end, chars, "104") > ctc_log_likelihood(end, chars, "10")


def test_a_dot_a_field_cannot_hold_is_dust_not_a_character() -> None:
    """GIVEN a lone digit with a speck beside it read as 「.」 (dev: a 9 read 91) WHEN decoded as digits
    THEN just the digit; a / (a look-alike of 1) still becomes a digit, and a ： in a hiragana field
    (a small こ) still becomes its best kana."""
    chars = ["", "9", "1", ".", "/", "こ", "：", " "]
    digits = np.array([True, True, True, False, False, False, False, True])
    speck = _frames(chars, [{"9": 0.99}, {}, {".": 0.9, "1": 0.05}])
    assert decode_field(speck, chars, "digits", digits)[0] == "9"
    slash = _frames(chars, [{"9": 0.99}, {}, {"/": 0.9, "1": 0.05}])
    assert decode_field(slash, chars, "digits", digits)[0] == "91"
    kana = np.array([True, False, False, False, False, True, False, True])
    colon = _frames(chars, [{"：": 0.6, "こ": 0.3}])
    assert decode_field(colon, chars, "hiragana", kana)[0] == "こ"


def test_an_angle_bracket_in_free_text_is_the_kana_it_looks_like() -> None:
    """GIVEN a handwritten く read as 〈 (47 %) over く (33 %), as in つくば WHEN decoded as free text with
    the field's exclusions THEN く: a municipal form never holds 〈〉, as it never holds <>."""
    chars = ["", "つ", "〈", "く", "ば", " "]
    probs = _frames(chars, [{"つ": 0.99}, {"〈": 0.47, "く": 0.33}, {"ば": 0.96}])
    allowed = np.array([c not in EXCLUDED["text"] for c in chars])
    assert decode_field(probs, chars, "text", allowed)[0] == "つくば"


def test_folding_a_column_subset_moves_what_folding_the_whole_output_moves() -> None:
    """GIVEN an output and a subset of its columns holding some variant pairs whole and some only in
    part WHEN the subset is folded THEN each column holds what folding the whole output and then
    keeping that column gives for the pairs inside the subset; a pair cut in two stays as it was."""
    chars = ["", "宮", "宫", "横", "橫", "穂", "穗", " "]
    rng = np.random.default_rng(7)
    probs = rng.dirichlet(np.ones(len(chars)), size=5).astype(np.float32)
    cols = np.array([0, 1, 2, 3, 6, 7])  # 宮/宫 whole, 横 without 橫, 穗 without 穂
    folded = fold_columns(probs[:, cols], cols, (np.array([2, 4, 6]), np.array([1, 3, 5])))
    expected = probs[:, cols].copy()
    expected[:, 1] += expected[:, 2]
    expected[:, 2] = 0.0
    assert np.array_equal(folded, expected)


def test_a_lone_kanji_inside_a_hiragana_run_gives_way_to_a_close_kana() -> None:
    """GIVEN ねつ?が where the third character reads 手 24 % and き 23 % (dev: a handwritten き) WHEN
    decoded as free text THEN ねつきが (plain: ねつ手が); GIVEN 手 at 90 % (お手が is Japanese too)
    THEN 手 stays: the kana-run prior only settles near ties."""
    chars = ["", "ね", "つ", "き", "手", "千", "干", "午", "が", " "]
    # The rest of the frame is spread over other kanji, as the model spreads it; blank keeps 16 %.
    third = {"手": 0.243, "き": 0.235, "千": 0.12, "干": 0.12, "午": 0.12}
    close = _frames(chars, [{"ね": 0.99}, {}, {"つ": 0.99}, {}, third, {}, {"が": 0.99}])
    assert decode_field(close, chars, "text", None, use_priors=False)[0] == "ねつ手が"
    assert decode_field(close, chars, "text", None)[0] == "ねつきが"
    clear = _frames(chars, [{"ね": 0.99}, {}, {"つ": 0.99}, {}, {"手": 0.9, "き": 0.05}, {}, {"が": 0.99}])
    assert decode_field(clear, chars, "text", None)[0] == "ねつ手が"


def test_a_lone_latin_letter_inside_a_katakana_word_gives_way_to_a_close_katakana() -> None:
    """GIVEN ク?スト where the second character reads V 47 % and レ 24 % (composed: a handwritten レ)
    WHEN decoded as free text THEN クレスト; GIVEN V at 90 % THEN it stays; a word of letters
    (ABCハイツ) costs nothing."""
    chars = ["", "ク", "V", "レ", "ル", "ス", "ト", "A", "B", "C", "ハ", "イ", "ツ", " "]
    second = {"V": 0.465, "レ": 0.241, "ル": 0.105}
    close = _frames(chars, [{"ク": 0.99}, {}, second, {}, {"ス": 0.99}, {}, {"ト": 0.99}])
    assert decode_field(close, chars, "text", None, use_priors=False)[0] == "クVスト"
    assert decode_field(close, chars, "text", None)[0] == "クレスト"
    clear = _frames(chars, [{"ク": 0.99}, {}, {"V": 0.9, "レ": 0.05}, {}, {"ス": 0.99}, {}, {"ト": 0.99}])
    assert decode_field(clear, chars, "text", None)[0] == "クVスト"
    assert text_prior("ABCハイツ", True) == text_prior("エビシハイツ", True)


def test_building_words_lift_a_close_katakana_run_of_an_address_only() -> None:
    """GIVEN an address ending in メソン緑403 or メゾン緑403 WHEN scored THEN the building word earns a
    bonus (サンハイツ too, as two words) and an unknown name earns nothing; outside an address no bonus;
    GIVEN ソ 61 % and ゾ 29 % WHEN the address is decoded THEN メゾン."""
    from workers.pipeline.buildings import building_bonus

    assert text_prior("福岡県福岡市博多区中洲4-13-25メゾン緑403", True) > text_prior(
        "福岡県福岡市博多区中洲4-13-25メソン緑403", True
    )
    assert building_bonus("4-1サンハイツ202", True, per_char=1.0) == 5.0
    assert building_bonus("4-1メソン緑", True, per_char=1.0) == 0.0
    assert building_bonus("4-1ハイ", False, per_char=1.0) == 2.0 and building_bonus("4-1ハイ", True, per_char=1.0) == 0.0
    assert text_prior("メゾン", True) == text_prior("メソン", True)
    place = "福岡県福岡市博多区"
    chars = ["", *place, "メ", "ソ", "ゾ", "ン", " "]
    rows: list[dict[str, float]] = []
    for ch in place:
        rows += [{ch: 0.99}, {}]
    rows += [{"メ": 0.99}, {}, {"ソ": 0.61, "ゾ": 0.29}, {}, {"ン": 0.99}]
    assert decode_field(_frames(chars, rows), chars, "text", None)[0] == place + "メゾン"


def test_an_address_is_known_by_its_label_whatever_the_field_is_called() -> None:
    """GIVEN text fields labelled 住所, 現住所, 所在地, 居所 with names that say nothing, 本籍 and 氏名
    WHEN asked whether they hold a postal address THEN the first four do, the domicile and the name not."""
    from ocr_service.forms.layout import FieldSpec
    from workers.pipeline.hints import is_address

    labels = {"住所": True, "現住所": True, "事業所の所在地": True, "居所": True, "本籍": False, "氏名": False}
    for i, (label, expected) in enumerate(labels.items()):
        assert is_address(FieldSpec(name=f"field_{i}", label=label, box=(0, 0, 10, 10))) is expected
    assert is_address(FieldSpec(name="field_9", label="本籍", box=(0, 0, 10, 10), type="katakana")) is False


def test_a_postal_code_is_checked_against_the_address_beside_it_only() -> None:
    """GIVEN a page with one postal code (Sendai) beside the applicant's address (Sendai) and the other
    person's address lower down (Osaka) WHEN checked THEN no hint; GIVEN the applicant's address in
    Osaka THEN the hint names the postal code and the applicant's address."""
    from ocr_service.forms.layout import FormLayout
    from workers.pipeline.hints import POSTAL_MISMATCH, consistency_hints

    layout = FormLayout.model_validate(
        {
            "code": "hint2",
            "title": "t",
            "fields": [
                {"name": "applicant_postal", "label": "郵便番号", "box": [100, 100, 200, 112], "type": "postal"},
                {"name": "applicant_address", "label": "住所", "box": [100, 116, 500, 140]},
                {"name": "subject_address", "label": "対象者の住所", "box": [100, 300, 500, 324]},
            ],
        }
    )
    values = {"applicant_postal": "980-0811", "applicant_address": "宮城県仙台市青葉区一番町1-2", "subject_address": "大阪府大阪市北区梅田3丁目"}
    assert consistency_hints(values, layout, 1) == []
    moved = {**values, "applicant_address": "大阪府大阪市北区梅田3丁目", "subject_address": "宮城県仙台市青葉区一番町1-2"}
    assert consistency_hints(moved, layout, 1) == [(("applicant_postal", "applicant_address"), POSTAL_MISMATCH)]
