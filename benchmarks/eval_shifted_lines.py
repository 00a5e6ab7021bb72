"""Line sets read as another scanner or pen would deliver them: how robust recognition is.

The held-out material comes from other writers *and other scanners*. This reads each dev line
set as stored and under a few deterministic shifts of the image, and prints one JSON object
per set and shift (CER with the label's character type, as ``eval_lines.py``):

- ``thin``: every stroke a pixel thinner (a fine pen, a light scan);
- ``thick``: strokes about a pixel thicker each side (a felt pen, a dark scan);
- ``grey``: low contrast (ink grey 100, paper 220) with sensor noise (σ 6, fixed seed);
- ``small``: scanned at 60 % of the resolution (area averaging);
- ``large``: scanned at 250 % and slightly blurred (a 600 dpi scan).

Usage: ``python benchmarks/eval_shifted_lines.py ../shared/eval/lines [--sets a,b] [--shifts thin,grey]``
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workers.pipeline.evaluate import evaluate_line_set
from workers.pipeline.recognizer import load_recognizer


def _grey(image: np.ndarray) -> np.ndarray:
    # The seed comes from the image itself, so a shifted copy is the same on every run and order.
    rng = np.random.default_rng(int(image.sum()) % (2**32))
    shifted = 100 + image.astype(np.float32) * (120 / 255) + rng.normal(0, 6, image.shape)
    return np.clip(shifted, 0, 255).astype(np.uint8)


SHIFTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "as_stored": lambda image: image,
    "thin": lambda image: cv2.dilate(image, np.ones((2, 2), np.uint8)),
    "thick": lambda image: cv2.erode(image, np.ones((3, 3), np.uint8)),
    "grey": _grey,
    "small": lambda image: cv2.resize(image, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA),
    "large": lambda image: cv2.GaussianBlur(
        cv2.resize(image, None, fx=2.5, fy=2.5, interpolation=cv2.INTER_CUBIC), (5, 5), 1.2
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lines_dir", type=Path)
    parser.add_argument("--sets", default="etl8b2_hiragana_dev,mnist_digits_dev,composed_hw_fields_dev")
    parser.add_argument("--shifts", default=",".join(SHIFTS))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    recognizer = load_recognizer(None, intra_op_threads=args.threads)
    for name in args.sets.split(","):
        for shift in args.shifts.split(","):
            result = evaluate_line_set(args.lines_dir / name, recognizer=recognizer, transform=SHIFTS[shift])
            print(json.dumps({"shift": shift, **result}, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
