"""A stand-in for the recogniser (no model) for tests of what surrounds it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from workers.pipeline.decoding import DecodeContext
from workers.pipeline.recognizer import TextResult


class FixedReader:
    """Reads every crop as ``text`` at ``confidence``, or as ``read(crop, charset)`` says, and
    records the shape of each crop it was asked to read (:attr:`shapes`)."""

    def __init__(
        self,
        text: str = "1",
        confidence: float = 0.99,
        *,
        read: Callable[[np.ndarray, str | None], TextResult] | None = None,
    ) -> None:
        fixed = TextResult(text, [confidence] * len(text), confidence)
        self._read = read or (lambda _crop, _charset: fixed)
        self.shapes: list[tuple[int, ...]] = []

    @property
    def crops(self) -> int:
        """How many crops it has read."""
        return len(self.shapes)

    def recognize(
        self,
        crops: Sequence[np.ndarray],
        charsets: Sequence[str | None],
        contexts: Sequence[DecodeContext | None] | None = None,
    ) -> list[TextResult]:
        self.shapes.extend(c.shape[:2] for c in crops)
        return [self._read(c, charset) for c, charset in zip(crops, charsets, strict=True)]
