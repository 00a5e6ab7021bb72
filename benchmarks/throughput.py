"""CPU throughput of the production pipeline: pages/min on N worker processes, stage times, RSS, lines/s.

    .venv/bin/python benchmarks/throughput.py ../shared/eval/forms/dev \
        --lines ../shared/eval/lines/composed_hw_fields_dev --workers 2 \
        --out benchmarks/results/throughput_cpu.json

Each worker process is what ``ocr-service worker`` runs per slot: one onnxruntime
session with ``OCR_OCR_THREADS`` (default 1) intra-op threads, reading whole PDFs with
``process_pdf``. The scans are dealt round-robin to ``--workers`` processes started
together; pages/min is all pages over the wall time of the slowest process. Stage
times (rasterise scan + template, align, recognise) are summed inside each process
by timing wrappers around the pipeline's own functions; peak RSS is each child's
``ru_maxrss``. Timings depend on what else runs on the machine: the JSON records the
CPU, core count and load average at the start.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _timed(stages: dict[str, float], name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            stages[name] = stages.get(name, 0.0) + time.perf_counter() - start

    return wrapper


def _worker(
    jobs: list[tuple[str, str]], set_dir: str, threads: int, device: str, second: bool, queue: Any,
    cuda_options: dict[str, str],
) -> None:
    import workers.pipeline.document as document
    import workers.pipeline.page as page
    from ocr_service.forms.loader import load_layout_file
    from workers.pipeline.models import CUDA_PROVIDER_OPTIONS
    from workers.pipeline.recognizer import load_recognizer
    from workers.pipeline.second_opinion import SecondOpinion, load_second_opinion

    CUDA_PROVIDER_OPTIONS.update(cuda_options)
    stages: dict[str, float] = {}
    started = time.perf_counter()
    recognizer = load_recognizer(None, intra_op_threads=threads, device=device)
    opinion = load_second_opinion(recognizer, intra_op_threads=threads, device=device) if second else None
    stages["model_load"] = time.perf_counter() - started
    # Time the pipeline's own stage functions where document.py and page.py look them up.
    for module, name, stage in (
        (document, "rasterize_pdf", "raster"),
        (document, "render_template", "raster_template"),
        (page, "align_page", "align"),
    ):
        setattr(module, name, _timed(stages, stage, getattr(module, name)))
    recognizer.recognize = _timed(stages, "recognise", recognizer.recognize)  # type: ignore[method-assign]
    # The widened re-read goes through recognizer.recognize too: it is counted in both stages.
    SecondOpinion.agreements = _timed(stages, "second_opinion", SecondOpinion.agreements)  # type: ignore[method-assign]
    layouts = {code: load_layout_file(Path(set_dir) / code / "fields.json") for _, code in jobs}
    pages = 0
    begin = time.perf_counter()
    for scan, code in jobs:
        source = layouts[code]
        readings = document.process_pdf(
            (Path(set_dir) / scan).read_bytes(),
            layout=source.layout,
            template_pdf=source.template_pdf,
            recognizer=recognizer,
            second_opinion=opinion,
        )
        pages += len(readings)
    elapsed = time.perf_counter() - begin
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put({
        "pages": pages, "seconds": elapsed, "stages_s": stages, "peak_rss_mib": rss_kib / 1024.0,
        "providers": recognizer.providers,
    })


def _lines_per_s(lines_dir: Path, threads: int) -> dict[str, Any]:
    from workers.pipeline.evaluate import evaluate_line_set
    from workers.pipeline.recognizer import load_recognizer

    recognizer = load_recognizer(None, intra_op_threads=threads)
    result = evaluate_line_set(lines_dir, recognizer=recognizer)
    return {"set": result["set"], "n": result["n"], "threads": threads, "lines_per_s": result["lines_per_s"]}


def _machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import onnxruntime as ort

    return {
        "cpu": cpu,
        "cores_visible": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "onnxruntime": ort.__version__,
        "providers": ort.get_available_providers(),
        "gpu": _gpu_name(),
    }


def _gpu_name() -> str | None:
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def main() -> None:
    # Imported here, not at the top: the spawned workers time their own imports.
    from workers.pipeline.models import cuda_provider_option

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("set_dir", type=Path)
    parser.add_argument("--lines", type=Path, help="a line set for the lines/s figure")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads per worker")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--cuda-option", action="append", default=[], type=cuda_provider_option, metavar="KEY=VALUE",
        help="onnxruntime CUDA provider option (A/B)",
    )
    parser.add_argument("--limit", type=int, default=0, help="only the first N scans")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--note", default="")
    parser.add_argument("--second-opinion", action="store_true", help="read doubtful fields twice (A/B)")
    args = parser.parse_args()
    cuda_options = dict(args.cuda_option)
    machine = _machine()
    rows = [json.loads(x) for x in (args.set_dir / "truth.jsonl").read_text(encoding="utf-8").splitlines() if x]
    scans = list(dict.fromkeys((r["scan"], r["layout"]) for r in rows))
    if args.limit:
        scans = scans[: args.limit]
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(
            target=_worker,
            args=(
                scans[i :: args.workers], str(args.set_dir), args.threads, args.device,
                args.second_opinion, queue, cuda_options,
            ),
        )
        for i in range(args.workers)
    ]
    wall_start = time.perf_counter()
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    wall = time.perf_counter() - wall_start
    pages = sum(r["pages"] for r in results)
    slowest = max(r["seconds"] for r in results)
    stage_totals: dict[str, float] = {}
    for r in results:
        for k, v in r["stages_s"].items():
            stage_totals[k] = stage_totals.get(k, 0.0) + v
    report: dict[str, Any] = {
        "benchmark": "throughput",
        "set": args.set_dir.name,
        "device": args.device,
        "cuda_options": cuda_options,
        "workers": args.workers,
        "threads_per_worker": args.threads,
        "second_opinion": args.second_opinion,
        "pages": pages,
        "pages_per_min": 60.0 * pages / slowest if slowest else 0.0,
        "pages_per_min_incl_startup": 60.0 * pages / wall if wall else 0.0,
        "seconds_per_page_by_stage": {
            k: v / pages for k, v in sorted(stage_totals.items()) if k != "model_load" and pages
        },
        "model_load_s": max(r["stages_s"].get("model_load", 0.0) for r in results),
        "peak_rss_mib_per_worker": max(r["peak_rss_mib"] for r in results),
        # What the sessions really ran on: onnxruntime falls back to the CPU quietly.
        "session_providers": results[0]["providers"],
        "machine": machine,
        "note": args.note,
    }
    if args.lines:
        report["lines"] = _lines_per_s(args.lines, args.threads)
    text = json.dumps(report, ensure_ascii=False, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
