"""Japanese output only: the decode character set of free text and the variant table.

PP-OCR's dictionary is mostly Chinese. On Japanese handwriting it often prefers a
simplified or traditional glyph (宫 for 宮, 霸 for 覇, 橫 for 横, 穗 for 穂): the shapes
differ by a stroke. A free-text field of a municipal form only ever holds Japanese, so

1. the probability the model gives a variant is *added* to its Japanese form before
   decoding (``variants.tsv``, generated from OpenCC data by ``data/build_variants.py``):
   the evidence for the character is kept, only its form changes;
2. what is still outside the Japanese set afterwards (JIS X 0208, the JIS X 0213
   characters names need, ASCII) may not win a frame (the decoder takes the best allowed
   character instead, as for any constrained field).

Quote marks are folded the same way into the voicing mark ﾞ they stand for: a ゛ written
or printed apart from its kana is read as “ or ″ (dev: つくば市 read つくばが市, the
excluded quote's frame going to the best *allowed* character). ``normalize_text`` then
merges ﾞ into the kana before it, or drops it after a kana that cannot take it.

The crossing strokes of an open-topped handwritten 4 are read as × * ≠ #: free text and number
fields fold them into 4 (:data:`FOUR_LOOKALIKES`).

Old forms still common in surnames (澤, 邊, 齋, 龍 …) are not in the table: folding them
would rewrite a person's name.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from workers.pipeline.charsets import NUMBER_TYPES

__all__ = [
    "FOUR_LOOKALIKES",
    "Folds",
    "digit_lookalike_index",
    "fold_by",
    "fold_columns",
    "fold_overturns_blank",
    "fold_variants",
    "folds_for",
    "is_japanese_char",
    "japanese_mask",
    "load_variants",
    "to_japanese",
    "variant_index",
]

_VARIANTS = Path(__file__).parent / "data" / "variants.tsv"

_VOICING_LOOKALIKES = {"“": "ﾞ", "”": "ﾞ", "″": "ﾞ", '"': "ﾞ"}
"""What a separate ゛ is read as → the voicing mark (in the PP-OCR dictionary as half-width ﾞ)."""

FOUR_LOOKALIKES = {"×": "4", "✕": "4", "*": "4", "＊": "4", "≠": "4", "#": "4", "＃": "4"}
"""What an open-topped handwritten 4 (two crossing strokes, common in Western handwriting) is read
as → 4. No field of a municipal form holds these symbols, so their evidence is the 4's (dev:
ハイツ山田104 read 10 when blank 41 % beat × 32 % + * 14 %). ``x`` and ``+`` are not among them: a
looped 2 is read as x, and + stands for 十 as often."""

_EXTRA = set("髙﨑德濵𠮷𡈽俱剝𠮟吞噓姸屛幷瘦繫塡頰")
"""Name characters outside JIS X 0208 (IBM extensions, JIS X 0213) a register holds."""


@functools.lru_cache(maxsize=1)
def load_variants() -> dict[str, str]:
    """Variant character → its Japanese form (the committed table)."""
    table: dict[str, str] = {}
    for line in _VARIANTS.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or "\t" not in line:
            continue
        source, target = line.split("\t", 1)
        table[source] = target.strip()
    return table


def to_japanese(text: str) -> str:
    """Replace every variant character of ``text`` by its Japanese form."""
    table = load_variants()
    return "".join(table.get(ch, ch) for ch in text)


def is_japanese_char(ch: str) -> bool:
    """Whether a free-text field may hold ``ch`` (JIS X 0208, name extras, ASCII, full-width forms)."""
    if not ch or ch.isspace():
        return True
    if ch in _EXTRA:
        return True
    if unicodedata.normalize("NFKC", ch).isascii():
        return True
    if ch in load_variants():
        return False
    try:
        ch.encode("shift_jis")
    except UnicodeEncodeError:
        return False
    return True


@functools.lru_cache(maxsize=4)
def _mask_for(characters: tuple[str, ...]) -> np.ndarray:
    mask = np.fromiter((is_japanese_char(c) for c in characters), dtype=bool, count=len(characters))
    mask[0] = True
    return mask


Folds = tuple[np.ndarray, np.ndarray]
"""Class indices ``(sources, targets)``: each source's probability is added to its target's."""

_BY_IDENTITY: dict[int, tuple[Sequence[str], np.ndarray, Folds, Folds]] = {}
"""A recogniser's dictionary is one long-lived list: look it up by identity, not by hashing 18 000 entries."""


def _tables(characters: Sequence[str]) -> tuple[np.ndarray, Folds, Folds]:
    cached = _BY_IDENTITY.get(id(characters))
    if cached is None or cached[0] is not characters:
        key = tuple(characters)
        cached = (
            characters,
            _mask_for(key),
            _index_for(key, (*load_variants().items(), *_VOICING_LOOKALIKES.items(), *FOUR_LOOKALIKES.items())),
            _index_for(key, tuple(FOUR_LOOKALIKES.items())),
        )
        if len(_BY_IDENTITY) > 8:
            _BY_IDENTITY.clear()
        _BY_IDENTITY[id(characters)] = cached
    return cached[1], cached[2], cached[3]


