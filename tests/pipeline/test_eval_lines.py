"""Line-set scoring (workers.pipeline.evaluate.evaluate_line_set), with and without a simulated scanner."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from tests.support.fakes import FixedReader
from workers.pipeline.evaluate import evaluate_line_set
from workers.pipeline.recognizer import TextResult


def _ink(crop: np.ndarray, _charset: str | None) -> TextResult:
    """"1" where the image holds dark ink, nothing where it is paper."""
    return TextResult("1" if int(crop.min()) < 128 else "", [0.9], 0.9)


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
    reader = FixedReader(read=_ink)
    assert evaluate_line_set(line_set, recognizer=reader)["cer"] == 0.0
    whitened = evaluate_line_set(line_set, recognizer=reader, transform=lambda image: np.full((20, 30), 255, np.uint8))
    assert whitened["cer"] == 1.0
    assert reader.shapes == [(40, 40), (20, 30)]
