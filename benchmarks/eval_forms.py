"""Print the form-set benchmark JSON: ``python benchmarks/eval_forms.py [set_dir] [--details out.jsonl]``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workers.pipeline.evaluate import evaluate_form_set
from workers.pipeline.models import CUDA_PROVIDER_OPTIONS, cuda_provider_option
from workers.pipeline.recognizer import load_recognizer
from workers.pipeline.second_opinion import load_second_opinion


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "set_dir", nargs="?", default=str(Path(__file__).resolve().parents[1] / "../shared/eval/forms/dev")
    )
    parser.add_argument("--dpi", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (OCR_OCR_DEVICE)")
    parser.add_argument(
        "--cuda-option", action="append", default=[], type=cuda_provider_option, metavar="KEY=VALUE",
        help="onnxruntime CUDA provider option (A/B)",
    )
    parser.add_argument("--details", default=None, help="write one JSON line per field here")
    parser.add_argument("--second-opinion", action="store_true", help="read doubtful fields twice (OCR_OCR_SECOND_OPINION)")
    args = parser.parse_args()
    CUDA_PROVIDER_OPTIONS.update(dict(args.cuda_option))
    recognizer = load_recognizer(None, intra_op_threads=args.threads, device=args.device)
    details: list[dict[str, Any]] = []
    result = evaluate_form_set(
        Path(args.set_dir),
        recognizer=recognizer,
        second_opinion=load_second_opinion(recognizer, intra_op_threads=args.threads, device=args.device) if args.second_opinion else None,
        dpi=args.dpi,
        details=details,
        progress=lambda done, total: print(f"{done}/{total}", file=sys.stderr, end="\r"),
    )
    if args.details:
        Path(args.details).write_text(
            "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in details), encoding="utf-8"
        )
    result["device"] = args.device
    result["providers"] = recognizer.providers
    result["cuda_options"] = CUDA_PROVIDER_OPTIONS
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
