"""What a new input shape costs the recogniser on a device: ``python benchmarks/gpu_shapes.py --device cuda``.

The recogniser feeds the model one input shape per crop width (and batch size), so a device
that prepares each new shape (cuDNN's algorithm search, kernel plans) pays that again and
again on a page. This times, per onnxruntime CUDA setting, one inference call of batch 1 at
widths never seen before, the same widths a second time, widths rounded up to a step, and a
repeated batch of 8. Prints JSON lines, one per setting.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import onnxruntime as ort

from workers.pipeline import models
from workers.pipeline.models import open_session, packaged_model_path


def _mean_ms(session: ort.InferenceSession, name: str, shapes: list[tuple[int, int]]) -> float:
    started = time.perf_counter()
    for batch, width in shapes:
        session.run(None, {name: np.zeros((batch, 3, 48, width), dtype=np.float32)})
    return 1000.0 * (time.perf_counter() - started) / max(1, len(shapes))


def measure(*, device: str, options: dict[str, str], widths: int, step: int, seed: int) -> dict[str, Any]:
    """Milliseconds per call for new, repeated and stepped widths under ``options``."""
    models.CUDA_PROVIDER_OPTIONS.clear()
    models.CUDA_PROVIDER_OPTIONS.update(options)
    session_options = ort.SessionOptions()
    session_options.intra_op_num_threads = 2
    session_options.log_severity_level = 3
    started = time.perf_counter()
    session = open_session(packaged_model_path(), session_options, device=device)
    load_s = time.perf_counter() - started
    name = session.get_inputs()[0].name
    rng = np.random.default_rng(seed)
    fresh = [int(w) for w in rng.choice(np.arange(192, 1601), size=widths, replace=False)]
    stepped = sorted({-(-w // step) * step for w in fresh})
    first = _mean_ms(session, name, [(1, 320)])
    return {
        "device": device,
        "providers": session.get_providers(),
        "options": options,
        "session_load_s": load_s,
        "first_call_ms": first,
        "new_width_ms": _mean_ms(session, name, [(1, w) for w in fresh]),
        "same_widths_again_ms": _mean_ms(session, name, [(1, w) for w in fresh]),
        "stepped_widths": len(stepped),
        "new_stepped_width_ms": _mean_ms(session, name, [(1, w) for w in stepped]),
        "repeated_width_ms": _mean_ms(session, name, [(1, 320)] * 30),
        "repeated_batch8_ms": _mean_ms(session, name, [(8, 640)] * 10),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    # On an H200 a new width cost about 0.4 s a call: 20 widths time all four settings in about a minute.
    parser.add_argument("--widths", type=int, default=20, help="distinct new widths to time")
    parser.add_argument("--step", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    defaults = dict(models.CUDA_PROVIDER_OPTIONS)
    settings = [defaults] if args.device == "cpu" else [
        defaults,
        {**defaults, "cudnn_conv_algo_search": "DEFAULT"},
        {**defaults, "cudnn_conv_algo_search": "EXHAUSTIVE"},
        {**defaults, "use_tf32": "1"},
    ]
    for options in settings:
        print(json.dumps(measure(device=args.device, options=options, widths=args.widths, step=args.step, seed=args.seed)), flush=True)


if __name__ == "__main__":
    main()
