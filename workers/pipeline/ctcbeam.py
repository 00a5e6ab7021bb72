"""CTC prefix beam search with a soft prior over the text read so far.

Greedy decoding takes the best class of every frame on its own; a digit the model
gave 30 % where blank got 60 % is dropped even when 「町丁目」 without a number cannot
be an address. The beam keeps the few best *texts* (summing every frame alignment of
each, as CTC defines it) and adds a prior: a log-domain score of the whole text (a
grammar, a dictionary). The prior is bounded, so it only decides between readings the
model itself found close; a confident reading is never overridden (see the tests).

Cost: only frames where the model hesitates branch (classes under ``min_prob`` are not
considered), so a clean line costs little more than greedy; callers skip the beam
altogether when greedy is confident and the prior has no objection.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["BeamResult", "ctc_beam_search"]

Prior = Callable[[str, bool], float]
"""``prior(text, final)`` → log-domain bonus (≤ a few nats); ``final`` at the end of the line."""

_NEG = -1e30


def _lse(a: float, b: float) -> float:
    if a < b:
        a, b = b, a
    if b <= _NEG:
        return a
    return a + math.log1p(math.exp(b - a))


@dataclass(frozen=True)
class BeamResult:
    """Best text of the beam and, per character, its best frame probability."""

    text: str
    confidences: list[float]
    score: float


@dataclass
class _Beam:
    blank: float = _NEG
    label: float = _NEG
    conf: tuple[float, ...] = ()

    def total(self) -> float:
        return _lse(self.blank, self.label)


def ctc_beam_search(
    probs: np.ndarray,
    characters: Sequence[str],
    *,
    prior: Prior | None = None,
    beam_width: int = 8,
    top_k: int = 6,
    min_prob: float = 1e-3,
) -> BeamResult:
    """Decode ``(T, C)`` probabilities (class 0 = blank) with a prefix beam and a text prior.

    Args:
        probs: per-frame class probabilities (already restricted to the allowed classes).
        characters: class index → character.
        prior: scores a text (see :data:`Prior`); None = plain beam search.
        beam_width: prefixes kept after each frame.
        top_k: most classes considered per frame.
        min_prob: classes below this fraction of the frame's best probability are not considered.

    Returns:
        the best :class:`BeamResult`.
    """
    logp = np.log(np.maximum(probs, 1e-12))
    k = min(top_k, probs.shape[1])
    top = np.argpartition(-probs, k - 1, axis=1)[:, :k]
    beams: dict[tuple[int, ...], _Beam] = {(): _Beam(blank=0.0)}
    prior_cache: dict[tuple[tuple[int, ...], bool], float] = {}

    def bonus(prefix: tuple[int, ...], final: bool = False) -> float:
        key = (prefix, final)
        if key not in prior_cache:
            text = "".join(characters[c] for c in prefix)
            prior_cache[key] = prior(text, final) if prior is not None else 0.0
        return prior_cache[key]

    for t in range(probs.shape[0]):
        row = probs[t]
        # Relative to the frame's best class: in a frame whose winner the field forbids, blank is
        # zeroed and the best allowed character may be tiny in absolute terms (greedy emits it too).
        cut = min_prob * float(row.max())
        candidates = [int(c) for c in top[t] if c != 0 and row[c] >= cut and row[c] > 0.0]
        p_blank = float(logp[t, 0])
        if not candidates:
            # Nothing new can start here (most CTC frames): every prefix only goes on, and
            # their order barely moves, so no re-ranking.
            for prefix, beam in beams.items():
                label = beam.label + float(logp[t, prefix[-1]]) if prefix else _NEG
                beam.blank, beam.label = beam.total() + p_blank, label
            continue
        nxt: dict[tuple[int, ...], _Beam] = {}
        for prefix, beam in beams.items():
            total = beam.total()
            stay = nxt.setdefault(prefix, _Beam(conf=beam.conf))
            stay.blank = _lse(stay.blank, total + p_blank)
            if prefix:
                last = prefix[-1]
                # The last character goes on over this frame (no new character).
                stay.label = _lse(stay.label, beam.label + float(logp[t, last]))
                if stay.conf and row[last] > stay.conf[-1]:
                    stay.conf = (*stay.conf[:-1], float(row[last]))
            for c in candidates:
                # A repeated character needs a blank in between.
                source = beam.blank if prefix and c == prefix[-1] else total
                if source <= _NEG:
                    continue
                extended = (*prefix, c)
                child = nxt.get(extended)
                if child is None:
                    child = nxt[extended] = _Beam(conf=(*beam.conf, float(row[c])))
                child.label = _lse(child.label, source + float(logp[t, c]))
        ranked = sorted(nxt.items(), key=lambda item: item[1].total() + bonus(item[0]), reverse=True)
        beams = dict(ranked[:beam_width])
    best_prefix, best = max(beams.items(), key=lambda item: item[1].total() + bonus(item[0], True))
    text = "".join(characters[c] for c in best_prefix)
    return BeamResult(text, list(best.conf), best.total() + bonus(best_prefix, True))