def japanese_mask(characters: Sequence[str]) -> np.ndarray:
    """Boolean class mask of the Japanese characters of a recogniser dictionary (blank allowed)."""
    return _tables(characters)[0]


def _index_for(characters: tuple[str, ...], pairs: tuple[tuple[str, str], ...]) -> Folds:
    position = {c: i for i, c in enumerate(characters) if i > 0}
    sources: list[int] = []
    targets: list[int] = []
    for source, target in pairs:
        s = position.get(source)
        t = position.get(target)
        if s is not None and t is not None:
            sources.append(s)
            targets.append(t)
    return np.asarray(sources, dtype=np.int64), np.asarray(targets, dtype=np.int64)


def variant_index(characters: Sequence[str]) -> Folds:
    """Class indices ``(sources, targets)`` of the variant pairs present in a dictionary
    (with the look-alikes of ゛ and of 4): what free text folds."""
    return _tables(characters)[1]


def digit_lookalike_index(characters: Sequence[str]) -> Folds:
    """Class indices ``(sources, targets)`` of the 4 look-alikes: what a number field folds."""
    return _tables(characters)[2]


def fold_variants(probs: np.ndarray, characters: Sequence[str]) -> np.ndarray:
    """Add each variant class's probability to its Japanese form's class (a copy; sources zeroed).

    Args:
        probs: ``(T, C)`` per-frame probabilities.
        characters: class index → character.

    Returns:
        the folded ``(T, C)`` probabilities (rows still sum to one).
    """
    return fold_by(probs, variant_index(characters))


def fold_by(probs: np.ndarray, fold: Folds, *, min_mass: float = 1e-4) -> np.ndarray:
    """Add each source class's probability to its target's (a copy; sources zeroed).

    ``fold`` is ``(sources, targets)`` as :func:`variant_index` or :func:`digit_lookalike_index` give.
    Frames whose sources all hold ``min_mass`` or less are not added to (their crumbs are dropped);
    0 moves everything.
    """
    sources, targets = fold
    out = np.array(probs, dtype=np.float32, copy=True)
    if sources.size == 0:
        return out
    moved = out[:, sources]
    # Only frames where a variant holds real mass are worth the (slow) unbuffered add.
    rows = np.flatnonzero(moved.max(axis=1) > min_mass)
    out[:, sources] = 0.0
    if rows.size:
        # Several variants may share one Japanese form: unbuffered add over the class axis.
        sub = out[rows]
        np.add.at(sub.T, targets, moved[rows].T)
        out[rows] = sub
    return out


def folds_for(characters: Sequence[str], field_type: str | None) -> Folds | None:
    """What a field type folds: free text its variants and look-alikes, a number field the
    look-alikes of 4 (:data:`FOUR_LOOKALIKES`), kana nothing."""
    if field_type in (None, "text"):
        return variant_index(characters)
    if field_type in NUMBER_TYPES:
        return digit_lookalike_index(characters)
    return None


def fold_overturns_blank(probs: np.ndarray, best: np.ndarray, p_best: np.ndarray, fold: Folds | None) -> bool:
    """Whether a frame blank won would go to a character once look-alikes are folded.

    :func:`~workers.pipeline.decoding._winners` folds only a frame's own winner. A frame where
    blank wins by a little over several look-alikes of one character (an open 4: blank 41 %,
    × 32 %, * 14 %) holds that character; the caller then decodes the folded matrix in full.
    Only frames blank won with less than half are looked at: they are few.
    """
    if fold is None or fold[0].size == 0:
        return False
    weak = np.flatnonzero((best == 0) & (p_best < 0.5))
    if weak.size:
        # All the letters of a frame together must outweigh blank, or no fold can.
        letters = 1.0 - probs[weak, 0] - probs[weak, -1]
        weak = weak[letters > p_best[weak]]
    if weak.size == 0:
        return False
    folded = fold_by(probs[weak], fold)
    return bool((folded[:, 1:-1].max(axis=1) > p_best[weak]).any())


def fold_columns(sub: np.ndarray, cols: np.ndarray, fold: Folds) -> np.ndarray:
    """:func:`fold_by` on a column subset ``sub`` of the output (``cols``: its sorted class indices)."""
    sources, targets = fold
    s_pos = np.minimum(np.searchsorted(cols, sources), cols.size - 1)
    t_pos = np.minimum(np.searchsorted(cols, targets), cols.size - 1)
    # Only pairs whose source and target both are among the columns fold here.
    present = (cols[s_pos] == sources) & (cols[t_pos] == targets)
    return fold_by(sub, (s_pos[present], t_pos[present]), min_mass=0.0)
