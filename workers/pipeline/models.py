"""Model registry: which recognition model sets are installed, and bundles for air-gapped sites.

A *model set* is a folder in PaddleOCR's export layout (``inference.onnx`` +
``inference.yml`` with ``PostProcess.character_dict``) under ``$OCR_DATA_DIR/models/<name>/``,
plus the built-in ``ppocrv6-small`` that lives inside the ``rapidocr`` wheel. Settings
select one (``OCR_OCR_MODEL_SET``), or ``OCR_OCR_MODEL_DIR`` points at any export folder
(PP-OCRv5 server, a fine-tuned model).

LGWAN sites have no internet: ``models export`` writes a plain tar with a
``manifest.json`` (name, source, sha256 of every file); ``models import`` extracts it
into a temporary folder inside the models root, refuses any member that is not a
plain file named in the manifest (no links, no absolute paths, no ``..``), verifies
every checksum, and only then renames the folder into place. A bundle whose files do
not match its manifest is refused and leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import onnxruntime as ort
import yaml

__all__ = [
    "PACKAGED_SET",
    "BundleError",
    "ModelSet",
    "cuda_provider_option",
    "execution_providers",
    "export_bundle",
    "import_bundle",
    "list_model_sets",
    "open_session",
    "packaged_model_path",
    "read_paddle_dict",
    "resolve_model_dir",
    "write_export_dir",
]

PACKAGED_SET = "ppocrv6-small"
"""The model set shipped inside the rapidocr wheel (PP-OCRv6 small recogniser)."""
MANIFEST = "manifest.json"
_NAME_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


class BundleError(ValueError):
    """A model bundle is malformed, unsafe or does not match its checksums."""


@dataclass(frozen=True)
class ModelSet:
    """One installed model set."""

    name: str
    path: Path
    source: str
    files: dict[str, str]
    """relative file name → sha256."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_name(name: str) -> str:
    if not name or name.startswith(".") or not set(name) <= _NAME_OK or len(name) > 64:
        raise BundleError(f"invalid model set name {name!r}")
    return name


def resolve_model_dir(*, model_dir: Path | None, model_set: str, data_dir: Path) -> Path | None:
    """The export folder to load, or None for the packaged model.

    ``model_dir`` (OCR_OCR_MODEL_DIR) wins; otherwise ``model_set`` names an imported set.

    Raises:
        FileNotFoundError: the selected set is not installed.
    """
    if model_dir is not None:
        return model_dir
    if model_set == PACKAGED_SET:
        return None
    path = data_dir / "models" / _check_name(model_set)
    if not (path / "inference.onnx").is_file():
        raise FileNotFoundError(f"model set {model_set!r} is not installed in {path.parent}")
    return path


_PACKAGED_MODEL = "PP-OCRv6_rec_small.onnx"


def packaged_model_path() -> Path:
    """Locate the PP-OCRv6 small recognition model inside the installed rapidocr wheel.

    Returns:
        the path of ``PP-OCRv6_rec_small.onnx``.

    Raises:
        FileNotFoundError: rapidocr is not installed or lacks the model.
    """
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the rapidocr package is not installed")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "models" / _PACKAGED_MODEL
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{_PACKAGED_MODEL} not found in the rapidocr package")


def execution_providers(device: str) -> list[str]:
    """onnxruntime providers for ``device`` (auto, cpu, cuda); the same model and code run on either.

    ``cuda`` is refused loudly when the CUDA provider is missing (onnxruntime-gpu not installed,
    or no driver), rather than silently running on the CPU at a tenth of the expected speed.
    """
    available = ort.get_available_providers()
    if device in ("cuda", "auto") and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "cuda":
        raise RuntimeError(
            "OCR_OCR_DEVICE=cuda but onnxruntime has no CUDA provider (install onnxruntime-gpu)"
        )
    return ["CPUExecutionProvider"]


