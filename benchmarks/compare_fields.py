"""Compare two ``eval_forms.py --details`` files field for field (GPU against CPU, one build against another).

``python benchmarks/compare_fields.py cpu.jsonl cuda.jsonl [--tolerance 1e-4]`` prints JSON: how many
fields were compared, how many read a different value, status or auto-accept decision, and the
largest confidence difference; the exit status is 1 when any value, status or decision differs.
Confidences are compared with a tolerance because two devices add the same numbers in different
orders; a value is compared exactly.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

_KEY = ("scan", "page", "field")


def _rows(path: Path) -> dict[tuple[Any, ...], dict[str, Any]]:
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            rows[tuple(row[k] for k in _KEY)] = row
    return rows


def compare(
    before: dict[tuple[Any, ...], dict[str, Any]],
    after: dict[tuple[Any, ...], dict[str, Any]],
    *,
    threshold: float,
    tolerance: float,
) -> dict[str, Any]:
    """Differences between two runs over the same fields; ``identical`` is True when none matters."""
    shared = sorted(set(before) & set(after), key=str)
    differences: list[dict[str, Any]] = []
    largest = 0.0
    for key in shared:
        a, b = before[key], after[key]
        gap = abs(float(a["confidence"]) - float(b["confidence"]))
        largest = max(largest, gap)
        decided = (float(a["confidence"]) >= threshold) != (float(b["confidence"]) >= threshold)
        if a["value"] != b["value"] or a["status"] != b["status"] or decided or gap > tolerance:
            differences.append({
                "field": dict(zip(_KEY, key, strict=True)),
                "before": {k: a[k] for k in ("value", "confidence", "status")},
                "after": {k: b[k] for k in ("value", "confidence", "status")},
            })
    return {
        "fields": len(shared),
        "only_before": len(set(before) - set(after)),
        "only_after": len(set(after) - set(before)),
        "values_differ": sum(d["before"]["value"] != d["after"]["value"] for d in differences),
        "status_differ": sum(d["before"]["status"] != d["after"]["status"] for d in differences),
        "decisions_differ": sum(
            (d["before"]["confidence"] >= threshold) != (d["after"]["confidence"] >= threshold) for d in differences
        ),
        "confidence_beyond_tolerance": sum(
            abs(d["before"]["confidence"] - d["after"]["confidence"]) > tolerance for d in differences
        ),
        "max_confidence_difference": largest,
        "identical": not differences and len(shared) == len(before) == len(after),
        "differences": differences[:50],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--threshold", type=float, default=0.95, help="the auto-accept bar")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="largest confidence gap that is no difference")
    args = parser.parse_args()
    report = compare(_rows(args.before), _rows(args.after), threshold=args.threshold, tolerance=args.tolerance)
    print(json.dumps(report, ensure_ascii=False, indent=1))
    sys.exit(0 if report["identical"] else 1)


if __name__ == "__main__":
    main()
