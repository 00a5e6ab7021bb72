"""Hand-made CTC outputs for decoder tests (no model)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def frames(chars: Sequence[str], rows: list[dict[str, float]]) -> np.ndarray:
    """``(T, C)`` probabilities: each row names its classes; the rest of the mass is blank (class 0)."""
    probs = np.zeros((len(rows), len(chars)), dtype=np.float32)
    for t, row in enumerate(rows):
        for ch, p in row.items():
            probs[t, list(chars).index(ch)] = p
        probs[t, 0] += 1.0 - probs[t].sum()
    return probs