CUDA_PROVIDER_OPTIONS: dict[str, str] = {
    # Every crop width is its own input shape: cuDNN's default exhaustive search would
    # benchmark the convolutions again for each new width, costing more than it saves.
    "cudnn_conv_algo_search": "HEURISTIC",
    # TF32 keeps 10 mantissa bits in convolutions and matrix products; full fp32 keeps a
    # GPU worker's reads equal to a CPU worker's, field for field.
    "use_tf32": "0",
}


def cuda_provider_option(text: str) -> tuple[str, str]:
    """One ``KEY=VALUE`` onnxruntime CUDA provider option, as benchmark command lines take it for an A/B.

    Raises:
        ValueError: no ``=``, or an empty key.
    """
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"a CUDA provider option is KEY=VALUE, not {text!r}")
    return key.strip(), value.strip()


def open_session(model_path: Path, options: ort.SessionOptions, *, device: str) -> ort.InferenceSession:
    """An onnxruntime session for ``model_path`` on ``device`` (``cpu``, ``cuda`` or ``auto``).

    On CUDA the libraries of the pip ``nvidia-*`` packages (``onnxruntime-gpu[cuda,cudnn]``)
    are loaded first. onnxruntime falls back to the CPU with only a log line when the CUDA
    provider cannot start (a CUDA or cuDNN library missing or of the wrong major version):
    ``cuda`` then fails here instead of running ten times slower unnoticed; ``auto`` accepts it.

    Raises:
        RuntimeError: ``cuda`` was asked and the session did not start on the GPU.
    """
    providers = execution_providers(device)
    if providers[0] != "CUDAExecutionProvider":
        return ort.InferenceSession(str(model_path), options, providers=providers)
    preload = getattr(ort, "preload_dlls", None)
    if preload is not None:
        preload()
    session = ort.InferenceSession(
        str(model_path),
        options,
        providers=[("CUDAExecutionProvider", CUDA_PROVIDER_OPTIONS), "CPUExecutionProvider"],
    )
    if device == "cuda" and session.get_providers()[0] != "CUDAExecutionProvider":
        raise RuntimeError(
            "OCR_OCR_DEVICE=cuda but the CUDA provider did not start "
            "(CUDA 13 and cuDNN 9 libraries: install onnxruntime-gpu[cuda,cudnn])"
        )
    return session


def read_paddle_dict(model_dir: Path) -> list[str]:
    """The character dictionary of a PaddleOCR export folder (``inference.yml``)."""
    config = yaml.safe_load((model_dir / "inference.yml").read_text(encoding="utf-8"))
    chars = config.get("PostProcess", {}).get("character_dict") if isinstance(config, dict) else None
    if not isinstance(chars, list) or not chars:
        raise ValueError(f"{model_dir}/inference.yml has no PostProcess.character_dict")
    return [str(c) for c in chars]


def _packaged() -> ModelSet:
    path = packaged_model_path()
    import rapidocr

    version = getattr(rapidocr, "__version__", "3.10.0")
    return ModelSet(PACKAGED_SET, path.parent, f"pypi:rapidocr=={version}", {path.name: sha256_file(path)})


def list_model_sets(data_dir: Path) -> list[ModelSet]:
    """The packaged set and every set imported under ``data_dir/models``."""
    sets = [_packaged()]
    root = data_dir / "models"
    if root.is_dir():
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            manifest_path = folder / MANIFEST
            source = "local"
            if manifest_path.is_file():
                source = str(json.loads(manifest_path.read_text(encoding="utf-8")).get("source", "local"))
            files = {
                f.name: sha256_file(f) for f in sorted(folder.iterdir()) if f.is_file() and f.name != MANIFEST
            }
            sets.append(ModelSet(folder.name, folder, source, files))
    return sets


