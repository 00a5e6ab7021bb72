"""Peer comparison: the plain RapidOCR full-page pipeline vs ours, on the same form set, in one run.

    .venv/bin/python benchmarks/compare_peer.py ../shared/eval/forms/dev --limit 10 \
        --out benchmarks/results/compare_peer_dev.json

The peer is what a team gets from the ``rapidocr`` package the models come from, used as
documented: render the page, run ``RapidOCR()`` (text detection, angle classifier and
recognition over the whole page, the same PP-OCRv6 small recogniser we ship), then give
each field the text of the detected lines whose centre falls inside the field's box on
the template (no alignment, no character-type constraints, no checkbox reading: a plain
OCR pipeline has none). Ours is ``process_pdf``, as the worker runs it.

Both run in this process, one after the other, on the same scans, each with one
onnxruntime thread, after one untimed warm-up page each. Printed: seconds per page for each and their ratio, and field
accuracy for each (text fields, where the peer has a reading, and all fields), scored with
the project's own scorer. Timings depend on what else runs on the machine (recorded).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ocr_service.forms.layout import FormLayout
from workers.pipeline.document import process_pdf
from workers.pipeline.evaluate import FormScore, load_form_set
from workers.pipeline.recognizer import load_recognizer
from workers.pipeline.types import FieldReading, PageReading


def _peer_engine() -> Any:
    from rapidocr import RapidOCR

    return RapidOCR(
        params={"Global.log_level": "error", "EngineConfig.onnxruntime.intra_op_num_threads": 1}
    )


def _peer_read(engine: Any, pdf: bytes, layout: FormLayout, dpi: int) -> list[PageReading]:
    from pdf2image import convert_from_bytes

    pages = []
    for page_no, image in enumerate(convert_from_bytes(pdf, dpi=dpi), start=1):
        result = engine(np.asarray(image.convert("RGB")))
        lines = []
        boxes = [] if result.boxes is None else list(result.boxes)
        texts = [] if result.txts is None else list(result.txts)
        confidences = [] if result.scores is None else list(result.scores)
        for box, text, score in zip(boxes, texts, confidences, strict=False):
            quad = np.asarray(box, dtype=float)
            cx, cy = quad[:, 0].mean(), quad[:, 1].mean()
            lines.append((cx * 72.0 / dpi, cy * 72.0 / dpi, quad[:, 0].min(), str(text), float(score)))
        fields = []
        for spec in layout.fields:
            if spec.page != ((page_no - 1) % layout.pages) + 1:
                continue
            x0, y0, x1, y1 = spec.box
            inside = sorted((ln for ln in lines if x0 <= ln[0] <= x1 and y0 <= ln[1] <= y1), key=lambda ln: (ln[2]))
            if spec.type == "checkbox":
                fields.append(FieldReading(name=spec.name, value=False, confidence=0.0))
                continue
            text = "".join(ln[3] for ln in inside)
            confidence = min((ln[4] for ln in inside), default=0.0)
            fields.append(FieldReading(name=spec.name, value=text, confidence=confidence))
        pages.append(PageReading(page_no=page_no, status="ok", fields=fields))
    return pages


def _text_only(score: FormScore) -> dict[str, Any]:
    tallies = {k: v for k, v in score.by_type.items() if k != "checkbox"}
    n = sum(t.n for t in tallies.values())
    exact = sum(t.exact for t in tallies.values())
    chars = sum(t.chars for t in tallies.values())
    errors = sum(t.char_errors for t in tallies.values())
    return {"n": n, "field_acc": exact / n if n else 0.0, "char_acc": 1 - errors / chars if chars else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("set_dir", type=Path)
    parser.add_argument("--limit", type=int, default=10, help="first N scans (0: all)")
    parser.add_argument("--dpi", type=int, default=200)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    layouts, by_scan = load_form_set(args.set_dir)
    scans = list(by_scan.items())[: args.limit or None]
    load_avg = os.getloadavg()
    recognizer = load_recognizer(None, intra_op_threads=1)
    engine = _peer_engine()
    # Warm-up (not timed, not scored): onnxruntime sessions and template caches are built lazily.
    first_scan, first_rows = scans[0]
    warm_source = layouts[first_rows[0]["layout"]]
    warm_pdf = (args.set_dir / first_scan).read_bytes()
    process_pdf(warm_pdf, layout=warm_source.layout, template_pdf=warm_source.template_pdf, recognizer=recognizer,
                dpi=args.dpi)
    _peer_read(engine, warm_pdf, warm_source.layout, args.dpi)
    scores = {"ours": FormScore(threshold=0.95), "peer": FormScore(threshold=0.95)}
    seconds = {"ours": 0.0, "peer": 0.0}
    pages = 0
    for done, (scan, rows) in enumerate(scans, start=1):
        pdf = (args.set_dir / scan).read_bytes()
        for code in dict.fromkeys(row["layout"] for row in rows):
            source = layouts[code]
            started = time.perf_counter()
            ours = process_pdf(
                pdf, layout=source.layout, template_pdf=source.template_pdf, recognizer=recognizer, dpi=args.dpi
            )
            seconds["ours"] += time.perf_counter() - started
            started = time.perf_counter()
            peer = _peer_read(engine, pdf, source.layout, args.dpi)
            seconds["peer"] += time.perf_counter() - started
            pages += len(ours)
            types = {f.name: f.type for f in source.layout.fields}
            for row in (r for r in rows if r["layout"] == code):
                page_no = int(row.get("page", 1))
                for name, readings in (("ours", ours), ("peer", peer)):
                    page = readings[page_no - 1] if page_no <= len(readings) else None
                    scores[name].add_page(scan=scan, row=row, page=page, types=types)
        print(f"{done}/{len(scans)}", file=sys.stderr, end="\r")
    result: dict[str, Any] = {
        "set": args.set_dir.name,
        "n_scans": len(scans),
        "pages": pages,
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "load_avg_at_start": load_avg,
            "note": "shared 2-core machine (other sessions running); one onnxruntime thread each",
        },
    }
    for name in ("ours", "peer"):
        summary = scores[name].summary()
        result[name] = {
            "s_per_page": seconds[name] / pages if pages else 0.0,
            "text_fields": _text_only(scores[name]),
            "all_fields": {"n": summary["n_fields"], "field_acc": summary["field_acc"], "char_acc": summary["char_acc"]},
        }
    result["ratio"] = {
        "peer_time_over_ours": result["peer"]["s_per_page"] / result["ours"]["s_per_page"]
        if result["ours"]["s_per_page"]
        else None,
        "ours_text_field_acc_over_peer": result["ours"]["text_fields"]["field_acc"]
        / result["peer"]["text_fields"]["field_acc"]
        if result["peer"]["text_fields"]["field_acc"]
        else None,
    }
    text = json.dumps(result, ensure_ascii=False, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(
        f"peer/ours time per page: {result['ratio']['peer_time_over_ours']:.2f}x; text-field accuracy "
        f"ours {result['ours']['text_fields']['field_acc']:.1%} vs peer {result['peer']['text_fields']['field_acc']:.1%}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
