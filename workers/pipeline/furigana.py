"""Furigana ↔ name: a kana field is read again with the reading its name field implies.

Forms put フリガナ right above 氏名. When the name starts with a common surname
(``data/surnames.tsv``: 大久保 → おおくぼ), its expected readings are the surname's readings
followed by the given name's usual reading from the dictionary
(:mod:`workers.pipeline.namereading`: 明日香 → あすか). When the kana field does not start with
one of them (オオクポアスカ, こばやしゆ under 小林由美), the kana crop is decoded again with those
readings as a prior (:func:`workers.pipeline.priors.reading_prior`). The new reading is taken
only when it follows the name further than the first one did; the bonus is a few nats, so a
confident different reading stays (a person may use an unusual reading, and the review hint
still shows the disagreement).

A bonus of a few nats cannot put back a kana the model did not see at all: a small う squeezed
between ゆ and ま (しみずゆま under 清水悠真), a く touching its り (やましたり under 山下陸), or a
dakuten read as a handakuten (ホシノマナプ under 星野学, 0.98 sure). When the name itself was read
surely and the furigana is its usual reading but for one such slip in the given name, the
reading is mended and sent to review saying so (:func:`mend_slips_against_names`); a slip of the
surname is never mended (山崎 is やまさき or やまざき, both listed).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ocr_service.forms.layout import FieldSpec
from workers.pipeline.decoding import DecodeContext
from workers.pipeline.priors import name_readings
from workers.pipeline.recognizer import Recognizer, TextResult, TextScorer
from workers.pipeline.types import CHANGED_CONFIDENCE

__all__ = [
    "KANA_TYPES",
    "REASON_MENDED",
    "ReadField",
    "kana_base_field",
    "mend_slips_against_names",
    "one_slip_apart",
    "reread_against_names",
]

KANA_TYPES = frozenset({"hiragana", "katakana"})
_GIVEN_DOUBT = 0.9
"""Furigana whose surname agrees are read again for the given name only below this confidence."""
_NAME_SURE = 0.95
"""A name read at least this surely says its reading well enough to mend one slip of its furigana."""
_SLIP_NATS = 10.0
"""How much more likely the model may find its own furigana than the mended one (dev: 4.0, 5.8 and
7.1 nats); beyond it the written kana is taken as the person's own reading."""
REASON_MENDED = "ふりがなを氏名の読みに合わせて1文字直しました。確認してください"
_VOICING = "\u3099\u309a"


@dataclass(frozen=True)
class ReadField:
    """One field of a page in the batched recogniser call: its crops are ``first .. first + count``."""

    spec: FieldSpec
    first: int
    count: int


_FURIGANA_LABEL = re.compile("フリガナ|ふりがな|よみがな|ヨミガナ|読み仮名|氏名|名前")
"""A kana field's label that says it holds a reading of a name (氏名（カナ） too, not カタカナ alone)."""
_NAME_LABEL = re.compile("氏名|名前|名称")
_BELOW = 2.5
"""A name field starts at most this many furigana-box heights below the furigana box."""


def kana_base_field(kana: FieldSpec, specs: Sequence[FieldSpec]) -> FieldSpec | None:
    """The name field a kana field reads out, or None.

    ``<name>_kana`` beside a text field ``<name>``; failing that, as forms print it, the text
    field right below the furigana line and as wide as it (no more than :data:`_BELOW` of its
    heights lower, overlapping half the narrower box), when the kana field's label says it is a
    reading (フリガナ, 氏名（カナ）…) or that field's label or category says it is a name. Layouts
    are named by whoever defines them: ``furigana`` above ``shimei`` pairs as well.
    """
    if kana.type not in KANA_TYPES:
        return None
    if kana.name.endswith("_kana"):
        named = next((s for s in specs if s.name == kana.name[: -len("_kana")]), None)
        if named is not None and named.type == "text":
            return named
    x0, y0, x1, y1 = kana.box
    height = y1 - y0
    below: list[tuple[float, FieldSpec]] = []
    for spec in specs:
        if spec.type != "text" or spec.page != kana.page:
            continue
        sx0, sy0, sx1, _ = spec.box
        gap = sy0 - y1
        overlap = min(x1, sx1) - max(x0, sx0)
        if -0.5 * height <= gap <= _BELOW * height and overlap >= 0.5 * min(x1 - x0, sx1 - sx0):
            below.append((gap, spec))
    if not below:
        return None
    base = min(below, key=lambda item: item[0])[1]
    name_like = bool(_NAME_LABEL.search(base.label)) or base.category == "氏名"
    return base if name_like or _FURIGANA_LABEL.search(kana.label) else None


def _name_pairs(fields: Sequence[ReadField]) -> list[tuple[ReadField, ReadField]]:
    """Each one-line kana field of the page with the one-line name field it reads out."""
    by_name = {f.spec.name: f for f in fields}
    specs = [f.spec for f in fields]
    pairs = []
    for field in fields:
        base_spec = kana_base_field(field.spec, specs)
        base = by_name.get(base_spec.name) if base_spec is not None else None
        if base is not None and field.count == 1 and base.count == 1:
            pairs.append((field, base))
    return pairs


def _starts_with(text: str, readings: tuple[str, ...]) -> bool:
    return any(text.startswith(r) for r in readings)


def _agreement(text: str, readings: tuple[str, ...]) -> int:
    """Characters at the start of ``text`` that follow one of ``readings``."""
    best = 0
    for reading in readings:
        n = 0
        while n < min(len(text), len(reading)) and text[n] == reading[n]:
            n += 1
        best = max(best, n)
    return best