def write_export_dir(target: Path) -> Path:
    """Write the packaged model as a PaddleOCR export folder (inference.onnx + inference.yml).

    The dictionary comes from the ONNX metadata key ``character`` (one character per line).
    """
    source = packaged_model_path()
    session = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"])
    characters = session.get_modelmeta().custom_metadata_map["character"].splitlines()
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target / "inference.onnx")
    config: dict[str, Any] = {
        "Global": {"model_name": "PP-OCRv6_rec_small"},
        "PreProcess": {"transform_ops": [{"RecResizeImg": {"image_shape": [3, 48, 320]}}]},
        "PostProcess": {"name": "CTCLabelDecode", "character_dict": characters},
    }
    (target / "inference.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return target


def export_bundle(*, model_set: str, data_dir: Path, bundle: Path) -> dict[str, Any]:
    """Write ``bundle`` (tar) holding one model set and its manifest; returns the manifest."""
    with tempfile.TemporaryDirectory() as tmp:
        if model_set == PACKAGED_SET:
            folder = write_export_dir(Path(tmp) / model_set)
            source = _packaged().source
        else:
            folder = data_dir / "models" / _check_name(model_set)
            if not folder.is_dir():
                raise FileNotFoundError(f"model set {model_set!r} is not installed")
            old = folder / MANIFEST
            source = (
                str(json.loads(old.read_text(encoding="utf-8")).get("source", "local"))
                if old.is_file()
                else "local"
            )
        files = {f.name: sha256_file(f) for f in sorted(folder.iterdir()) if f.is_file() and f.name != MANIFEST}
        manifest = {"format": 1, "name": model_set, "source": source, "files": files}
        data = json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")
        partial = bundle.with_name(bundle.name + ".part")
        with tarfile.open(partial, "w") as tar:
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            for name in files:
                tar.add(folder / name, arcname=name, recursive=False)
        partial.replace(bundle)
    return manifest


def import_bundle(
    *, bundle: Path, data_dir: Path, replace: bool = False, name: str | None = None
) -> ModelSet:
    """Verify and install a bundle under ``data_dir/models/<name>``.

    ``name`` installs under another name than the manifest's (the built-in name
    ``ppocrv6-small`` is reserved: the wheel already provides it).

    Raises:
        BundleError: unsafe member, missing/extra file, or checksum mismatch.
        FileExistsError: the set exists and ``replace`` is False.
    """
    root = data_dir / "models"
    root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(bundle, "r") as tar:
        members = tar.getmembers()
        by_name: dict[str, tarfile.TarInfo] = {}
        for member in members:
            pure = PurePosixPath(member.name)
            if not member.isfile() or pure.is_absolute() or len(pure.parts) != 1 or pure.name in ("", ".", ".."):
                raise BundleError(f"refusing bundle member {member.name!r}")
            if member.name in by_name:
                raise BundleError(f"duplicate bundle member {member.name!r}")
            by_name[member.name] = member
        if MANIFEST not in by_name:
            raise BundleError("bundle has no manifest.json")
        handle = tar.extractfile(by_name[MANIFEST])
        if handle is None:
            raise BundleError("unreadable manifest")
        manifest = json.loads(handle.read().decode("utf-8"))
        name = _check_name(name or str(manifest.get("name", "")))
        if name == PACKAGED_SET:
            raise BundleError(f"{PACKAGED_SET} is built in; import the bundle under another name")
        files: dict[str, str] = dict(manifest.get("files", {}))
        if set(files) != set(by_name) - {MANIFEST}:
            raise BundleError("bundle files do not match its manifest")
        if "inference.onnx" not in files or "inference.yml" not in files:
            raise BundleError("a model set needs inference.onnx and inference.yml")
        target = root / name
        if target.exists() and not replace:
            raise FileExistsError(f"model set {name!r} already installed")
        staging = Path(tempfile.mkdtemp(prefix=".import-", dir=root))
        try:
            for file_name, expected in files.items():
                source = tar.extractfile(by_name[file_name])
                if source is None:
                    raise BundleError(f"unreadable member {file_name!r}")
                out = staging / _check_name(file_name)
                with out.open("wb") as sink:
                    shutil.copyfileobj(source, sink)
                if sha256_file(out) != expected:
                    raise BundleError(f"checksum mismatch for {file_name}: the bundle was altered or damaged")
            (staging / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
            if target.exists():
                shutil.rmtree(target)
            staging.replace(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return ModelSet(name, target, str(manifest.get("source", "bundle")), files)
