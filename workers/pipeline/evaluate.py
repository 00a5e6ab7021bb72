"""Benchmarks on the evaluation sets, using exactly the production code path.

Two formats (see the eval folder's README): form sets (scans + layouts +
truth.jsonl), scored per field, and line sets (images + labels.jsonl), scored
by character error rate. Numbers are per set and never pooled across sets.
"""

from __future__ import annotations

import json
import time
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ocr_service.forms.loader import LayoutSource, load_layout_file
from workers.pipeline.calibration import Calibrator
from workers.pipeline.document import process_pdf
from workers.pipeline.recognizer import Recognizer
from workers.pipeline.second_opinion import SecondOpinion
from workers.pipeline.types import FieldReading, PageReading

__all__ = [
    "FormScore",
    "edit_distance",
    "evaluate_form_set",
    "evaluate_line_set",
    "load_form_set",
    "normalize_for_scoring",
]


def normalize_for_scoring(value: str) -> str:
    """NFKC with all whitespace removed, the comparison rule of the eval README."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", value) if not ch.isspace())


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two strings."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class _Tally:
    """Accumulates field and character accuracy for one group of fields."""

    def __init__(self) -> None:
        self.n = 0
        self.exact = 0
        self.chars = 0
        self.char_errors = 0

    def add(self, truth: str | bool, value: str | bool) -> bool:
        self.n += 1
        if isinstance(truth, bool):
            right = isinstance(value, bool) and value == truth
            self.chars += 1
            self.char_errors += 0 if right else 1
        else:
            t = normalize_for_scoring(truth)
            v = normalize_for_scoring(value) if isinstance(value, str) else ""
            right = t == v
            # An empty truth read as text counts its inserted characters (at least one error).
            self.chars += max(1, len(t))
            self.char_errors += min(max(1, len(t)), edit_distance(t, v))
        self.exact += int(right)
        return right

    def summary(self) -> dict[str, float | int]:
        return {
            "n": self.n,
            "field_acc": self.exact / self.n if self.n else 0.0,
            "char_acc": 1.0 - self.char_errors / self.chars if self.chars else 0.0,
        }


class FormScore:
    """Field scoring of a form set, shared by the named-layout and the identifying evaluation.

    Args:
        threshold: confidence at or above which a field counts as auto-accepted.
        details: if given, receives one dict per scored field (for error analysis).
    """

    def __init__(self, *, threshold: float, details: list[dict[str, Any]] | None = None) -> None:
        self.threshold = threshold
        self.details = details
        self.overall = _Tally()
        self.by_type: dict[str, _Tally] = {}
        self.accepted = 0
        self.accepted_wrong = 0

    def add_page(
        self,
        *,
        scan: str,
        row: dict[str, Any],
        page: PageReading | None,
        types: Mapping[str, str],
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Score one truth row against the page read for it (None: nothing was read)."""
        found: dict[str, FieldReading] = {f.name: f for f in page.fields} if page else {}
        for name, truth in row["fields"].items():
            reading = found.get(name)
            value: str | bool = reading.value if reading else ("" if not isinstance(truth, bool) else False)
            field_type = types.get(name, "text")
            right = self.overall.add(truth, value)
            self.by_type.setdefault(field_type, _Tally()).add(truth, value)
            if reading is not None and reading.confidence >= self.threshold:
                self.accepted += 1
                self.accepted_wrong += int(not right)
            if self.details is not None:
                self.details.append(
                    {
                        "scan": scan,
                        "page": int(row.get("page", 1)),
                        "field": name,
                        "type": field_type,
                        "truth": truth,
                        "value": value,
                        "confidence": reading.confidence if reading else None,
                        "status": reading.status if reading else (page.status if page else "missing"),
                        "agreed": reading.agreed if reading else None,
                        "right": right,
                        **(extra or {}),
                    }
                )

    def summary(self) -> dict[str, Any]:
        """``n_fields, field_acc, char_acc, by_type, auto_accept_rate, auto_accept_error, threshold``."""
        overall = self.overall.summary()
        n = self.overall.n
        return {
            "n_fields": n,
            "field_acc": overall["field_acc"],
            "char_acc": overall["char_acc"],
            "by_type": {name: tally.summary() for name, tally in sorted(self.by_type.items())},
            "auto_accept_rate": self.accepted / n if n else 0.0,
            "auto_accept_error": self.accepted_wrong / self.accepted if self.accepted else 0.0,
            "threshold": self.threshold,
        }


def load_form_set(set_dir: Path) -> tuple[dict[str, LayoutSource], dict[str, list[dict[str, Any]]]]:
    """The layouts of a form set by folder name, and its truth rows grouped by scan (file order)."""
    layouts = {path.parent.name: load_layout_file(path) for path in sorted(set_dir.glob("*/fields.json"))}
    by_scan: dict[str, list[dict[str, Any]]] = {}
    for row in _read_jsonl(set_dir / "truth.jsonl"):
        by_scan.setdefault(row["scan"], []).append(row)
    return layouts, by_scan


