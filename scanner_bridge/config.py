"""Configuration: one TOML file, every key also settable as ``BRIDGE_<KEY>`` in the environment.

Problems are collected, not raised one at a time, so ``scanner-bridge check`` can print one
Japanese line per misconfiguration.
"""

from __future__ import annotations

import os
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "BRIDGE_"
DEFAULT_IGNORE = (
    "*.tmp",
    "*.temp",
    "*.part",
    "*.partial",
    "*.crdownload",
    "~$*",
    ".*",
    "thumbs.db",
    "desktop.ini",
)
"""Names scanners and copy tools use while a file is still being written, plus Windows litter."""


class ConfigError(ValueError):
    """The configuration cannot be used; ``problems`` holds one Japanese line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class HotFolder:
    path: Path
    form_code: str | None = None
    """Every file from this folder is read as this form; None lets the service identify it."""


def _default_state_dir() -> Path:
    if os.name == "nt":
        return Path(os.environ.get("PROGRAMDATA", "C:/ProgramData")) / "scanner-bridge"
    return Path("/var/lib/scanner-bridge")


@dataclass(frozen=True)
class BridgeConfig:
    server_url: str
    token_file: Path
    hot_folders: tuple[HotFolder, ...]
    state_dir: Path = field(default_factory=_default_state_dir)
    """Holds spool/, quarantine/ (unless set), journal.jsonl and status.json."""
    quarantine_dir: Path | None = None
    name: str = field(default_factory=socket.gethostname)
    poll_interval_s: float = 2.0
    stable_polls: int = 3
    """A file is taken once size and mtime stayed the same over this many polls."""
    backoff_initial_s: float = 2.0
    backoff_max_s: float = 300.0
    heartbeat_interval_s: float = 60.0
    timeout_s: float = 120.0
    ca_bundle: Path | None = None
    """PEM file of the installation's CA (LGWAN sites use private CAs); None = system store."""
    proxy: str | None = None
    ignore_patterns: tuple[str, ...] = DEFAULT_IGNORE
    log_file: Path | None = None

    @property
    def spool_dir(self) -> Path:
        return self.state_dir / "spool"

    @property
    def quarantine_path(self) -> Path:
        return self.quarantine_dir or self.state_dir / "quarantine"

    @property
    def journal_path(self) -> Path:
        return self.state_dir / "journal.jsonl"

    @property
    def status_path(self) -> Path:
        return self.state_dir / "status.json"


_FLOATS = {"poll_interval_s", "backoff_initial_s", "backoff_max_s", "heartbeat_interval_s", "timeout_s"}
_INTS = {"stable_polls"}
_PATHS = {"token_file", "state_dir", "quarantine_dir", "ca_bundle", "log_file"}
_STRINGS = {"server_url", "name", "proxy"}
SCALAR_KEYS = _FLOATS | _INTS | _PATHS | _STRINGS
ENV_KEYS = {ENV_PREFIX + key.upper() for key in SCALAR_KEYS} | {
    "BRIDGE_HOT_FOLDER",
    "BRIDGE_FORM_CODE",
    "BRIDGE_IGNORE_PATTERNS",
    "BRIDGE_CONFIG",
}


def _read_toml(path: Path, problems: list[str]) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        problems.append(f"設定ファイル {path} がありません。")
    except PermissionError:
        problems.append(f"設定ファイル {path} を読み取る権限がありません。")
    except tomllib.TOMLDecodeError as exc:
        problems.append(
            f"設定ファイル {path} の書式が正しくありません（{exc}）。"
            "Windows のパスは 'D:\\Scan' のように単引用符で囲むか、D:/Scan と / で書いてください。"
        )
    return {}


def _convert(key: str, value: Any, problems: list[str]) -> Any:
    try:
        if key in _FLOATS:
            number = float(value)
            if number <= 0:
                raise ValueError(value)
            return number
        if key in _INTS:
            count = int(value)
            if count < 1:
                raise ValueError(value)
            return count
        if key in _PATHS:
            return Path(str(value)) if str(value) else None
        return str(value) or None
    except (TypeError, ValueError):
        problems.append(f"設定 {key} の値「{value}」が正しくありません（正の数を指定してください）。")
        return None


def _hot_folders(raw: Any, problems: list[str]) -> list[HotFolder]:
    folders: list[HotFolder] = []
    if not isinstance(raw, list):
        problems.append("設定 hot_folders は [[hot_folders]] の表の並びで書いてください。")
        return folders
    for item in raw:
        if not isinstance(item, dict) or not item.get("path"):
            problems.append("[[hot_folders]] には path（スキャン先フォルダ）が必要です。")
            continue
        form_code = item.get("form_code")
        folders.append(
            HotFolder(path=Path(str(item["path"])), form_code=str(form_code) if form_code else None)
        )
    return folders


def load_config(path: Path | None, env: Mapping[str, str] | None = None) -> BridgeConfig:
    """Read the TOML file (if any), apply ``BRIDGE_*`` overrides, validate; raise :class:`ConfigError`."""
    env = os.environ if env is None else env
    problems: list[str] = []
    if path is None and env.get("BRIDGE_CONFIG"):
        path = Path(env["BRIDGE_CONFIG"])
    data = _read_toml(path, problems) if path is not None else {}
    unknown = sorted(set(data) - SCALAR_KEYS - {"hot_folders", "ignore_patterns"})
    for key in unknown:
        problems.append(f"設定 {key} は使えない項目です（綴りを確認してください）。")
    values: dict[str, Any] = {}
    for key in SCALAR_KEYS:
        raw = env.get(ENV_PREFIX + key.upper(), data.get(key))
        if raw is not None:
            values[key] = _convert(key, raw, problems)
    folders = _hot_folders(data.get("hot_folders", []), problems)
    if env.get("BRIDGE_HOT_FOLDER"):
        folders = [HotFolder(Path(env["BRIDGE_HOT_FOLDER"]), env.get("BRIDGE_FORM_CODE") or None)]
    ignore = data.get("ignore_patterns", DEFAULT_IGNORE)
    if env.get("BRIDGE_IGNORE_PATTERNS"):
        ignore = [p.strip() for p in env["BRIDGE_IGNORE_PATTERNS"].split(",") if p.strip()]
    if not values.get("server_url"):
        problems.append("サーバー URL（server_url / BRIDGE_SERVER_URL）が設定されていません。")
    if not values.get("token_file"):
        problems.append("トークンファイル（token_file / BRIDGE_TOKEN_FILE）が設定されていません。")
    if not folders:
        problems.append("スキャン先フォルダ（[[hot_folders]] / BRIDGE_HOT_FOLDER）が設定されていません。")
    if problems:
        raise ConfigError(problems)
    values = {k: v for k, v in values.items() if v is not None}
    return BridgeConfig(hot_folders=tuple(folders), ignore_patterns=tuple(str(p) for p in ignore), **values)


def read_token(path: Path) -> str:
    """The machine token; refused if others may read the file (POSIX) or it is empty. Never logged."""
    if os.name != "nt":
        mode = path.stat().st_mode
        if mode & 0o077:
            raise ConfigError(
                [
                    f"トークンファイル {path} を他のユーザーが読める状態です（chmod 600 {path} を実行してください）。"
                ]
            )
    token = path.read_text(encoding="utf-8").strip()
    if not token:
        raise ConfigError([f"トークンファイル {path} が空です。"])
    return token