def reread_against_names(
    *,
    recognizer: Recognizer,
    crops: Sequence[np.ndarray],
    types: Sequence[str | None],
    contexts: Sequence[DecodeContext | None],
    results: list[TextResult],
    fields: Sequence[ReadField],
) -> list[TextResult]:
    """``results`` with each kana field that contradicts its name read again against it.

    Args:
        recognizer: the page's recogniser.
        crops, types, contexts: what the first call read (one entry per crop).
        results: what it returned.
        fields: the text fields of the page and their crops.

    Returns:
        a new list; a kana field's result is replaced only when the second reading follows a
        reading of the name further than the first did.
    """
    out = list(results)
    # (crop index, the name's full readings, the readings the prior favours, whole-name readings)
    todo: list[tuple[int, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = []
    for field, base in _name_pairs(fields):
        name, katakana = results[base.first].text, field.spec.type == "katakana"
        expected = name_readings(name, katakana=katakana)
        kana, surnames = results[field.first].text, name_readings(name, katakana=katakana, given=False)
        if not expected or not kana or _starts_with(kana, expected):
            continue
        if _starts_with(kana, surnames) and results[field.first].confidence >= _GIVEN_DOUBT:
            # The dictionary knows one reading per given name: a clear different one is the person's.
            continue
        # The surname alone is a reading too: a given name read short keeps the surname's bonus.
        whole = tuple(r for r in expected if r not in surnames)
        todo.append((field.first, expected, tuple(dict.fromkeys((*expected, *surnames))), whole))
    if not todo:
        return out
    again = recognizer.recognize(
        [crops[i] for i, _, _, _ in todo],
        [types[i] for i, _, _, _ in todo],
        [replace(contexts[i] or DecodeContext(), readings=favoured, whole=whole) for i, _, favoured, whole in todo],
    )
    for (index, expected, _, _), result in zip(todo, again, strict=True):
        if _agreement(result.text, expected) > _agreement(results[index].text, expected):
            out[index] = result
    return out


def _unvoiced(kana: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFD", kana) if ch not in _VOICING)


def one_slip_apart(read: str, reading: str, *, after: int = 0) -> int | None:
    """Where ``reading`` is ``read`` with one kana put back, or with one kana's ゛/゜ changed; else None.

    Args:
        read: the furigana as read.
        reading: the name's expected reading.
        after: the slip must lie at or after this index (the surname's length: never mend a surname).

    Returns:
        the index in ``reading`` of the kana put back or changed.
    """
    if len(reading) == len(read) + 1:
        return next((i for i in range(after, len(reading)) if reading[:i] + reading[i + 1 :] == read), None)
    if len(reading) != len(read):
        return None
    differ = [i for i, (a, b) in enumerate(zip(read, reading, strict=True)) if a != b]
    if len(differ) == 1 and differ[0] >= after and _unvoiced(read[differ[0]]) == _unvoiced(reading[differ[0]]):
        return differ[0]
    return None


def mend_slips_against_names(
    *,
    scorer: TextScorer,
    crops: Sequence[np.ndarray],
    results: list[TextResult],
    fields: Sequence[ReadField],
) -> tuple[list[TextResult], set[str]]:
    """``results`` with furigana one slip away from a surely read name's usual reading mended.

    A slip is a kana of the given name not read at all, or read with the other voicing mark
    (:func:`one_slip_apart`). The mended reading is taken only when the model does not rule it
    out (within :data:`_SLIP_NATS` of its own reading); the mended kana gets
    :data:`CHANGED_CONFIDENCE`, so the field goes to review.

    Returns:
        the new results, and the names of the kana fields mended (to flag with :data:`REASON_MENDED`).
    """
    out = list(results)
    todo: list[tuple[ReadField, list[tuple[str, int]]]] = []
    for field, base in _name_pairs(fields):
        if results[base.first].confidence < _NAME_SURE:
            continue
        name, katakana, kana = results[base.first].text, field.spec.type == "katakana", results[field.first].text
        expected = name_readings(name, katakana=katakana)
        surnames = name_readings(name, katakana=katakana, given=False)
        if not kana or kana in expected:
            continue
        slips = []
        for reading in expected:
            if reading in surnames:
                continue  # the dictionary does not know the given name: nothing to mend it by
            surname = max((s for s in surnames if reading.startswith(s)), key=len, default="")
            at = one_slip_apart(kana, reading, after=len(surname)) if surname and kana.startswith(surname) else None
            if at is not None:
                slips.append((reading, at))
        if slips:
            todo.append((field, slips))
    if not todo:
        return out, set()
    scores = scorer.log_likelihoods(
        [crops[field.first] for field, _ in todo],
        [[results[field.first].text, *(reading for reading, _ in slips)] for field, slips in todo],
    )
    mended: set[str] = set()
    for (field, slips), (own, *others) in zip(todo, scores, strict=True):
        best = max(range(len(slips)), key=others.__getitem__)
        # A reading the model cannot spell at all (a kana outside its dictionary) is never taken.
        if not math.isfinite(others[best]) or others[best] < own - _SLIP_NATS:
            continue
        reading, at = slips[best]
        was = results[field.first]
        replaced = 1 if len(reading) == len(was.text) else 0  # a voicing mark changed, not a kana put back
        confidences = [*was.char_confidences[:at], CHANGED_CONFIDENCE, *was.char_confidences[at + replaced :]]
        out[field.first] = TextResult(reading, confidences, min(confidences))
        mended.add(field.spec.name)
    return out, mended
