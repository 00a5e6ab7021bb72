"""Line-set scoring (workers.pipeline.evaluate.evaluate_line_set), with and without a simulated scanner."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from workers.pipeline.decoding import DecodeContext
from workers.pipeline.evaluate import evaluate_line_set
from workers.pipeline.recognizer import TextResult


class _InkReader:
    """Reads "1" where the image holds dark ink and nothing where it is paper (no model)."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []

    def recognize(
        self,
        crops: Sequence[np.ndarray],
        charsets: Sequence[str | None],
        contexts: Sequence[DecodeContext | None] | None = None,
    ) -> list[TextResult]:
        self.seen.extend(c.shape[:2] for c in crops)
        return [TextResult("1" if int(c.min()) < 128 else "", [0.9], 0.9) for c in crops]


def _line_set(root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    image = np.full((40, 40), 255, dtype=np.uint8)
    cv2.line(image, (20, 5), (20, 35), 0, 3)
    cv2.imwrite(str(root / "images" / "a.png"), image)
    row = {"image": "images/a.png", "text": "1", "kind": "handwritten", "script": "digits", "charset": "digits"}
    (root / "labels.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    return root


def test_a_transform_is_read_instead_of_the_stored_image(tmp_path: Path) -> None:
    """GIVEN a one-line set WHEN scored as stored THEN CER 0; WHEN scored through a transform that
    whitens the image THEN the reader saw the transformed image (nothing read, CER 1)."""
    line_set = _line_set(tmp_path / "set")
    reader = _InkReader()
    assert evaluate_line_set(line_set, recognizer=reader)["cer"] == 0.0
    whitened = evaluate_line_set(line_set, recognizer=reader, transform=lambda image: np.full((20, 30), 255, np.uint8))
    assert whitened["cer"] == 1.0
    assert reader.seen == [(40, 40), (20, 30)]
