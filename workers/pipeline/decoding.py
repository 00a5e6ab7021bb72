"""From one crop's CTC output to characters: field charset, Japanese forms, gaps, beam with priors.

Order of the steps, per field:

1. free text: variant classes are folded into their Japanese form and what is not
   Japanese is excluded (:mod:`workers.pipeline.japanese`);
2. the field's class restriction (:func:`restrict`): a frame whose winner is not allowed
   keeps its mass on the allowed *characters* (never on blank, which would silently drop
   the character — the rule greedy decoding had);
3. frames inside a wide empty gap of the line (the space between surname and given name)
   are a boundary: they emit nothing (:func:`gap_frames`);
4. greedy decoding; when a character is doubtful or the field's prior objects to the
   greedy text, the beam search with the prior (:mod:`workers.pipeline.ctcbeam`) decides.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ocr_service.forms.layout import FieldSpec
from ocr_service.validation.checkdigit import CheckDigitKind
from workers.pipeline.ctcbeam import ctc_beam_search
from workers.pipeline.japanese import Folds, fold_columns, fold_overturns_blank, folds_for, japanese_mask
from workers.pipeline.priors import prior_for, reading_prior
from workers.pipeline.quantities import check_digit_kind, number_range
from workers.pipeline.roles import FieldRole, field_role, holds_person_name

__all__ = ["DecodeContext", "decode_field", "field_context", "gap_frames", "greedy", "restrict"]

CONFIDENT = 0.9
"""Greedy characters all at least this sure, and no grammar objection: the beam is skipped
(a prior of a few nats cannot overturn 9 : 1 odds anyway)."""

_GAP_RATIO = 0.75
"""An empty column run at least this fraction of the line height separates words."""


@dataclass(frozen=True)
class DecodeContext:
    """What the form knows about one field beyond its type, as priors for its decoding."""

    role: FieldRole | None = None
    """What a date-like field holds (:func:`~workers.pipeline.roles.field_role`)."""
    readings: tuple[str, ...] = ()
    """Kana fields: the readings the name written beside them starts with (furigana ↔ name)."""
    span: tuple[int, int] | None = None
    """Digits fields: the plausible range of the number (:mod:`workers.pipeline.quantities`)."""
    whole: tuple[str, ...] = ()
    """Kana fields: the readings of that whole name, surname and given name (a stronger prior)."""
    person_name: bool = False
    """Free-text fields: the field holds a person's name (:func:`~workers.pipeline.roles.holds_person_name`)."""
    check_digit: CheckDigitKind | None = None
    """Digits fields: the check digit the number carries (:func:`~workers.pipeline.quantities.check_digit_kind`)."""


def field_context(spec: FieldSpec) -> DecodeContext | None:
    """What a layout field's own definition tells its decoding: a date role, a number range."""
    role = field_role(name=spec.name, label=spec.label, field_type=spec.type)
    span = None
    if spec.type == "digits":
        rules = spec.rules
        span = number_range(
            label=spec.label,
            min_value=rules.min_value if rules is not None else None,
            max_value=rules.max_value if rules is not None else None,
        )
    person = holds_person_name(label=spec.label, category=spec.category, field_type=spec.type)
    checked = check_digit_kind(
        label=spec.label, field_type=spec.type, rules_kind=spec.rules.check_digit if spec.rules is not None else None
    )
    if role is None and span is None and not person and checked is None:
        return None
    return DecodeContext(role=role, span=span, person_name=person, check_digit=checked)


_SPECKS = frozenset(".,'`·・．，、")
"""Marks a field that cannot hold them sees in a speck of dust or a stray dot: no character.
A frame won by one of them may stay blank (dev: a 9 with a dot beside it read 91). Colons
are not among them: a small こ is read as ：."""


