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
import platform
import sys
from pathlib import Path
from typing import Any

from workers.pipeline.calibration import (
    Calibrator,
    accept_stats,
    field_group,
    reliability_table,
)
from workers.pipeline.evaluate import evaluate_form_set
from workers.pipeline.recognizer import load_recognizer

THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99)


def group_of(row: dict[str, Any]) -> str:
    """Calibration group of one detail row of :func:`evaluate_form_set`."""
    return field_group(str(row["type"]), empty=row["status"] == "empty")


def cross_validate(rows: list[dict[str, Any]], folds: int) -> list[float]:
    """Out-of-fold calibrated confidence of every row (folds split by scan, round robin)."""
    scans = sorted({str(r["scan"]) for r in rows})
    fold_of = {scan: i % folds for i, scan in enumerate(scans)}
    out = [0.0] * len(rows)
    for k in range(folds):
        train = [
            (group_of(r), float(r["confidence"]), bool(r["right"]))
            for r in rows
            if fold_of[str(r["scan"])] != k
        ]
        calibrator = Calibrator.fit(train)
        for i, r in enumerate(rows):
            if fold_of[str(r["scan"])] == k:
                out[i] = calibrator(group_of(r), float(r["confidence"]))
    return out


def build_report(rows: list[dict[str, Any]], *, folds: int, threshold: float, set_name: str) -> dict[str, Any]:
    """Everything ``--report`` writes; ``rows`` are detail rows with raw confidences."""
    raw = [float(r["confidence"]) for r in rows]
    right = [bool(r["right"]) for r in rows]
    calibrated = cross_validate(rows, folds)
    final = Calibrator.fit(
        [(group_of(r), float(r["confidence"]), bool(r["right"])) for r in rows],
        meta={"fitted_on": set_name, "n_fields": len(rows), "folds": folds},
    )
    groups = sorted({group_of(r) for r in rows})
    return {
        "set": set_name,
        "n_fields": len(rows),
        "folds": folds,
        "threshold": threshold,
        "cross_validated": accept_stats(calibrated, right, threshold),
        "raw": accept_stats(raw, right, threshold),
        "by_threshold": {f"{t:.2f}": accept_stats(calibrated, right, t) for t in THRESHOLDS},
        "reliability_raw": reliability_table(raw, right),
        "reliability_calibrated": reliability_table(calibrated, right),
        "by_group": {
            g: {
                "n": sum(1 for r in rows if group_of(r) == g),
                **{
                    k: v
                    for k, v in accept_stats(
                        [c for c, r in zip(calibrated, rows, strict=True) if group_of(r) == g],
                        [bool(r["right"]) for r in rows if group_of(r) == g],
                        threshold,
                    ).items()
                    if k != "n"
                },
            }
            for g in groups
        },
        "calibration": final.to_json(),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
    }


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
        evaluate_form_set(args.set_dir, recognizer=recognizer, details=rows, calibrator=Calibrator())
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
