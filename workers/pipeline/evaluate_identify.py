"""``eval forms --identify``: score a form set without telling the pipeline which layout a scan uses.

Every page is identified among *all* layouts of the set (as an upload that
names no form is), then read with the layout it was identified as. A page
identified wrongly or left unidentified scores all its fields as misses, so
field accuracy here is end to end including identification. Besides the usual
numbers the result carries ``identify_acc``, ``n_unidentified`` and the
alignment residuals (window RMS offset, template pixels at the working dpi).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ocr_service.forms.loader import load_layout_file
from workers.pipeline.evaluate import _Tally
from workers.pipeline.identify import LayoutCandidate, candidates_for, process_pdf_identified
from workers.pipeline.page import PagePipeline
from workers.pipeline.recognizer import Recognizer

__all__ = ["evaluate_form_set_identified"]


def evaluate_form_set_identified(
    set_dir: Path,
    *,
    recognizer: Recognizer,
    dpi: int = 200,
    progress: Callable[[int, int], None] | None = None,
    threshold: float = 0.8,
    details: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Identify, align and read every page of a form set; score identification and fields.

    Returns:
        the keys of :func:`workers.pipeline.evaluate.evaluate_form_set` plus ``identify_acc``,
        ``n_pages``, ``n_unidentified``, ``n_misidentified``, ``residual_px`` (``{"mean", "max"}``
        of the per-page residuals over aligned pages) and
        ``n_doubtful`` (pages flagged to the reviewer for their alignment).
    """
    candidates: list[LayoutCandidate] = []
    types: dict[str, dict[str, str]] = {}
    for fields_json in sorted(set_dir.glob("*/fields.json")):
        source = load_layout_file(fields_json)
        code = fields_json.parent.name
        candidates += candidates_for(
            key=code, layout=source.layout, template_pdf=source.template_pdf, dpi=dpi
        )
        types[code] = {f.name: f.type for f in source.layout.fields}
    rows = [
        json.loads(line)
        for line in (set_dir / "truth.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    by_scan: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_scan.setdefault(row["scan"], []).append(row)
    pipeline = PagePipeline(recognizer, dpi=dpi, low_confidence_threshold=threshold)
    overall = _Tally()
    by_type: dict[str, _Tally] = {}
    accepted = accepted_wrong = pages_done = 0
    identified_right = unidentified = misidentified = doubtful = 0
    residuals: list[float] = []
    started = time.perf_counter()
    for done, (scan, scan_rows) in enumerate(by_scan.items(), start=1):
        readings = process_pdf_identified(
            (set_dir / scan).read_bytes(), candidates=candidates, pipeline=pipeline
        )
        pages_done += len(readings)
        for reading in readings:
            if reading.status == "ok" and reading.residual_px is not None:
                residuals.append(reading.residual_px)
                doubtful += int(reading.alignment_doubtful)
        for row in scan_rows:
            page_no = int(row.get("page", 1))
            page = readings[page_no - 1] if page_no <= len(readings) else None
            right_form = page is not None and page.form_key == row["layout"]
            identified_right += int(right_form)
            unidentified += int(page is None or page.status == "unidentified")
            misidentified += int(page is not None and page.form_key is not None and not right_form)
            found = {f.name: f for f in page.fields} if page is not None and right_form else {}
            for name, truth in row["fields"].items():
                reading_ = found.get(name)
                value: str | bool = reading_.value if reading_ else (False if isinstance(truth, bool) else "")
                field_type = types[row["layout"]].get(name, "text")
                right = overall.add(truth, value)
                by_type.setdefault(field_type, _Tally()).add(truth, value)
                if reading_ is not None and reading_.confidence >= threshold:
                    accepted += 1
                    accepted_wrong += int(not right)
                if details is not None:
                    details.append(
                        {"scan": scan, "page": page_no, "field": name, "type": field_type, "truth": truth,
                         "value": value, "right": right, "form": page.form_key if page else None}
                    )  # fmt: skip
        if progress is not None:
            progress(done, len(by_scan))
    elapsed = time.perf_counter() - started
    summary = overall.summary()
    return {
        "set": set_dir.name,
        "identify": True,
        "n_scans": len(by_scan),
        "n_pages": len(rows),
        "n_fields": overall.n,
        "identify_acc": identified_right / len(rows) if rows else 0.0,
        "n_unidentified": unidentified,
        "n_misidentified": misidentified,
        "field_acc": summary["field_acc"],
        "char_acc": summary["char_acc"],
        "by_type": {name: tally.summary() for name, tally in sorted(by_type.items())},
        "auto_accept_rate": accepted / overall.n if overall.n else 0.0,
        "auto_accept_error": accepted_wrong / accepted if accepted else 0.0,
        "threshold": threshold,
        "residual_px": {
            "mean": sum(residuals) / len(residuals) if residuals else None,
            "max": max(residuals) if residuals else None,
        },
        "n_doubtful": doubtful,
        "pages_per_s": pages_done / elapsed if elapsed > 0 else 0.0,
    }
