"""Which device a session runs on, and that a GPU read can be checked against a CPU read field for field."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import onnxruntime as ort
import pytest

from workers.pipeline import models
from workers.pipeline.recognizer import load_recognizer

ROOT = Path(__file__).resolve().parents[2]


class _NativeSession:
    """Stands in for onnxruntime's native session (the process boundary): records what it was asked."""

    calls: list[dict[str, Any]]
    runs_on: list[str]

    def __init__(self, path: str, options: Any, providers: list[Any]) -> None:
        type(self).calls.append({"path": path, "providers": providers})

    def get_providers(self) -> list[str]:
        return list(type(self).runs_on)


@pytest.fixture
def cuda_build(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """An onnxruntime that offers the CUDA provider; the test decides where its sessions really start."""
    seen: dict[str, Any] = {"preloaded": 0}
    _NativeSession.calls = []
    _NativeSession.runs_on = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(ort, "InferenceSession", _NativeSession)

    def preload() -> None:
        seen["preloaded"] += 1

    monkeypatch.setattr(ort, "preload_dlls", preload, raising=False)
    return seen


def test_cpu_recogniser_reports_the_provider_it_runs_on() -> None:
    """GIVEN device=cpu WHEN the recogniser is loaded THEN its session says it runs on the CPU provider."""
    assert load_recognizer(None, intra_op_threads=1, device="cpu").providers == ["CPUExecutionProvider"]


def test_cuda_session_starts_with_the_cuda_libraries_and_full_fp32(cuda_build: dict[str, Any]) -> None:
    """GIVEN a CUDA build WHEN a cuda session opens THEN the pip CUDA libraries are loaded first and the
    provider gets TF32 off (GPU reads equal CPU reads) and the heuristic cuDNN search."""
    session = models.open_session(Path("model.onnx"), ort.SessionOptions(), device="cuda")
    assert session.get_providers()[0] == "CUDAExecutionProvider"
    assert cuda_build["preloaded"] == 1
    (call,) = _NativeSession.calls
    name, options = call["providers"][0]
    assert name == "CUDAExecutionProvider"
    assert options["use_tf32"] == "0" and options["cudnn_conv_algo_search"] == "HEURISTIC"
    assert call["providers"][1] == "CPUExecutionProvider"


def test_cuda_session_that_quietly_fell_back_to_the_cpu_is_refused(cuda_build: dict[str, Any]) -> None:
    """GIVEN a CUDA build whose provider cannot start (cuDNN missing) WHEN device=cuda THEN a clear error
    instead of a worker ten times slower; device=auto accepts the CPU session."""
    _NativeSession.runs_on = ["CPUExecutionProvider"]
    with pytest.raises(RuntimeError, match="CUDA provider did not start"):
        models.open_session(Path("model.onnx"), ort.SessionOptions(), device="cuda")
    session = models.open_session(Path("model.onnx"), ort.SessionOptions(), device="auto")
    assert session.get_providers() == ["CPUExecutionProvider"]


def test_cpu_session_never_touches_the_cuda_libraries(cuda_build: dict[str, Any]) -> None:
    """GIVEN a CUDA build WHEN device=cpu THEN only the CPU provider is asked for and nothing is preloaded."""
    models.open_session(Path("model.onnx"), ort.SessionOptions(), device="cpu")
    assert _NativeSession.calls[0]["providers"] == ["CPUExecutionProvider"]
    assert cuda_build["preloaded"] == 0


def _details(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _row(field: str, value: str, confidence: float, status: str = "ok") -> dict[str, Any]:
    return {"scan": "scans/0001.pdf", "page": 1, "field": field, "value": value, "confidence": confidence, "status": status}


def _compare(before: Path, after: Path) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "compare_fields.py"), str(before), str(after)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    return done.returncode, json.loads(done.stdout)


def test_compare_fields_accepts_rounding_and_flags_a_changed_value_or_decision(tmp_path: Path) -> None:
    """GIVEN a CPU read WHEN a GPU read differs only in the 6th decimal THEN identical (exit 0); WHEN one value
    or one auto-accept decision differs THEN it is named and the exit status is 1."""
    cpu = _details(tmp_path / "cpu.jsonl", [_row("name", "山田", 0.97), _row("zip", "1000001", 0.80, "low_confidence")])
    same = _details(tmp_path / "same.jsonl", [_row("name", "山田", 0.9700004), _row("zip", "1000001", 0.8000003, "low_confidence")])
    code, report = _compare(cpu, same)
    assert code == 0 and report["identical"] and report["fields"] == 2

    value = _details(tmp_path / "value.jsonl", [_row("name", "山田", 0.97), _row("zip", "1000007", 0.80, "low_confidence")])
    code, report = _compare(cpu, value)
    assert code == 1 and report["values_differ"] == 1
    assert report["differences"][0]["field"]["field"] == "zip"

    decision = _details(tmp_path / "decision.jsonl", [_row("name", "山田", 0.9499), _row("zip", "1000001", 0.80, "low_confidence")])
    code, report = _compare(cpu, decision)
    assert code == 1 and report["values_differ"] == 0 and report["decisions_differ"] == 1


@pytest.mark.parametrize("text", ["use_tf32", "=1", " =0"])
def test_a_cuda_option_without_key_or_value_separator_is_refused(text: str) -> None:
    """GIVEN a benchmark's --cuda-option without KEY=VALUE WHEN parsed THEN a ValueError names it."""
    with pytest.raises(ValueError, match="KEY=VALUE"):
        models.cuda_provider_option(text)


def test_a_cuda_option_is_split_at_its_first_equals_sign() -> None:
    """GIVEN KEY=VALUE options (a value may hold '=') WHEN parsed THEN key and value come apart at the first '='."""
    assert models.cuda_provider_option("use_tf32=1") == ("use_tf32", "1")
    assert models.cuda_provider_option(" gpu_mem_limit = 2=3 ") == ("gpu_mem_limit", "2=3")
