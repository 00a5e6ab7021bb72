"""Score ``forms propose`` against true layouts, one row per template (never pooled).

    .venv/bin/python benchmarks/propose_fields.py [--ocr] [--out benchmarks/results/propose_fields.json]

Templates: the dev eval layouts (../shared/eval/forms/dev/*/), the shipped
form_definitions/*/ layouts, and the two generated blank forms of tests/support/blank_forms.py.
A proposal matches a true field when the boxes overlap with IoU >= 0.5 (one to one).
``--ocr`` reads the printed labels with PP-OCR instead of the PDF text layer; ``--scanned`` proposes
from a simulated scan of the blank form (an image PDF: rules from the picture, labels from PP-OCR).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ocr_service.forms.loader import load_layout_file  # noqa: E402
from ocr_service.forms.propose import propose_template  # noqa: E402
from ocr_service.forms.propose.output import score_proposals, to_fields_json  # noqa: E402
from tests.support.blank_forms import BLANK_FORMS  # noqa: E402


def _truth_of(layout_dir: Path) -> tuple[bytes, list[dict[str, Any]]]:
    source = load_layout_file(layout_dir)
    truth = [
        {"name": f.name, "bbox_pt": list(f.box), "type": f.type, "cells": f.cells, "page": f.page}
        for f in source.layout.fields
    ]
    return source.template_pdf, truth


def _blank_scan(pdf: bytes, truth: list[dict[str, Any]]) -> bytes:
    """The blank template printed and scanned: an image PDF (no text layer), slightly skewed and noisy."""
    import io

    from pypdf import PdfReader

    from ocr_service.forms.layout import FormLayout
    from ocr_service.forms.synthetic import render_filled_multi_pdf, render_filled_pdf

    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    layout = FormLayout.model_validate(
        {
            "code": "scan",
            "title": "scan",
            "pages": pages,
            "fields": [{"name": "x", "label": "x", "box": truth[0]["bbox_pt"]}],
        }
    )
    return render_filled_multi_pdf(
        [
            render_filled_pdf(
                template_pdf=pdf,
                layout=layout,
                values={},
                page=page,
                dpi=200,
                rotate_deg=0.4,
                blur=0.6,
                noise=0.03,
                grayscale=True,
            )
            for page in range(1, pages + 1)
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ocr", action="store_true", help="labels from PP-OCR, not the PDF text layer")
    parser.add_argument(
        "--scanned",
        action="store_true",
        help="propose from a simulated scan of each blank template (200 dpi, 0.4° skew, blur, noise; no text layer)",
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    cases: list[tuple[str, bytes, list[dict[str, Any]]]] = []
    for folder in sorted((ROOT.parent / "shared" / "eval" / "forms" / "dev").glob("*/fields.json")):
        cases.append((f"dev/{folder.parent.name}", *_truth_of(folder.parent)))
    for folder in sorted((ROOT / "form_definitions").glob("*/form.yaml")):
        cases.append((f"shipped/{folder.parent.name}", *_truth_of(folder.parent)))
    for name, build in BLANK_FORMS.items():
        pdf, generated = build()
        cases.append((f"generated/{name}", pdf, generated["fields"]))
    rows = []
    for name, pdf, truth in cases:
        if args.scanned:
            pdf = _blank_scan(pdf, truth)
        proposed = propose_template(pdf, use_ocr=True if args.ocr else None)
        score = score_proposals(to_fields_json(proposed, code="x")["fields"], truth)
        row = {"template": name, "labels": proposed.text_source, **score.as_dict()}
        rows.append(row)
        print(
            f"{name:<40} recall {score.recall:6.1%}  precision {score.precision:6.1%}  "
            f"type {score.type_accuracy:6.1%}  cells {score.cells_correct}/{score.cells_total}  "
            f"({score.matched}/{score.n_true} matched, {score.n_proposed} proposed)"
        )
    if args.out:
        args.out.write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