def _without_specks(frames: np.ndarray, classes: np.ndarray, characters: Sequence[str] | None) -> np.ndarray:
    """``frames`` (a boolean mask) less those whose class in ``classes`` is a dust-like mark (:data:`_SPECKS`).

    Only the marked frames are looked at: they are few, the line's frames are many.
    """
    if characters is None or not frames.any():
        return frames
    out = frames.copy()
    where = np.flatnonzero(frames)
    out[where] = [characters[c] not in _SPECKS for c in classes[where].tolist()]
    return out


def restrict(probs: np.ndarray, allowed: np.ndarray | None, characters: Sequence[str] | None = None) -> np.ndarray:
    """Probabilities of the allowed classes only (blank always allowed); others zeroed.

    A frame whose most likely class is not allowed saw *a character*: blank and space are
    zeroed there too, so an allowed character wins it (the greedy rule). Rows are *not*
    renormalised: a character forced this way keeps its own low probability as confidence.
    Not so a frame won by a dust-like mark (:data:`_SPECKS`, needs ``characters``).
    """
    if allowed is None:
        return probs
    mask = allowed.copy()
    mask[0] = True
    out = np.where(mask[None, :], probs, 0.0).astype(np.float32)
    own = probs.argmax(axis=1)
    bad = _without_specks(~mask[own], own, characters)
    if bad.any():
        letters = mask.copy()
        letters[0] = False
        letters[-1] = False
        if letters.any():
            out[bad] = np.where(letters[None, :], probs[bad], 0.0)
    return np.asarray(out, dtype=np.float32)


