"""``eval forms --identify``: score a form set without telling the pipeline which layout a scan uses.

Every page is identified among *all* layouts of the set (as an upload that
names no form is), then read with the layout it was identified as. A page
identified wrongly or left unidentified scores all its fields as misses, so
field accuracy here is end to end including identification. Besides the usual
numbers the result carries ``identify_acc``, ``n_unidentified`` and the
alignment residuals (window RMS offset, template pixels at the working dpi).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workers.pipeline.document import read_pdf
from workers.pipeline.evaluate import FormScore, load_form_set
from workers.pipeline.identify import LayoutCandidate, candidates_for
from workers.pipeline.page import PagePipeline
from workers.pipeline.recognizer import Recognizer
from workers.pipeline.second_opinion import SecondOpinion

__all__ = ["evaluate_form_set_identified"]


def evaluate_form_set_identified(
    set_dir: Path,
    *,
    recognizer: Recognizer,
    dpi: int = 200,
    progress: Callable[[int, int], None] | None = None,
    threshold: float = 0.95,
    details: list[dict[str, Any]] | None = None,
    second_opinion: SecondOpinion | None = None,
) -> dict[str, Any]:
    """Identify, align and read every page of a form set; score identification and fields.

    Returns:
        the keys of :func:`workers.pipeline.evaluate.evaluate_form_set` plus ``identify_acc``,
        ``n_pages``, ``n_unidentified``, ``n_misidentified``, ``residual_px`` (``{"mean", "max"}``
        of the per-page residuals over aligned pages) and
        ``n_doubtful`` (pages flagged to the reviewer for their alignment).
    """
    layouts, by_scan = load_form_set(set_dir)
    candidates: list[LayoutCandidate] = []
    for code, source in layouts.items():
        candidates += candidates_for(key=code, layout=source.layout, template_pdf=source.template_pdf, dpi=dpi)
    types = {code: {f.name: f.type for f in source.layout.fields} for code, source in layouts.items()}
    pipeline = PagePipeline(
        recognizer, dpi=dpi, low_confidence_threshold=threshold, second_opinion=second_opinion
    )
    score = FormScore(threshold=threshold, details=details)
    pages_done = n_rows = identified_right = unidentified = misidentified = doubtful = 0
    residuals: list[float] = []
    started = time.perf_counter()
    for done, (scan, scan_rows) in enumerate(by_scan.items(), start=1):
        readings = read_pdf((set_dir / scan).read_bytes(), candidates, pipeline=pipeline)
        pages_done += len(readings)
        for reading in readings:
            if reading.status == "ok" and reading.residual_px is not None:
                residuals.append(reading.residual_px)
                doubtful += int(reading.alignment_doubtful)
        for row in scan_rows:
            n_rows += 1
            page_no = int(row.get("page", 1))
            page = readings[page_no - 1] if page_no <= len(readings) else None
            right_form = page is not None and page.form_key == row["layout"]
            identified_right += int(right_form)
            unidentified += int(page is None or page.status == "unidentified")
            misidentified += int(page is not None and page.form_key is not None and not right_form)
            # A page read as the wrong form (or not identified) scores as if nothing was read.
            score.add_page(
                scan=scan,
                row=row,
                page=page if right_form else None,
                types=types[row["layout"]],
                extra={"form": page.form_key if page else None},
            )
        if progress is not None:
            progress(done, len(by_scan))
    elapsed = time.perf_counter() - started
    return {
        "set": set_dir.name,
        "identify": True,
        "n_scans": len(by_scan),
        "n_pages": n_rows,
        "identify_acc": identified_right / n_rows if n_rows else 0.0,
        "n_unidentified": unidentified,
        "n_misidentified": misidentified,
        **score.summary(),
        "residual_px": {
            "mean": sum(residuals) / len(residuals) if residuals else None,
            "max": max(residuals) if residuals else None,
        },
        "n_doubtful": doubtful,
        "pages_per_s": pages_done / elapsed if elapsed > 0 else 0.0,
    }
