"""Confidence calibration: isotonic fit, the shipped file, and the calibration report's shape."""

from __future__ import annotations

import json
import random
from typing import Any

from workers.pipeline.calibration import (
    PACKAGED,
    Calibrator,
    accept_stats,
    build_report,
    field_group,
    fit_isotonic,
    load_calibration,
    reliability_table,
)


def test_isotonic_fit_is_monotone_and_tracks_the_right_rate() -> None:
    """GIVEN scores whose right-rate rises with the score WHEN fitted THEN the map is non-decreasing,
    low scores map low, high scores high, and nothing maps to a certain 0 or 1."""
    rng = random.Random(1)
    scores = [rng.random() for _ in range(2000)]
    right = [rng.random() < s for s in scores]
    xs, ys = fit_isotonic(scores, right)
    assert xs == sorted(xs) and ys == sorted(ys)
    assert 0.0 < ys[0] < 0.2 and 0.8 < ys[-1] < 1.0
    calibrator = Calibrator({"text": (xs, ys)})
    assert calibrator("text", 0.05) < 0.25 < 0.75 < calibrator("text", 0.95)
    assert calibrator("unfitted", 0.42) == 0.42


def test_calibrator_json_round_trip_and_packaged_file() -> None:
    """GIVEN a fitted calibrator WHEN written and read back THEN identical maps; the shipped file loads
    and covers every field group."""
    fitted = Calibrator.fit([("kana", 0.2, False), ("kana", 0.9, True), ("numeric", 0.5, True)])
    again = Calibrator.from_json(json.loads(json.dumps(fitted.to_json())))
    assert again.maps == fitted.maps
    assert PACKAGED.is_file()
    shipped = load_calibration()
    assert {"checkbox", "empty", "kana", "numeric", "text"} <= set(shipped.maps)
    for group in shipped.maps:
        assert 0.0 <= shipped(group, 0.0) <= shipped(group, 0.5) <= shipped(group, 1.0) <= 1.0
    assert field_group("postal") == "numeric" and field_group("hiragana") == "kana"
    assert field_group("digits", empty=True) == "empty" and field_group(None) == "text"


def _rows(n_scans: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    rows = []
    for scan in range(n_scans):
        for field, ftype in (("a", "digits"), ("b", "hiragana"), ("c", "checkbox"), ("d", "text")):
            conf = rng.random()
            rows.append(
                {"scan": f"scans/{scan:04}.pdf", "field": field, "type": ftype, "status": "ok",
                 "confidence": conf, "right": rng.random() < conf}
            )
    return rows


def test_calibration_report_shape() -> None:
    """GIVEN raw detail rows WHEN the calibration report is built THEN it holds cross-validated and raw
    accept statistics, reliability tables that count every field, per-group numbers and the fitted maps."""
    rows = _rows(30)
    report = build_report(rows, folds=2, threshold=0.9, set_name="synthetic")
    assert set(report) >= {
        "set", "n_fields", "folds", "threshold", "cross_validated", "raw", "by_threshold",
        "reliability_raw", "reliability_calibrated", "by_group", "calibration",
    }
    for key in ("cross_validated", "raw"):
        assert set(report[key]) == {"n", "accepted", "auto_accept_rate", "auto_accept_error"}
        assert report[key]["n"] == len(rows)
    for table in (report["reliability_raw"], report["reliability_calibrated"]):
        assert sum(b["n"] for b in table) == len(rows)
        assert all(set(b) == {"lo", "hi", "n", "mean_confidence", "accuracy"} for b in table)
    assert set(report["by_group"]) == {"numeric", "kana", "checkbox", "text"}
    assert Calibrator.from_json(report["calibration"]).maps.keys() == report["by_group"].keys()


def test_accept_stats_and_reliability_bins() -> None:
    """GIVEN four scored fields WHEN counted at 0.9 THEN two accepted, one of them wrong."""
    stats = accept_stats([0.95, 0.99, 0.5, 0.2], [True, False, True, False], 0.9)
    assert stats == {"n": 4, "accepted": 2, "auto_accept_rate": 0.5, "auto_accept_error": 0.5}
    table = reliability_table([0.0, 1.0], [False, True], edges=(0.0, 0.5, 1.0))
    assert [b["n"] for b in table] == [1, 1] and table[1]["accuracy"] == 1.0
