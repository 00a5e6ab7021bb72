"""Model registry: export dir loads, bundle round trip, tampered and unsafe bundles refused, offline."""

from __future__ import annotations

import io
import json
import socket
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.pipeline.conftest import FONT_PATH
from tests.support.render import printed_line
from workers.pipeline.models import (
    PACKAGED_SET,
    BundleError,
    export_bundle,
    import_bundle,
    list_model_sets,
    resolve_model_dir,
    write_export_dir,
)
from workers.pipeline.recognizer import OnnxCtcRecognizer, load_recognizer


def _line(text: str) -> np.ndarray:
    return printed_line(text, FONT_PATH)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bundle") / "models.tar"
    export_bundle(model_set=PACKAGED_SET, data_dir=tmp_path_factory.mktemp("src"), bundle=path)
    return path


def _rewrite(src: Path, dst: Path, change: dict[str, bytes | None], extra: list[tarfile.TarInfo] | None = None) -> None:
    """Copy a bundle, replacing (bytes) or dropping (None) members by name."""
    with tarfile.open(src) as tin, tarfile.open(dst, "w") as tout:
        for member in tin.getmembers():
            data: bytes | None = tin.extractfile(member).read()  # type: ignore[union-attr]
            if member.name in change:
                data = change[member.name]
            if data is None:
                continue
            info = tarfile.TarInfo(member.name)
            info.size = len(data)
            tout.addfile(info, io.BytesIO(data))
        for info in extra or []:
            tout.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)


@pytest.mark.slow
def test_paddle_export_dir_from_packaged_model_loads_and_reads(tmp_path: Path) -> None:
    """GIVEN the packaged model written as a PaddleOCR export dir (inference.onnx + inference.yml)
    WHEN it is loaded through OCR_OCR_MODEL_DIR's code path
    THEN it reads digits exactly like the packaged model."""
    folder = write_export_dir(tmp_path / "export")
    assert (folder / "inference.onnx").is_file() and (folder / "inference.yml").is_file()
    exported = load_recognizer(folder, intra_op_threads=1)
    packaged = load_recognizer(None, intra_op_threads=1)
    assert isinstance(exported, OnnxCtcRecognizer) and exported is not packaged
    assert exported.characters == packaged.characters
    crops = [_line("4096"), _line("2718")]
    got = [r.text for r in exported.recognize(crops, ["digits", "digits"])]
    assert got == [r.text for r in packaged.recognize(crops, ["digits", "digits"])] == ["4096", "2718"]


def test_bundle_round_trip_installs_a_selectable_set(bundle: Path, tmp_path: Path) -> None:
    """GIVEN an exported bundle WHEN imported under a new name THEN it is listed with the same checksums
    and the model-set setting resolves to its folder."""
    with tarfile.open(bundle) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    installed = import_bundle(bundle=bundle, data_dir=tmp_path, name="site-v6")
    assert installed.path == tmp_path / "models" / "site-v6"
    assert installed.files == manifest["files"]
    listed = {m.name: m for m in list_model_sets(tmp_path)}
    assert set(listed) == {PACKAGED_SET, "site-v6"}
    assert listed["site-v6"].files == manifest["files"]
    assert resolve_model_dir(model_dir=None, model_set="site-v6", data_dir=tmp_path) == installed.path
    assert resolve_model_dir(model_dir=None, model_set=PACKAGED_SET, data_dir=tmp_path) is None
    with pytest.raises(FileExistsError):
        import_bundle(bundle=bundle, data_dir=tmp_path, name="site-v6")
    with pytest.raises(FileNotFoundError):
        resolve_model_dir(model_dir=None, model_set="missing", data_dir=tmp_path)


def test_tampered_bundle_is_refused_and_leaves_nothing(bundle: Path, tmp_path: Path) -> None:
    """GIVEN a bundle whose inference.yml was altered after export WHEN imported THEN refused, nothing installed."""
    tampered = tmp_path / "tampered.tar"
    _rewrite(bundle, tampered, {"inference.yml": b"PostProcess: {character_dict: [a, b]}\n"})
    with pytest.raises(BundleError, match="checksum"):
        import_bundle(bundle=tampered, data_dir=tmp_path / "site", name="evil")
    assert list((tmp_path / "site" / "models").iterdir()) == []


@pytest.mark.parametrize(
    "member",
    [
        ("../escape.txt", tarfile.REGTYPE),
        ("/tmp/abs.txt", tarfile.REGTYPE),
        ("sub/dir.txt", tarfile.REGTYPE),
        ("link.onnx", tarfile.SYMTYPE),
    ],
)
def test_unsafe_members_are_refused(bundle: Path, tmp_path: Path, member: tuple[str, bytes]) -> None:
    """GIVEN a bundle with a path-escaping, absolute, nested or link member WHEN imported THEN refused."""
    info = tarfile.TarInfo(member[0])
    info.type = member[1]
    if info.isfile():
        info.size = 1
    else:
        info.linkname = "/etc/passwd"
    bad = tmp_path / "bad.tar"
    _rewrite(bundle, bad, {}, [info])
    with pytest.raises(BundleError, match="refusing"):
        import_bundle(bundle=bad, data_dir=tmp_path / "site", name="x")
    assert not (tmp_path / "escape.txt").exists()


def test_missing_file_and_builtin_name_are_refused(bundle: Path, tmp_path: Path) -> None:
    """GIVEN a bundle missing a manifest file, or imported under the built-in name THEN refused."""
    partial = tmp_path / "partial.tar"
    _rewrite(bundle, partial, {"inference.onnx": None})
    with pytest.raises(BundleError, match="manifest"):
        import_bundle(bundle=partial, data_dir=tmp_path, name="x")
    with pytest.raises(BundleError, match="built in"):
        import_bundle(bundle=bundle, data_dir=tmp_path)


@pytest.mark.slow
def test_recognition_opens_no_socket(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """GIVEN every way to open a network connection made to fail
    WHEN the recogniser is built fresh (packaged and export dir) and reads a line
    THEN it works: recognition never touches the network."""
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> None:
        attempts.append(args)
        raise OSError("network access during recognition")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    load_recognizer.cache_clear()
    try:
        folder = write_export_dir(tmp_path / "m")
        for model_dir in (None, folder):
            recognizer = load_recognizer(model_dir, intra_op_threads=1)
            (result,) = recognizer.recognize([_line("123")], ["digits"])
            assert result.text == "123"
    finally:
        load_recognizer.cache_clear()
    assert attempts == []