def evaluate_form_set(
    set_dir: Path,
    *,
    recognizer: Recognizer,
    dpi: int = 200,
    progress: Callable[[int, int], None] | None = None,
    threshold: float = 0.95,
    details: list[dict[str, Any]] | None = None,
    calibrator: Calibrator | None = None,
    second_opinion: SecondOpinion | None = None,
    second_opinion_everywhere: bool = False,
) -> dict[str, Any]:
    """Score the full pipeline (PDF bytes in, field values out) on a form set.

    Args:
        set_dir: a ``forms/<set>`` folder.
        recognizer: the recogniser under test.
        dpi: rendering resolution.
        progress: called as ``progress(done, total)`` after each scan.
        threshold: confidence at or above which a field is auto-accepted.
        details: if given, receives one dict per scored field (for error analysis).
        calibrator: confidence calibration (default: the packaged one, as in production;
            ``Calibrator()`` reports raw scores, for fitting).
        second_opinion: the production second opinion (None: every field read once).
        second_opinion_everywhere: ask it about every text field (calibration fitting).

    Returns:
        ``{"set", "n_scans", "n_fields", "field_acc", "char_acc", "by_type",
        "auto_accept_rate", "auto_accept_error", "threshold", "pages_per_s"}``.
    """
    layouts, by_scan = load_form_set(set_dir)
    score = FormScore(threshold=threshold, details=details)
    pages_done = 0
    started = time.perf_counter()
    for done, (scan, scan_rows) in enumerate(by_scan.items(), start=1):
        pdf = (set_dir / scan).read_bytes()
        # Production reads an upload against one chosen layout; a scan that mixes layouts is
        # read once per layout and each truth row takes its page from the matching run.
        runs: dict[str, list[PageReading]] = {}
        for code in dict.fromkeys(row["layout"] for row in scan_rows):
            source = layouts[code]
            runs[code] = process_pdf(
                pdf,
                layout=source.layout,
                template_pdf=source.template_pdf,
                recognizer=recognizer,
                dpi=dpi,
                low_confidence_threshold=threshold,
                calibrator=calibrator,
                second_opinion=second_opinion,
                second_opinion_everywhere=second_opinion_everywhere,
            )
        pages_done += len(next(iter(runs.values())))
        for row in scan_rows:
            pages = runs[row["layout"]]
            page_no = int(row.get("page", 1))
            types = {f.name: f.type for f in layouts[row["layout"]].layout.fields}
            page = pages[page_no - 1] if page_no <= len(pages) else None
            score.add_page(scan=scan, row=row, page=page, types=types)
        if progress is not None:
            progress(done, len(by_scan))
    elapsed = time.perf_counter() - started
    return {
        "set": set_dir.name,
        "n_scans": len(by_scan),
        **score.summary(),
        "pages_per_s": pages_done / elapsed if elapsed > 0 else 0.0,
    }


def evaluate_line_set(
    set_dir: Path,
    *,
    recognizer: Recognizer,
    constrained: bool = True,
    batch: int = 32,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
) -> dict[str, Any]:
    """Score the recogniser alone on a line set.

    Args:
        set_dir: a ``lines/<set>`` folder.
        recognizer: the recogniser under test.
        constrained: apply the ``charset`` field type of a label row when present.
        batch: images per recogniser call.
        transform: applied to each grayscale image before it is read (a simulated scanner or
            pen, ``benchmarks/eval_shifted_lines.py``); None reads the images as stored.

    Returns:
        ``{"set", "n", "cer", "line_acc", "by_script": {script: {"n", "cer", "line_acc"}}, "lines_per_s"}``.
    """
    rows = _read_jsonl(set_dir / "labels.jsonl")
    errors: dict[str, int] = {}
    lengths: dict[str, int] = {}
    exact: dict[str, int] = {}
    counts: dict[str, int] = {}
    started = time.perf_counter()
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        images = [_load_gray(set_dir / row["image"]) for row in chunk]
        if transform is not None:
            images = [transform(image) for image in images]
        charsets = [row.get("charset") if constrained else None for row in chunk]
        results = recognizer.recognize(images, charsets)
        for row, result in zip(chunk, results, strict=True):
            truth = normalize_for_scoring(row["text"])
            got = normalize_for_scoring(result.text)
            for key in ("", str(row.get("script", "unknown"))):
                errors[key] = errors.get(key, 0) + edit_distance(truth, got)
                lengths[key] = lengths.get(key, 0) + max(1, len(truth))
                exact[key] = exact.get(key, 0) + int(truth == got)
                counts[key] = counts.get(key, 0) + 1
    elapsed = time.perf_counter() - started

    def stats(key: str) -> dict[str, float | int]:
        return {"n": counts[key], "cer": errors[key] / lengths[key], "line_acc": exact[key] / counts[key]}

    total = stats("") if rows else {"n": 0, "cer": 0.0, "line_acc": 0.0}
    return {
        "set": set_dir.name,
        "constrained": constrained,
        "n": total["n"],
        "cer": total["cer"],
        "line_acc": total["line_acc"],
        "by_script": {k: stats(k) for k in sorted(counts) if k},
        "lines_per_s": len(rows) / elapsed if elapsed > 0 else 0.0,
    }


def _load_gray(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise ValueError(f"cannot read image {path}")
    return np.asarray(image)
