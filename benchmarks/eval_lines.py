"""Print line-set benchmark JSON (constrained and unconstrained) for every ``lines/*`` set."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workers.pipeline.evaluate import evaluate_line_set
from workers.pipeline.recognizer import load_recognizer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "lines_dir", nargs="?", default=str(Path(__file__).resolve().parents[1] / "../shared/eval/lines")
    )
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    recognizer = load_recognizer(None, intra_op_threads=args.threads)
    for set_dir in sorted(Path(args.lines_dir).iterdir()):
        if not (set_dir / "labels.jsonl").is_file():
            continue
        for constrained in (False, True):
            result = evaluate_line_set(set_dir, recognizer=recognizer, constrained=constrained)
            print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