def gap_frames(resized: np.ndarray, frames: int, input_width: int) -> np.ndarray:
    """Frames lying inside a wide empty gap of the written line (a word boundary).

    Args:
        resized: the line image as fed to the model (dark ink on white, model height).
        frames: number of CTC frames of the model output.
        input_width: width of the (padded) model input the frames cover.

    Returns:
        boolean ``(frames,)``; True where nothing may be emitted.
    """
    out = np.zeros(frames, dtype=bool)
    ink = (resized < 128).any(axis=0)
    cols = np.flatnonzero(ink)
    if cols.size < 2 or frames == 0:
        return out
    rows = np.flatnonzero((resized < 128).any(axis=1))
    height = max(1, int(rows[-1] - rows[0] + 1))
    per_frame = input_width / frames
    gaps = np.flatnonzero(np.diff(cols) > _GAP_RATIO * height)
    for g in gaps:
        start, end = int(cols[g]) + 1, int(cols[g + 1])
        # One frame of margin on each side: a character's spike may sit just off its ink.
        first = int(np.ceil(start / per_frame)) + 1
        last = int(end // per_frame) - 1
        if last >= first:
            out[first : last + 1] = True
    return out


def greedy(probs: np.ndarray, characters: Sequence[str]) -> tuple[str, list[float]]:
    """Best class per frame, repeats merged, blanks removed; per character its best frame probability."""
    best = probs.argmax(axis=1)
    return _collapse(best, probs[np.arange(best.size), best], characters)


def _collapse(best: np.ndarray, p_best: np.ndarray, characters: Sequence[str]) -> tuple[str, list[float]]:
    chars: list[str] = []
    confs: list[float] = []
    previous = -1
    for cls, p in zip(best.tolist(), p_best.tolist(), strict=True):
        if cls == previous:
            if cls != 0 and confs:
                confs[-1] = max(confs[-1], p)
            continue
        previous = cls
        if cls != 0:
            chars.append(characters[cls])
            confs.append(p)
    return "".join(chars), confs


def _winners(
    probs: np.ndarray, characters: Sequence[str], allowed: np.ndarray | None, fold: Folds | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each frame's winning class after variant folding and the field's restriction.

    Touches only each frame's winner: greedy decoding of these winners gives the same text as
    folding, restricting and greedy-decoding the whole matrix whenever every winner is sure (the
    common, confident case); a doubtful field is decoded again on the full matrix by the caller.

    Returns ``(best, p_best, forced)``: the class, its probability, and whether the model's own
    winner was not allowed there (the frame then goes to the best allowed character).
    """
    frames = np.arange(probs.shape[0])
    best = probs.argmax(axis=1)
    p_best = probs[frames, best].astype(np.float64)
    forced = np.zeros(best.size, dtype=bool)
    if fold is not None:
        sources, targets = fold
        if sources.size:
            target_of = np.full(probs.shape[1], -1, dtype=np.int64)
            target_of[sources] = targets
            mapped = target_of[best]
            hit = mapped >= 0
            if hit.any():
                p_best[hit] += probs[frames[hit], mapped[hit]]
                best[hit] = mapped[hit]
    if allowed is not None:
        mask = allowed.copy()
        mask[0] = True
        not_allowed = ~mask[best]
        forced = _without_specks(not_allowed, best, characters)
        speck = not_allowed & ~forced
        if speck.any():
            # Blank may win these frames: the best allowed class, blank included.
            allowed_columns = np.flatnonzero(mask)
            rows = probs[np.flatnonzero(speck)][:, allowed_columns]
            best[speck] = allowed_columns[rows.argmax(axis=1)]
            p_best[speck] = rows.max(axis=1)
        if forced.any():
            letters = mask.copy()
            letters[0] = False
            letters[-1] = False
            columns = np.flatnonzero(letters)
            if columns.size <= 300:
                # A small charset (digits, kana): look at its columns only, not all 18 000.
                sub = probs[np.flatnonzero(forced)][:, columns]
                best[forced] = columns[sub.argmax(axis=1)]
                p_best[forced] = sub.max(axis=1)
            elif columns.size:
                restricted = np.where(letters[None, :], probs[forced], -1.0)
                best[forced] = restricted.argmax(axis=1)
                p_best[forced] = restricted.max(axis=1)
    return best, p_best, forced


def split_forced_repeats(
    probs: np.ndarray,
    characters: Sequence[str],
    gaps: np.ndarray | None,
    winners: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
    """Insert a blank frame where a forced character would merge with its neighbour.

    The model read two different classes in adjacent frames, 「1」 then 「/」 for a written
    「11」: two characters. Once 「/」 is excluded its frame goes to 「1」 as well, and CTC
    would merge the two 1s into one (dev: ハイツ山田211号室 read 21号室). A blank frame
    between them keeps them two, as the model saw them.

    Args:
        probs, characters, gaps: the line's output, dictionary and gap frames.
        winners: :func:`_winners` of ``probs``.

    Returns:
        the probabilities, gap frames, winning classes and their probabilities, with the blank
        frames inserted (unchanged when none).
    """
    best, p_best, forced = winners
    if not forced.any():
        return probs, gaps, best, p_best
    # Only a symbol beside a digit is surely another character: ル then し in a hiragana field
    # is one し the model hesitated over (dev: こばやしたいし), “ beside a kana is its voicing
    # mark, and a Chinese glyph beside its Japanese form is one character too.
    odd = np.zeros(best.size, dtype=bool)
    where = np.flatnonzero(forced)
    own = probs[where].argmax(axis=1)
    odd[where] = [
        _symbol(characters[o]) and characters[b].isdigit() for o, b in zip(own.tolist(), best[where].tolist(), strict=True)
    ]
    split = np.flatnonzero((odd[1:] | odd[:-1]) & (best[1:] == best[:-1])) + 1
    if split.size == 0:
        return probs, gaps, best, p_best
    blank = np.zeros(probs.shape[1], dtype=probs.dtype)
    blank[0] = 1.0
    # The inserted frame's winner is blank, surely: what _winners would find there.
    return (
        np.insert(probs, split, blank, axis=0),
        None if gaps is None else np.insert(gaps, split, False),
        np.insert(best, split, 0),
        np.insert(p_best, split, 1.0),
    )


def _symbol(ch: str) -> bool:
    """Punctuation or a symbol (``/``, ``≥``, ``♪``), not a letter or digit of any script."""
    return bool(ch) and unicodedata.category(ch)[0] in "PS"


_TOP_COLUMNS = 12
"""Classes per frame the beam may consider: the model's best few (all of a small charset)."""


def _candidate_columns(probs: np.ndarray, allowed: np.ndarray | None, fold: Folds | None) -> np.ndarray:
    """Sorted class indices worth decoding over: blank, space, each frame's top classes,
    the Japanese forms of variants among them, and every class of a small charset."""
    k = min(_TOP_COLUMNS, probs.shape[1] - 1)
    cols = {0, probs.shape[1] - 1}
    # Frames that are surely blank add no candidate; skipping them saves most of the work.
    busy = np.flatnonzero(probs[:, 0] < 0.999)
    if busy.size:
        top = np.argpartition(probs[busy], -k, axis=1)[:, -k:]
        cols |= set(top.ravel().tolist())
    if fold is not None:
        sources, targets = fold
        present = np.isin(sources, np.fromiter(cols, dtype=np.int64))
        cols |= set(targets[present].tolist())
    if allowed is not None and int(allowed.sum()) <= 300:
        cols |= set(np.flatnonzero(allowed).tolist())
    return np.asarray(sorted(cols), dtype=np.int64)


def decode_field(
    probs: np.ndarray,
    characters: Sequence[str],
    field_type: str | None,
    allowed: np.ndarray | None,
    *,
    gaps: np.ndarray | None = None,
    reference: dt.date | None = None,
    use_priors: bool = True,
    context: DecodeContext | None = None,
) -> tuple[str, list[float]]:
    """Decode one crop's ``(T, C)`` probabilities for a field type.

    Args:
        probs: per-frame class probabilities (class 0 blank, last class space).
        characters: class index → character.
        field_type: layout field type, None = free text.
        allowed: the field type's class mask (None = all).
        gaps: frames that must emit nothing (see :func:`gap_frames`).
        reference: processing date for date plausibility (default today).
        use_priors: False decodes without grammar or dictionary (for comparison).
        context: what the form knows beyond the type: a date role's plausible values and the
            readings a name implies become priors.

    Returns:
        raw text and one confidence per character.
    """
    text_like = field_type in (None, "text")
    fold = folds_for(characters, field_type)
    if text_like:
        japanese = japanese_mask(characters)
        allowed = japanese if allowed is None else allowed & japanese
    probs, gaps, best, p_best = split_forced_repeats(
        probs, characters, gaps, _winners(probs, characters, allowed, fold)
    )
    if gaps is not None and gaps.any():
        best = np.where(gaps, 0, best)
        p_best = np.where(gaps, 1.0, p_best)
    raw, confs = _collapse(best, p_best, characters)
    prior = None
    expected = context.readings if context is not None and use_priors else ()
    if use_priors:
        prior = prior_for(
            field_type,
            reference=reference,
            role=context.role if context else None,
            span=context.span if context else None,
            check_digit=context.check_digit if context else None,
        )
        if expected:
            prior = reading_prior(expected, prior, whole=context.whole if context is not None else ())
    # A name beside the field that the greedy text contradicts is an objection too.
    objection = bool(expected) and not unicodedata.normalize("NFKC", raw).replace(" ", "").startswith(expected)
    overturned = fold_overturns_blank(probs, best, p_best, fold)
    if not overturned and (
        prior is None or (min(confs, default=1.0) >= CONFIDENT and not objection and prior(raw, True) >= 0.0)
    ):
        return raw, confs
    cols = _candidate_columns(probs, allowed, fold)
    sub = probs[:, cols]
    sub_chars = [characters[c] for c in cols.tolist()]
    p = restrict(
        fold_columns(sub, cols, fold) if fold is not None else sub,
        None if allowed is None else allowed[cols],
        sub_chars,
    )
    if gaps is not None and gaps.any():
        p[gaps] = 0.0
        p[gaps, 0] = 1.0
    result = ctc_beam_search(p, sub_chars, prior=prior)
    return result.text, result.confidences
