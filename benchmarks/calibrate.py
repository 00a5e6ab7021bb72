"""Fit the confidence calibration on a form set and report it honestly (cross-validated).

    .venv/bin/python benchmarks/calibrate.py ../shared/eval/forms/dev \
        --out workers/pipeline/calibration.json --report benchmarks/results/calibration_dev.json

Runs the production pipeline once with raw scores, then
1. k-fold by scan (default 2): fit per-group isotonic maps on the other folds, score
   the held-out fold — the reported auto-accept rate/error at the threshold are these
   out-of-fold numbers, not the fit's training score;
2. fits on all scans and writes the maps (``--out``), which the package ships.
The report holds the reliability tables (raw and cross-validated calibrated), the
out-of-fold accept statistics at several thresholds, and the fitted maps.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from workers.pipeline.calibration import Calibrator, build_report
from workers.pipeline.evaluate import evaluate_form_set
from workers.pipeline.recognizer import load_recognizer
from workers.pipeline.second_opinion import load_second_opinion


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("set_dir", type=Path)
    parser.add_argument("--out", type=Path, help="write the fitted calibration (package file) here")
    parser.add_argument("--report", type=Path, help="write the report JSON here")
    parser.add_argument("--details", type=Path, help="reuse/write raw detail rows (JSON) to skip re-running")
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--threshold", type=float, default=0.95)
    args = parser.parse_args()
    if args.details and args.details.is_file():
        rows: list[dict[str, Any]] = json.loads(args.details.read_text(encoding="utf-8"))
    else:
        recognizer = load_recognizer(None, intra_op_threads=2)
        rows = []
        # Raw scores, and the second opinion asked about every text field: the fit decides the band.
        evaluate_form_set(
            args.set_dir,
            recognizer=recognizer,
            details=rows,
            calibrator=Calibrator(),
            second_opinion=load_second_opinion(recognizer),
            second_opinion_everywhere=True,
        )
        if args.details:
            args.details.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    rows = [r for r in rows if r["confidence"] is not None]
    report = build_report(rows, folds=args.folds, threshold=args.threshold, set_name=args.set_dir.name)
    if args.out:
        args.out.write_text(json.dumps(report["calibration"], indent=1) + "\n", encoding="utf-8")
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: report[k] for k in ("set", "n_fields", "threshold", "cross_validated", "raw")}))
    print(json.dumps(report["by_threshold"]), file=sys.stderr)


if __name__ == "__main__":
    main()
