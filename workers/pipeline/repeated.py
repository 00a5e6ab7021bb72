"""The same text written twice on one form: read both crops together.

A request form asks for the applicant's and the person concerned's address (and name):
for one household they are the same text, written twice by the same hand. Two readings
that are nearly the same (a few characters apart) are then two noisy views of one text:
each candidate text — either reading, or any mix of their differing stretches — is scored
under *both* crops (CTC log-likelihood, :mod:`workers.pipeline.ctcscore`), and the best
common text replaces both readings when its joint likelihood is within
:data:`SAME_TEXT_NATS` of reading them apart. Two people's names that differ on paper keep
their own readings: each crop then clearly prefers its own text.

A text changed this way is never accepted unseen: the caller sends it to review.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ocr_service.forms.layout import FieldSpec
from workers.pipeline.furigana import ReadField
from workers.pipeline.hints import is_address
from workers.pipeline.priors import prior_for
from workers.pipeline.recognizer import TextResult, TextScorer

__all__ = [
    "REASON_REPEATED",
    "SAME_ADDRESS_NATS",
    "SAME_TEXT_NATS",
    "Fused",
    "fuse_repeated",
    "mixes",
    "read_repeated_together",
]

REASON_REPEATED = "同じ内容と思われる欄を突き合わせて読み直しました。確認してください"

SAME_TEXT_NATS = 2.5
"""How much joint likelihood one common name may cost against two separate readings (≈ 12 : 1):
two family members' names can differ by one character."""
SAME_ADDRESS_NATS = 10.0
"""The same for two addresses: on one form, two nearly equal addresses are one household's (every
pair on dev), while two digits misread in different places cost about 9 nats (高砂5-90-23 /
高砂5-20-93 → 5-20-23)."""

_TYPES = frozenset({"text", "hiragana", "katakana"})
_MAX_STRETCHES = 4


@dataclass(frozen=True)
class Fused:
    """A pair of fields read as one text."""

    fields: tuple[str, str]
    text: str


def _diff(a: str, b: str) -> list[tuple[str, str]]:
    """Alignment of ``a`` and ``b`` as alternating equal / differing stretches ``(from a, from b)``."""
    n, m = len(a), len(b)
    cost = np.zeros((n + 1, m + 1), dtype=np.int32)
    cost[:, 0] = np.arange(n + 1)
    cost[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i, j] = min(cost[i - 1, j] + 1, cost[i, j - 1] + 1, cost[i - 1, j - 1] + (a[i - 1] != b[j - 1]))
    ops: list[tuple[str, str]] = []
    i, j = n, m
    while i or j:
        if i and j and cost[i, j] == cost[i - 1, j - 1] + (a[i - 1] != b[j - 1]):
            ops.append((a[i - 1], b[j - 1]))
            i, j = i - 1, j - 1
        elif i and cost[i, j] == cost[i - 1, j] + 1:
            ops.append((a[i - 1], ""))
            i -= 1
        else:
            ops.append(("", b[j - 1]))
            j -= 1
    stretches: list[tuple[str, str]] = []
    for x, y in reversed(ops):
        same = x == y
        if stretches and (stretches[-1][0] == stretches[-1][1]) == same:
            stretches[-1] = (stretches[-1][0] + x, stretches[-1][1] + y)
        else:
            stretches.append((x, y))
    return stretches


def mixes(a: str, b: str) -> list[str]:
    """Every text taking each differing stretch from ``a`` or from ``b`` (``a`` and ``b`` included).

    Empty when the readings differ in more than a few stretches (not the same text).
    """
    stretches = _diff(a, b)
    differing = [k for k, (x, y) in enumerate(stretches) if x != y]
    if not differing or len(differing) > _MAX_STRETCHES:
        return []
    out: list[str] = []
    for choice in itertools.product((0, 1), repeat=len(differing)):
        pick = dict(zip(differing, choice, strict=True))
        out.append("".join(s[pick.get(k, 0)] for k, s in enumerate(stretches)))
    return list(dict.fromkeys(out))


