"""The command line: exit codes and Japanese lines an operator reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner_bridge.cli import main
from scanner_bridge.config import HotFolder
from scanner_bridge.journal import Journal
from scanner_bridge.spool import Spool


def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    hot = tmp_path / "hot"
    hot.mkdir()
    for key, value in {
        "BRIDGE_SERVER_URL": "http://127.0.0.1:9",
        "BRIDGE_TOKEN_FILE": str(tmp_path / "token"),
        "BRIDGE_HOT_FOLDER": str(hot),
        "BRIDGE_STATE_DIR": str(tmp_path / "state"),
        "BRIDGE_NAME": "窓口スキャナー",
    }.items():
        monkeypatch.setenv(key, value)
    return hot


def test_status_reports_queue_and_fates_in_japanese(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hot = _env(monkeypatch, tmp_path)
    spool = Spool(
        spool_dir=tmp_path / "state" / "spool",
        quarantine_dir=tmp_path / "state" / "quarantine",
        journal=Journal(tmp_path / "state" / "journal.jsonl"),
    )
    (hot / "a.pdf").write_bytes(b"a")
    (hot / "b.pdf").write_bytes(b"b")
    done = spool.take(hot / "a.pdf", HotFolder(hot))
    spool.take(hot / "b.pdf", HotFolder(hot))
    spool.mark_uploaded(done, document_id="d1", batch_id=None, duplicate=False)
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "窓口スキャナー" in out and "送信待ち: 1 件" in out and "uploaded" in out


def test_run_refuses_a_token_file_others_can_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    if os.name == "nt":
        pytest.skip("POSIX permission bits")
    _env(monkeypatch, tmp_path)
    token = tmp_path / "token"
    token.write_text("ocrt_x", encoding="utf-8")
    token.chmod(0o644)
    assert main(["run"]) == 2
    out = capsys.readouterr().out
    assert out.startswith("NG: ") and "chmod 600" in out and "ocrt_x" not in out


def test_missing_configuration_is_listed_and_fails(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN a config path that does not exist and no BRIDGE_* variables THEN one NG line per problem, exit 1."""
    for key in ("BRIDGE_SERVER_URL", "BRIDGE_TOKEN_FILE", "BRIDGE_HOT_FOLDER", "BRIDGE_CONFIG"):
        monkeypatch.delenv(key, raising=False)
    assert main(["--config", str(tmp_path / "missing.toml"), "check"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and all(line.startswith("NG: ") for line in lines)
    assert "missing.toml" in lines[0]
