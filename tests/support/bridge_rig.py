"""Real processes for the scanner-bridge acceptance tests: the API (uvicorn, embedded SQLite),
the fault proxy and the bridge itself. Every process runs in its own session and is killed by
the fixture that started it, whatever the test did."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from sqlalchemy import create_engine, text, update
from sqlalchemy.engine import Engine

from ocr_service.auth.models import ApiToken
from ocr_service.auth.service import create_api_token
from ocr_service.config import Settings
from ocr_service.db.base import make_engine, make_session_factory, utcnow
from ocr_service.db.migrate import upgrade_database
from ocr_service.db.scoping import SYSTEM_SCOPE, set_scope
from ocr_service.forms.service import publish_form_version
from ocr_service.keys.service import Keys, session_info
from ocr_service.orgs.service import create_user, get_or_create_organisation
from ocr_service.storage.blobs import LocalBlobStore
from tests.factories import simple_layout

SUPPORT = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.3) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@dataclass
class Proc:
    """A child process in its own session, its output in a log file."""

    argv: list[str]
    log_path: Path
    env: dict[str, str]
    popen: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def start(self) -> None:
        self._log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.argv, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, sig)
                self.popen.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        if self._log is not None:
            self._log.close()
        self.popen = None

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("OCR_", "BRIDGE_"))}


@dataclass
class Api:
    """The OCR service API on the embedded default (SQLite in a temp folder), on a free port."""

    root: Path
    port: int = field(default_factory=free_port)
    proc: Proc | None = None
    token: str = ""
    revoked_token: str = ""
    engine: Engine | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def settings(self) -> Settings:
        return Settings(data_dir=self.root / "data", environment="development")

    def seed(self) -> None:
        """Organisation, an operator machine account with a token (and a revoked one), form 'simple'."""
        settings = self.settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        upgrade_database(settings.resolved_database_url)
        factory = make_session_factory(
            make_engine(settings.resolved_database_url), info=session_info(Keys.from_settings(settings))
        )
        store = LocalBlobStore(settings.resolved_storage_dir)
        with factory() as db:
            set_scope(db, SYSTEM_SCOPE)
            org = get_or_create_organisation(db, name="ブリッジ試験課")
            user = create_user(
                db, org=org, username="scanner-pc", password="scanner-pass-2026", role="operator"
            )
            publish_form_version(db, org_id=org.id, source=simple_layout(), store=store)
            self.token = create_api_token(db, user=user, name="bridge")
            self.revoked_token = create_api_token(db, user=user, name="old bridge")
            db.flush()
            db.execute(update(ApiToken).where(ApiToken.name == "old bridge").values(revoked_at=utcnow()))
            db.commit()
        self.engine = create_engine(settings.resolved_database_url)

    def start(self) -> None:
        env = clean_env() | {"OCR_DATA_DIR": str(self.settings.data_dir), "OCR_API_PORT": str(self.port)}
        self.proc = Proc([sys.executable, "-m", "ocr_service.cli.main", "api"], self.root / "api.log", env)
        self.proc.start()

        def up() -> bool:
            try:
                return httpx.get(self.url + "/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        assert wait_for(up, 60), self.proc.log()[-3000:]

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()

    def documents(self) -> list[dict[str, Any]]:
        assert self.engine is not None
        with self.engine.connect() as conn:
            # original_filename is sealed (issue 11): tests identify documents by their SHA-256.
            rows = conn.execute(text("SELECT id, sha256, form_id, page_count FROM documents"))
            return [dict(row._mapping) for row in rows]

    def receipt_sources(self) -> set[str | None]:
        assert self.engine is not None
        with self.engine.connect() as conn:
            return {row[0] for row in conn.execute(text("SELECT DISTINCT source FROM upload_receipts"))}

    def bridges(self) -> list[dict[str, Any]]:
        assert self.engine is not None
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text("SELECT name, queued, version FROM bridges"))]


def start_proxy(
    root: Path, *, upstream_port: int, tls: tuple[Path, Path] | None = None
) -> tuple[Proc, int, Path]:
    port = free_port()
    mode = root / f"proxy-{port}.mode"
    mode.write_text("pass")
    argv = [sys.executable, str(SUPPORT / "fault_proxy.py"), str(port), str(upstream_port), str(mode)]
    if tls:
        argv += [str(tls[0]), str(tls[1])]
    proc = Proc(argv, root / f"proxy-{port}.log", clean_env())
    proc.start()
    assert wait_for(lambda: "ready" in proc.log(), 20), proc.log()
    return proc, port, mode


def bridge_config(
    path: Path,
    *,
    server_url: str,
    token_file: Path,
    state_dir: Path,
    folders: list[tuple[Path, str | None]],
    **extra: str | float | int,
) -> Path:
    """A bridge TOML with test timings: 0.2 s polls, 4 stable polls, backoff 0.2 s → 1 s."""
    values: dict[str, str | float | int] = {
        "poll_interval_s": 0.2,
        "stable_polls": 4,
        "backoff_initial_s": 0.2,
        "backoff_max_s": 1.0,
        "heartbeat_interval_s": 1.0,
        "timeout_s": 15,
        "name": "試験ブリッジ",
        **extra,
    }
    lines = [f"server_url = '{server_url}'", f"token_file = '{token_file}'", f"state_dir = '{state_dir}'"]
    lines += [f"{k} = '{v}'" if isinstance(v, str) else f"{k} = {v}" for k, v in values.items()]
    for folder, form_code in folders:
        lines += ["", "[[hot_folders]]", f"path = '{folder}'"]
        if form_code:
            lines.append(f"form_code = '{form_code}'")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def token_file(path: Path, token: str) -> Path:
    path.write_text(token + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def bridge_proc(root: Path, config: Path, *, full_disk_flag: Path | None = None) -> Proc:
    if full_disk_flag is not None:
        argv = [sys.executable, str(SUPPORT / "bridge_full_disk.py"), str(full_disk_flag)]
    else:
        argv = [sys.executable, "-m", "scanner_bridge"]
    return Proc([*argv, "--config", str(config), "run"], root / "bridge.log", clean_env())


def run_bridge_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scanner_bridge", "--config", str(config), *args],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