def _close(a: str, b: str) -> bool:
    """At most a fifth of the shorter reading differs (and something does)."""
    limit = max(1, min(len(a), len(b)) // 5)
    # Cheap refusals first: a page may hold dozens of long fields, and the alignment is quadratic.
    if a == b or abs(len(a) - len(b)) > limit:
        return False
    surplus = Counter(a)
    surplus.subtract(b)
    if max(sum(v for v in surplus.values() if v > 0), sum(-v for v in surplus.values() if v < 0)) > limit:
        return False
    differing = sum(max(len(x), len(y)) for x, y in _diff(a, b) if x != y)
    return 0 < differing <= limit


def fuse_repeated(
    *,
    scorer: TextScorer,
    fields: Sequence[tuple[FieldSpec, np.ndarray, TextResult]],
) -> list[Fused]:
    """Pairs of one-line fields of the same type whose readings are one text written twice.

    Args:
        scorer: the recogniser, able to score given texts.
        fields: the page's text fields read from one crop each: spec, crop, reading.

    Returns:
        the pairs to replace by one common text (each field in at most one pair).
    """
    pairs: list[tuple[int, int, list[str]]] = []
    paired: set[int] = set()
    # Each field joins at most one pair, chosen before anything is read again: a page full of
    # similar fields costs at most one more read per field.
    for i, j in itertools.combinations(range(len(fields)), 2):
        (a_spec, _, a), (b_spec, _, b) = fields[i], fields[j]
        if i in paired or j in paired or a_spec.type != b_spec.type or a_spec.type not in _TYPES:
            continue
        if a.text and b.text and _close(a.text, b.text):
            candidates = mixes(a.text, b.text)
            if candidates:
                pairs.append((i, j, candidates))
                paired |= {i, j}
    if not pairs:
        return []
    crops: list[np.ndarray] = []
    lists: list[list[str]] = []
    for i, j, candidates in pairs:
        crops += [fields[i][1], fields[j][1]]
        lists += [candidates, candidates]
    scores = scorer.log_likelihoods(crops, lists)
    fused: list[Fused] = []
    for k, (i, j, candidates) in enumerate(pairs):
        on_a, on_b = scores[2 * k], scores[2 * k + 1]
        a_text, b_text = fields[i][2].text, fields[j][2].text
        apart = on_a[candidates.index(a_text)] + on_b[candidates.index(b_text)]
        joint = [x + y for x, y in zip(on_a, on_b, strict=True)]
        # The field's grammar and dictionary choose among the common texts, as they did for each
        # crop alone (dev: ...ル203 on one crop, ...ルス03 on the other: no room number starts
        # with 0); whether to read the pair as one stays the likelihoods' decision.
        prior = prior_for(fields[i][0].type)
        bonus = [prior(c, True) if prior is not None else 0.0 for c in candidates]
        best = int(np.argmax([x + y for x, y in zip(joint, bonus, strict=True)]))
        allowed = SAME_ADDRESS_NATS if is_address(fields[i][0]) and is_address(fields[j][0]) else SAME_TEXT_NATS
        if joint[best] >= apart - allowed:
            fused.append(Fused((fields[i][0].name, fields[j][0].name), candidates[best]))
    return fused


def read_repeated_together(
    *,
    scorer: TextScorer,
    fields: Sequence[ReadField],
    crops: Sequence[np.ndarray],
    results: list[TextResult],
) -> tuple[list[TextResult], set[str]]:
    """``results`` with every repeated text read as one, and the names of the fields it changed.

    Only fields read from one crop take part; a changed field keeps the lower confidence of
    the pair (the caller sends it to review with :data:`REASON_REPEATED`).
    """
    single = [f for f in fields if f.count == 1 and f.spec.type in _TYPES]
    fused = fuse_repeated(scorer=scorer, fields=[(f.spec, crops[f.first], results[f.first]) for f in single])
    out = list(results)
    changed: set[str] = set()
    where = {f.spec.name: f.first for f in single}
    for pair in fused:
        confidence = min(results[where[name]].confidence for name in pair.fields)
        for name in pair.fields:
            index = where[name]
            if results[index].text != pair.text:
                out[index] = TextResult(pair.text, [confidence] * len(pair.text), confidence)
                changed.add(name)
    return out, changed
