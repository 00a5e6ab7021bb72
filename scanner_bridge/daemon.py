"""The bridge's loop: poll hot folders, spool stable files, upload them in order, report health.

One thread, no queue in memory: the spool directory *is* the queue, so a restart (or kill -9)
continues exactly where the last run stopped.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from scanner_bridge import __version__, fsops
from scanner_bridge.client import Answer, TransportError
from scanner_bridge.config import BridgeConfig, HotFolder
from scanner_bridge.journal import Journal, now_iso
from scanner_bridge.names import is_ignored
from scanner_bridge.probe import ExclusiveProbe, StabilityTracker
from scanner_bridge.spool import Spool, SpoolEntry

logger = logging.getLogger(__name__)

REFUSAL_STATUSES = {400, 409, 415, 422}
"""4xx answers that refuse *this file* (with the server's error code). 401/403/404/408/429 are
about the token, the URL or load: the file is fine, so those are retried, never quarantined."""


class ServerApi(Protocol):
    """What the loop needs from the server (:class:`scanner_bridge.client.ServerClient`)."""

    def upload(self, *, data: bytes, filename: str, form_code: str | None) -> Answer: ...

    def heartbeat(self, payload: dict[str, Any]) -> Answer: ...


@dataclass
class Backoff:
    """Exponential backoff with jitter (each delay drawn from [half, full] of the capped exponential)."""

    initial_s: float
    maximum_s: float
    rng: random.Random = field(default_factory=random.Random)  # jitter only, not a secret
    failures: int = 0

    def next_delay(self) -> float:
        ceiling = min(self.maximum_s, self.initial_s * float(1 << min(self.failures, 30)))
        self.failures += 1
        return ceiling * self.rng.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.failures = 0


def is_refusal(answer: Answer) -> bool:
    if answer.status == 413:  # also a proxy's body-size limit: the file is too large either way
        return True
    return answer.status in REFUSAL_STATUSES and bool(answer.code)


class Bridge:
    def __init__(
        self,
        config: BridgeConfig,
        *,
        client: ServerApi,
        probe: ExclusiveProbe,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.client = client
        self.clock = clock
        self.spool = Spool(
            spool_dir=config.spool_dir,
            quarantine_dir=config.quarantine_path,
            journal=Journal(config.journal_path),
        )
        self.trackers = {
            folder.path: StabilityTracker(required_polls=config.stable_polls, probe=probe)
            for folder in config.hot_folders
        }
        self.backoff = Backoff(config.backoff_initial_s, config.backoff_max_s, rng or random.Random())  # noqa: S311 - jitter, not secrets
        self.next_upload_at = 0.0
        self.needs_recovery = True
        self.last_success_at: str | None = None
        self.last_error: str | None = None
        self.last_error_at: str | None = None
        self._last_status: dict[str, Any] = {}

    # -- state reporting -----------------------------------------------------------------------
    def _error(self, message: str) -> None:
        if message != self.last_error:
            logger.warning("%s", message)
        self.last_error, self.last_error_at = message, now_iso()

    def snapshot(self) -> dict[str, Any]:
        return {
            "name": self.config.name,
            "version": __version__,
            "hostname": socket.gethostname(),
            "hot_folders": [
                f"{f.path} → {f.form_code}" if f.form_code else str(f.path) for f in self.config.hot_folders
            ],
            "queued": len(self.spool.entries()),
            "quarantined": len(list(self.config.quarantine_path.glob("*.txt"))),
            "last_success_at": self.last_success_at,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
        }

    def write_status(self, *, force: bool = False) -> None:
        """status.json for ``scanner-bridge status``; rewritten only when something changed."""
        snapshot = self.snapshot()
        if snapshot == self._last_status and not force:
            return
        self._last_status = snapshot
        status = {**snapshot, "pid": os.getpid(), "updated_at": now_iso()}
        try:
            fsops.write_atomic(self.config.status_path, json.dumps(status, ensure_ascii=False).encode())
        except OSError as exc:
            logger.debug("status file not written: %s", exc)

    def heartbeat(self) -> None:
        try:
            answer = self.client.heartbeat(self.snapshot())
        except TransportError as exc:
            logger.info("heartbeat not delivered: %s", exc)
            return
        if answer.status >= 300:
            logger.info("heartbeat refused: HTTP %s %s", answer.status, answer.code)

    # -- hot folders -----------------------------------------------------------------------------
    def _listing(self, folder: HotFolder) -> list[tuple[Path, int, int]]:
        found: list[tuple[Path, int, int]] = []
        with os.scandir(folder.path) as entries:
            for item in entries:
                if is_ignored(item.name, self.config.ignore_patterns):
                    continue
                try:
                    if not item.is_file(follow_symlinks=False):
                        continue
                    stat = item.stat(follow_symlinks=False)
                except OSError:
                    continue  # vanished between listing and stat
                found.append((Path(item.path), stat.st_size, stat.st_mtime_ns))
        return found

    def poll_folders(self) -> None:
        for folder in self.config.hot_folders:
            try:
                listing = self._listing(folder)
            except OSError as exc:
                self._error(f"スキャン先フォルダ {folder.path} を読み取れません: {exc.strerror or exc}")
                continue
            tracker = self.trackers[folder.path]
            for path in tracker.observe(listing):
                try:
                    entry = self.spool.take(path, folder)
                except FileNotFoundError:
                    tracker.forget(path)  # someone moved it away first
                    continue
                except OSError as exc:
                    # The file stays in the hot folder and is tried again next poll. A full disk
                    # stops this poll; one unmovable file (locked, read-only) must not block the rest.
                    self.needs_recovery = True
                    self._error(f"{path.name} をスプールに移せません: {exc.strerror or exc}")
                    if exc.errno == errno.ENOSPC:
                        return
                    continue
                tracker.forget(path)
                logger.info(
                    "took %s (%d bytes, sha256 %s) as %s", entry.name, entry.size, entry.sha256, entry.id
                )

    # -- uploads ---------------------------------------------------------------------------------
    def _retry_later(self, entry: SpoolEntry, message: str) -> None:
        delay = self.backoff.next_delay()
        self.next_upload_at = self.clock() + delay
        self._error(message)
        logger.info("upload of %s failed (%s); retrying in %.1f s", entry.id, message, delay)
        try:
            self.spool.record_retry(entry, message)
        except OSError as exc:
            logger.warning("retry not journaled: %s", exc)

    def _upload_one(self, entry: SpoolEntry) -> bool:
        """True when the entry is finished (uploaded or quarantined); False to stop and back off."""
        data = self.spool.data_path(entry).read_bytes()
        sent_sha256 = hashlib.sha256(data).hexdigest()
        if sent_sha256 != entry.sha256:
            # A writer still held the file when it was taken and kept writing (POSIX lets it): send
            # what is there now and compare against that, or the hash check would fail forever.
            self.spool.record_change(entry, sha256=sent_sha256, size=len(data))
        try:
            answer = self.client.upload(data=data, filename=entry.name, form_code=entry.form_code)
        except TransportError as exc:
            prefix = "サーバー証明書を検証できません" if exc.tls else "サーバーに接続できません"
            self._retry_later(entry, f"{prefix}: {exc}")
            return False
        if answer.status in (200, 201):
            if answer.body.get("sha256") != entry.sha256:
                self._retry_later(entry, f"サーバーの SHA-256 が一致しません（{entry.name}）")
                return False
            document_id = str(answer.body.get("id", ""))
            batch_id = answer.body.get("batch_id")
            duplicate = bool(answer.body.get("duplicate"))
            self.spool.mark_uploaded(
                entry,
                document_id=document_id,
                batch_id=str(batch_id) if batch_id else None,
                duplicate=duplicate,
            )
            self.backoff.reset()
            self.last_success_at = now_iso()
            logger.info(
                "uploaded %s → document %s%s", entry.id, document_id, " (duplicate)" if duplicate else ""
            )
            return True
        if is_refusal(answer):
            target = self.spool.quarantine(entry, code=answer.code or "too_large", message=answer.message)
            logger.warning("quarantined %s (%s): %s", entry.id, answer.code, target.name)
            return True
        if answer.status in (401, 403):
            self._retry_later(entry, f"トークンが無効か権限がありません（HTTP {answer.status}）")
        else:
            self._retry_later(entry, f"サーバーエラー HTTP {answer.status} {answer.code}".strip())
        return False

    def upload_pending(self) -> None:
        for entry in self.spool.pending():
            if self.clock() < self.next_upload_at:
                return
            try:
                if not self._upload_one(entry):
                    return
            except OSError as exc:
                self.needs_recovery = True
                self._retry_later(entry, f"ローカルのディスクに書き込めません: {exc.strerror or exc}")
                return

    # -- the loop ---------------------------------------------------------------------------------
    def _step(self, next_poll: float, next_heartbeat: float) -> tuple[float, float]:
        """One pass: recover if needed, poll when due, upload when the backoff allows, heartbeat when due."""
        if self.needs_recovery:
            try:
                self.spool.recover()
                self.needs_recovery = False
            except OSError as exc:
                self._error(f"スプールの復旧に失敗しました: {exc.strerror or exc}")
        now = self.clock()
        if now >= next_poll:
            self.poll_folders()
            next_poll = now + self.config.poll_interval_s
        if now >= self.next_upload_at:
            self.upload_pending()
        if now >= next_heartbeat:
            self.heartbeat()
            next_heartbeat = now + self.config.heartbeat_interval_s
            self.write_status(force=True)
        self.write_status()
        return next_poll, next_heartbeat

    def run(self, stop: threading.Event) -> None:
        logger.info(
            "scanner-bridge %s started: %d hot folder(s) → %s",
            __version__,
            len(self.trackers),
            self.config.server_url,
        )
        next_poll = next_heartbeat = 0.0
        while not stop.is_set():
            try:
                next_poll, next_heartbeat = self._step(next_poll, next_heartbeat)
            except Exception as exc:
                # Never die on a surprise: the spool is the state, so log it, recover, try again.
                logger.exception("unexpected error; continuing")
                self._error(f"内部エラー: {type(exc).__name__}: {exc}")
                self.needs_recovery = True
                stop.wait(self.backoff.next_delay())
                continue
            stop.wait(max(0.05, min(next_poll, next_heartbeat) - self.clock()))
        self.write_status(force=True)
        logger.info("scanner-bridge stopped")
