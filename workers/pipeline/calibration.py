"""Confidence calibration: raw recogniser scores → probability that the field is right.

The raw field score (the weakest character's CTC probability, or the checkbox
reader's margin) is not a probability: 0.8 means different things for a digit
field and for a handwritten name. Per *field group* a monotone (isotonic) map is
fitted on the dev forms, so that "confidence ≥ 0.9" means "about 9 in 10 such fields
are right or better" whatever the type. The fitted maps ship with the package
(``calibration.json``) and are produced by ``benchmarks/calibrate.py``, which also
reports the cross-validated auto-accept rate and error (fit on half the scans,
measured on the other half) so the numbers are not the fit's own training score.

Calibration is monotone per group: it never reorders fields of one group, it only
makes one threshold mean the same across groups.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "AGREED",
    "Calibrator",
    "accept_stats",
    "build_report",
    "field_group",
    "fit_isotonic",
    "load_calibration",
    "refit_from_outcomes",
    "reliability_table",
]

PACKAGED = Path(__file__).with_name("calibration.json")

AGREED = "agreed"
"""Map key of the second-opinion map: first calibrated confidence → P(right | the second reads
agreed). One map for all groups: per-group maps (tried) have too few dev fields each and
cross-validate worse (87.4 % accepted at 1.0 % error against 88.2 % at 0.93 %)."""

_GROUPS: dict[str, str] = {
    "digits": "numeric",
    "postal": "numeric",
    "phone": "numeric",
    "date": "numeric",
    "hiragana": "kana",
    "katakana": "kana",
    "checkbox": "checkbox",
}
"""Field types pooled for fitting: a group needs enough dev fields for a stable map."""


def field_group(field_type: str | None, *, empty: bool = False) -> str:
    """Calibration group of a field: ``empty`` for a field read as blank, else by type."""
    if empty:
        return "empty"
    return _GROUPS.get(field_type or "text", "text")


def fit_isotonic(scores: Sequence[float], correct: Sequence[bool]) -> tuple[list[float], list[float]]:
    """Fit a non-decreasing map score → P(correct) by pool-adjacent-violators.

    Args:
        scores: raw scores.
        correct: whether each scored item was right.

    Returns:
        ``(xs, ys)`` knots for linear interpolation: xs increasing block means, ys the
        smoothed right-rate of each block (non-decreasing). Empty input gives ``([], [])``.
    """
    if len(scores) != len(correct):
        raise ValueError("scores and correct differ in length")
    if not scores:
        return [], []
    order = np.argsort(np.asarray(scores, dtype=float), kind="stable")
    xs_sorted = np.asarray(scores, dtype=float)[order]
    ys_sorted = np.asarray(correct, dtype=float)[order]
    # Blocks: [sum_y, sum_x, count]
    blocks: list[list[float]] = []
    previous_x: float | None = None
    for x, y in zip(xs_sorted.tolist(), ys_sorted.tolist(), strict=True):
        tie = x == previous_x
        previous_x = x
        if tie:
            # Equal scores are one observation group: a map cannot tell them apart.
            blocks[-1][0] += y
            blocks[-1][1] += x
            blocks[-1][2] += 1.0
        else:
            blocks.append([y, x, 1.0])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][2] >= blocks[-1][0] / blocks[-1][2]:
            y2, x2, n2 = blocks.pop()
            blocks[-1][0] += y2
            blocks[-1][1] += x2
            blocks[-1][2] += n2
    # (right + 0.5) / (n + 1): a block of 130 right fields maps to 0.996, not a certain 1.0,
    # and a small block is pulled towards one half, so a sparse fit never promises too much.
    smoothed = np.maximum.accumulate([(b[0] + 0.5) / (b[2] + 1.0) for b in blocks])
    # Smoothing can undo the order of two neighbouring blocks of unequal size; keep it monotone.
    return [b[1] / b[2] for b in blocks], [float(v) for v in smoothed]


@dataclass
class Calibrator:
    """Per-group isotonic maps; a group without a map keeps its raw score."""

    maps: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __call__(self, group: str, raw: float) -> float:
        """Calibrated probability for a raw score of a field in ``group``."""
        knots = self.maps.get(group)
        if not knots or not knots[0]:
            return raw
        xs, ys = knots
        return float(np.interp(raw, xs, ys))

    def agreed(self, confidence: float) -> float:
        """Confidence of a field whose second opinion agreed, from its first calibrated confidence.

        Never lower than the first confidence: agreement is evidence *for* the reading. Without
        a fitted ``agreed`` map (raw scores, or an old calibration file) it changes nothing.
        """
        knots = self.maps.get(AGREED)
        if not knots or not knots[0]:
            return confidence
        return max(confidence, float(np.interp(confidence, knots[0], knots[1])))

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "groups": {g: {"x": list(xs), "y": list(ys)} for g, (xs, ys) in sorted(self.maps.items())},
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibrator:
        if data.get("version") != 1:
            raise ValueError("unknown calibration file version")
        maps = {
            str(g): ([float(v) for v in m["x"]], [float(v) for v in m["y"]])
            for g, m in dict(data.get("groups", {})).items()
        }
        return cls(maps, dict(data.get("meta", {})))

    @classmethod
    def fit(cls, rows: Iterable[tuple[str, float, bool]], *, meta: dict[str, Any] | None = None) -> Calibrator:
        """Fit one map per group from ``(group, raw score, right)`` rows."""
        grouped: dict[str, tuple[list[float], list[bool]]] = {}
        for group, score, right in rows:
            xs, ys = grouped.setdefault(group, ([], []))
            xs.append(score)
            ys.append(right)
        return cls({g: fit_isotonic(xs, ys) for g, (xs, ys) in grouped.items()}, dict(meta or {}))


def refit_from_outcomes(
    base: Calibrator, rows: Sequence[tuple[str, float, bool]], *, min_fields: int = 50
) -> Calibrator:
    """Refit a calibration on review outcomes: ``(group, calibrated confidence, right)`` rows.

    Outcomes carry the confidence the *installed* calibration produced, so per group an
    isotonic map calibrated → observed is fitted and composed with the installed map
    (new knots: the installed raw knots, their calibrated values passed through the refit).
    A group with fewer than ``min_fields`` outcomes keeps its installed map.
    """
    fitted = Calibrator.fit(rows)
    counts: dict[str, int] = {}
    for group, _score, _right in rows:
        counts[group] = counts.get(group, 0) + 1
    maps = dict(base.maps)
    refitted: dict[str, int] = {}
    for group, (xs, ys) in fitted.maps.items():
        n = counts.get(group, 0)
        if n < min_fields or not xs:
            continue
        old = base.maps.get(group)
        if old and old[0]:
            maps[group] = (list(old[0]), [float(np.interp(y, xs, ys)) for y in old[1]])
        else:
            maps[group] = (list(xs), list(ys))
        refitted[group] = n
    meta = {**base.meta, "refitted_from_reviews": refitted}
    return Calibrator(maps, meta)


def load_calibration(path: Path | None = None) -> Calibrator:
    """The packaged calibration (or the file at ``path``); identity when the file is absent."""
    target = path or PACKAGED
    if not target.is_file():
        return Calibrator()
    return Calibrator.from_json(json.loads(target.read_text(encoding="utf-8")))


def reliability_table(
    scores: Sequence[float], correct: Sequence[bool], *, edges: Sequence[float] = (0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 1.0)
) -> list[dict[str, float | int]]:
    """Bin items by score: per bin the count, mean score and observed right-rate."""
    table: list[dict[str, float | int]] = []
    s = np.asarray(scores, dtype=float)
    c = np.asarray(correct, dtype=float)
    for i in range(len(edges) - 1):
        lo, hi = edges[i], edges[i + 1]
        inside = (s >= lo) & ((s < hi) if i < len(edges) - 2 else (s <= hi))
        n = int(inside.sum())
        table.append(
            {
                "lo": float(lo),
                "hi": float(hi),
                "n": n,
                "mean_confidence": float(s[inside].mean()) if n else 0.0,
                "accuracy": float(c[inside].mean()) if n else 0.0,
            }
        )
    return table


def accept_stats(scores: Sequence[float], correct: Sequence[bool], threshold: float) -> dict[str, float | int]:
    """Share of items at or above ``threshold`` and the error rate among them."""
    s = np.asarray(scores, dtype=float)
    c = np.asarray(correct, dtype=bool)
    accepted = s >= threshold
    n_acc = int(accepted.sum())
    return {
        "n": int(s.size),
        "accepted": n_acc,
        "auto_accept_rate": n_acc / s.size if s.size else 0.0,
        "auto_accept_error": float((~c[accepted]).sum() / n_acc) if n_acc else 0.0,
    }


THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99)


def group_of(row: dict[str, Any]) -> str:
    """Calibration group of one detail row of :func:`evaluate_form_set`."""
    return field_group(str(row["type"]), empty=row["status"] == "empty")


SECOND_OPINION_FLOOR = 0.5
"""Doubtful fields below this first confidence are not read again (agreement cannot lift them
over the threshold); the second opinion and its fit share this one band."""


def fit_with_agreement(
    rows: Sequence[dict[str, Any]], *, threshold: float, meta: dict[str, Any] | None = None
) -> Calibrator:
    """Per-group maps on raw scores, then the ``agreed`` map on the fields the pipeline would read again.

    ``rows`` are detail rows with raw ``confidence`` and, where the second opinion was asked
    (everywhere, when fitting), ``agreed``. The agreed map is fitted on the rows whose first
    calibrated confidence falls in the band the pipeline asks about and whose reads agreed.
    """
    calibrator = Calibrator.fit(
        [(group_of(r), float(r["confidence"]), bool(r["right"])) for r in rows], meta=meta
    )
    xs: list[float] = []
    ys: list[bool] = []
    for r in rows:
        first = calibrator(group_of(r), float(r["confidence"]))
        if r.get("agreed") and SECOND_OPINION_FLOOR <= first < threshold:
            xs.append(first)
            ys.append(bool(r["right"]))
    if xs:
        calibrator.maps[AGREED] = fit_isotonic(xs, ys)
    return calibrator


def calibrated_confidence(calibrator: Calibrator, row: dict[str, Any], *, threshold: float) -> float:
    """What the pipeline reports for a detail row under ``calibrator`` (second opinion included)."""
    first = calibrator(group_of(row), float(row["confidence"]))
    if row.get("agreed") and SECOND_OPINION_FLOOR <= first < threshold:
        return calibrator.agreed(first)
    return first


def cross_validate(rows: list[dict[str, Any]], folds: int, *, threshold: float = 0.95) -> list[float]:
    """Out-of-fold calibrated confidence of every row (folds split by scan, round robin)."""
    scans = sorted({str(r["scan"]) for r in rows})
    fold_of = {scan: i % folds for i, scan in enumerate(scans)}
    out = [0.0] * len(rows)
    for k in range(folds):
        calibrator = fit_with_agreement(
            [r for r in rows if fold_of[str(r["scan"])] != k], threshold=threshold
        )
        for i, r in enumerate(rows):
            if fold_of[str(r["scan"])] == k:
                out[i] = calibrated_confidence(calibrator, r, threshold=threshold)
    return out


def build_report(rows: list[dict[str, Any]], *, folds: int, threshold: float, set_name: str) -> dict[str, Any]:
    """Everything ``--report`` writes; ``rows`` are detail rows with raw confidences."""
    raw = [float(r["confidence"]) for r in rows]
    right = [bool(r["right"]) for r in rows]
    calibrated = cross_validate(rows, folds, threshold=threshold)
    # The same fit without the second opinion: what OCR_OCR_SECOND_OPINION=off gives.
    single = cross_validate([{**r, "agreed": None} for r in rows], folds, threshold=threshold)
    final = fit_with_agreement(
        rows, threshold=threshold, meta={"fitted_on": set_name, "n_fields": len(rows), "folds": folds}
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
        "without_second_opinion": {f"{t:.2f}": accept_stats(single, right, t) for t in THRESHOLDS},
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
