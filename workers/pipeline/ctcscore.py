"""Log-likelihood of a given text under one crop's CTC output (the forward algorithm).

The beam search finds the best text of one crop; comparing *given* texts across crops
(the same address written twice on a form, :mod:`workers.pipeline.repeated`) needs
``log P(text | crop)`` summed over every alignment, as CTC defines it. Characters are
compared the way the service stores them: every class whose normalised form is the
character counts for it (full-width and ASCII digits, the dash look-alikes, a variant and
its Japanese form, the symbols an open 4 is read as). Those classes are merged into one
symbol, so a frame of 2 followed by one of ２ counts as a single 2 (exact CTC would read 22);
the model rarely splits a glyph between two forms of one character, and the score only ranks
candidate texts.
"""

from __future__ import annotations

import functools
import math
import unicodedata
from collections.abc import Sequence

import numpy as np

from workers.pipeline.japanese import FOUR_LOOKALIKES, load_variants

__all__ = ["class_groups", "ctc_log_likelihood", "single_character_log_likelihoods"]

_FLOOR = 1e-12


@functools.lru_cache(maxsize=8)
def _groups(characters: tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    variants = load_variants()
    groups: dict[str, list[int]] = {}
    for index, ch in enumerate(characters):
        if index == 0 or not ch.strip():
            continue
        forms = {ch, unicodedata.normalize("NFKC", ch), variants.get(ch, ch), FOUR_LOOKALIKES.get(ch, ch)}
        if ch in "‐‑‒–—―−ー－":
            forms.add("-")
        for form in forms:
            if len(form) == 1:
                groups.setdefault(form, []).append(index)
    return {form: tuple(sorted(set(idx))) for form, idx in groups.items()}


_LAST: list[tuple[Sequence[str], dict[str, tuple[int, ...]]]] = []
"""The dictionary last asked for and its groups: turning an 18 000-class list into a tuple for the
cache key cost more than scoring a short text."""


def class_groups(characters: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """Stored character → the model classes that read as it (cached per dictionary)."""
    if _LAST and _LAST[0][0] is characters:
        return _LAST[0][1]
    groups = _groups(tuple(characters))
    _LAST[:] = [(characters, groups)]
    return groups


def single_character_log_likelihoods(probs: np.ndarray, characters: Sequence[str], alphabet: str) -> np.ndarray:
    """``log P(c)`` of each one-character text ``c`` of ``alphabet`` under ``(T, C)`` probabilities.

    The forward algorithm of :func:`ctc_log_likelihood` for a one-label text, run for the whole
    alphabet at once (a lone digit's ten candidates cost one pass). ``-inf`` where no class reads as
    the character.
    """
    groups = class_groups(characters)
    label = np.stack([probs[:, list(groups.get(ch, ()))].sum(axis=1) for ch in alphabet], axis=1)
    log_label = np.log(np.clip(label, _FLOOR, None))
    log_blank = np.log(np.clip(probs[:, 0], _FLOOR, None))
    before = np.full(len(alphabet), log_blank[0])
    on = log_label[0].copy()
    after = np.full(len(alphabet), -np.inf)
    for t in range(1, probs.shape[0]):
        before, on, after = (
            before + log_blank[t],
            np.logaddexp(before, on) + log_label[t],
            np.logaddexp(on, after) + log_blank[t],
        )
    out = np.logaddexp(on, after)
    missing = np.array([ch not in groups for ch in alphabet])
    return np.where(missing, -np.inf, out)


def ctc_log_likelihood(probs: np.ndarray, characters: Sequence[str], text: str) -> float:
    """``log P(text)`` under ``(T, C)`` frame probabilities (class 0 blank); -inf if unreachable.

    Spaces in ``text`` are ignored (the decoder drops them too); a character no class reads as
    makes the text impossible.
    """
    groups = class_groups(characters)
    target = [ch for ch in unicodedata.normalize("NFKC", text) if not ch.isspace()]
    columns: list[tuple[int, ...]] = []
    for ch in target:
        found = groups.get(ch)
        if not found:
            return -math.inf
        columns.append(found)
    frames = probs.shape[0]
    if len(columns) == 0:
        return float(np.log(np.clip(probs[:, 0], _FLOOR, None)).sum())
    # Label probabilities per frame: (T, L) for the characters, (T,) for blank.
    label = np.stack([probs[:, list(c)].sum(axis=1) for c in columns], axis=1)
    log_label = np.log(np.clip(label, _FLOOR, None))
    log_blank = np.log(np.clip(probs[:, 0], _FLOOR, None))
    n = len(columns)
    states = 2 * n + 1
    alpha = np.full(states, -np.inf)
    alpha[0] = log_blank[0]
    alpha[1] = log_label[0, 0]
    # A label may skip the blank before it unless it repeats the previous label's classes.
    skip = np.zeros(states, dtype=bool)
    for k in range(1, n):
        skip[2 * k + 1] = columns[k] != columns[k - 1]
    emit = np.empty(states)
    for t in range(1, frames):
        emit[0::2] = log_blank[t]
        emit[1::2] = log_label[t]
        stay = alpha
        step = np.concatenate(([-np.inf], alpha[:-1]))
        jump = np.concatenate(([-np.inf, -np.inf], alpha[:-2]))
        jump = np.where(skip, jump, -np.inf)
        alpha = np.logaddexp(np.logaddexp(stay, step), jump) + emit
    return float(np.logaddexp(alpha[-1], alpha[-2]))
