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

__all__ = ["class_groups", "ctc_alignment", "ctc_log_likelihood", "single_character_log_likelihoods"]

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


def _label_terms(
    probs: np.ndarray, characters: Sequence[str], text: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Per frame ``log P`` of each label of ``text`` ``(T, L)`` and of blank ``(T,)``, and which labels
    may skip the blank before them; None when a character has no class (the text is unreachable)."""
    groups = class_groups(characters)
    columns: list[tuple[int, ...]] = []
    for ch in unicodedata.normalize("NFKC", text):
        if ch.isspace():
            continue
        found = groups.get(ch)
        if not found:
            return None
        columns.append(found)
    label = np.stack([probs[:, list(c)].sum(axis=1) for c in columns], axis=1) if columns else np.zeros((len(probs), 0))
    log_label = np.log(np.clip(label, _FLOOR, None))
    log_blank = np.log(np.clip(probs[:, 0], _FLOOR, None))
    # A label may skip the blank before it unless it repeats the previous label's classes.
    skip = np.zeros(2 * len(columns) + 1, dtype=bool)
    for k in range(1, len(columns)):
        skip[2 * k + 1] = columns[k] != columns[k - 1]
    return log_label, log_blank, skip


def _predecessors(score: np.ndarray, skip: np.ndarray) -> np.ndarray:
    """``(3, S)``: the score each state can be entered from in one frame, by how many states back
    (0: stay, 1: step, 2: jump over a blank where ``skip`` allows it; -inf where it cannot)."""
    step = np.concatenate(([-np.inf], score[:-1]))
    jump = np.where(skip, np.concatenate(([-np.inf, -np.inf], score[:-2])), -np.inf)
    return np.stack([score, step, jump])


def ctc_log_likelihood(probs: np.ndarray, characters: Sequence[str], text: str) -> float:
    """``log P(text)`` under ``(T, C)`` frame probabilities (class 0 blank); -inf if unreachable.

    Spaces in ``text`` are ignored (the decoder drops them too); a character no class reads as
    makes the text impossible.
    """
    terms = _label_terms(probs, characters, text)
    if terms is None:
        return -math.inf
    log_label, log_blank, skip = terms
    if log_label.shape[1] == 0:
        return float(log_blank.sum())
    alpha = np.full(len(skip), -np.inf)
    alpha[0] = log_blank[0]
    alpha[1] = log_label[0, 0]
    emit = np.empty(len(skip))
    for t in range(1, probs.shape[0]):
        emit[0::2] = log_blank[t]
        emit[1::2] = log_label[t]
        alpha = np.logaddexp.reduce(_predecessors(alpha, skip), axis=0) + emit
    return float(np.logaddexp(alpha[-1], alpha[-2]))


def ctc_alignment(probs: np.ndarray, characters: Sequence[str], text: str) -> list[float] | None:
    """The frame each character of ``text`` sits on in the most likely CTC path (Viterbi): the middle
    of the frames the path spends on it. Spaces are skipped; None when the text is unreachable."""
    terms = _label_terms(probs, characters, text)
    if terms is None or probs.shape[0] == 0:
        return None
    log_label, log_blank, skip = terms
    labels = log_label.shape[1]
    if labels == 0:
        return []
    frames = probs.shape[0]
    score = np.full(len(skip), -np.inf)
    score[0] = log_blank[0]
    score[1] = log_label[0, 0]
    back = np.zeros((frames, len(skip)), dtype=np.int8)
    emit = np.empty(len(skip))
    for t in range(1, frames):
        emit[0::2] = log_blank[t]
        emit[1::2] = log_label[t]
        options = _predecessors(score, skip)
        back[t] = options.argmax(axis=0)
        score = options.max(axis=0) + emit
    state = len(skip) - 1 if score[-1] >= score[-2] else len(skip) - 2
    if not math.isfinite(float(score[state])):
        return None
    spans: dict[int, list[int]] = {}
    for t in range(frames - 1, -1, -1):
        if state % 2 == 1:
            spans.setdefault(state // 2, []).append(t)
        state -= int(back[t, state])
    return [float(np.mean(spans[k])) if k in spans else math.nan for k in range(labels)]
