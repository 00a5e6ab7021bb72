"""The spool: the bridge's own copy of every file between the hot folder and the server.

Life of a file (``<id>.json`` is its state, written atomically; ``<id>.data`` its bytes):

1. ``taking``  – state written *before* the file leaves the hot folder;
2. the file is moved to ``<id>.data`` (atomic rename, or copy + sync + delete across volumes);
3. hashed, journaled ``taken``, state ``queued``;
4. uploaded: journal ``uploaded`` *then* delete data and state – or refused: moved to the
   quarantine with a Japanese ``.txt`` beside it.

:meth:`Spool.recover` finishes or undoes whatever step a crash (kill -9, power cut, full disk)
interrupted, so a file is never lost and never taken twice.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from scanner_bridge import fsops
from scanner_bridge.config import HotFolder
from scanner_bridge.journal import FATE_DUPLICATE, FATE_QUARANTINED, FATE_UPLOADED, Journal, now_iso
from scanner_bridge.names import safe_file_name
from scanner_bridge.quarantine import quarantine_note

logger = logging.getLogger(__name__)
_sequence = itertools.count()


@dataclass
class SpoolEntry:
    id: str
    name: str
    """Original file name: display only, never used as a path."""
    folder: str
    source: str
    form_code: str | None
    state: str = "taking"
    sha256: str = ""
    size: int = 0
    taken_at: str = ""
    attempts: int = 0


def sha256_of(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class Spool:
    def __init__(self, *, spool_dir: Path, quarantine_dir: Path, journal: Journal) -> None:
        self.dir = spool_dir
        self.quarantine_dir = quarantine_dir
        self.journal = journal
        for folder in (spool_dir, quarantine_dir, journal.path.parent):
            folder.mkdir(parents=True, exist_ok=True)

    # -- paths and state -------------------------------------------------------------------
    def _state_path(self, entry_id: str) -> Path:
        return self.dir / f"{entry_id}.json"

    def data_path(self, entry: SpoolEntry) -> Path:
        return self.dir / f"{entry.id}.data"

    def _save(self, entry: SpoolEntry) -> None:
        fsops.write_atomic(self._state_path(entry.id), json.dumps(asdict(entry), ensure_ascii=False).encode())

    def _load(self, path: Path) -> SpoolEntry | None:
        try:
            return SpoolEntry(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            logger.error("unreadable spool state %s left in place", path.name)
            return None

    def entries(self) -> list[SpoolEntry]:
        """All entries, oldest first (ids sort by the time they were taken: upload order)."""
        found = (self._load(p) for p in sorted(self.dir.glob("*.json")))
        return [e for e in found if e is not None]

    def pending(self) -> list[SpoolEntry]:
        return [e for e in self.entries() if e.state == "queued"]

    # -- taking a file -----------------------------------------------------------------------
    def take(self, source: Path, folder: HotFolder) -> SpoolEntry:
        entry = SpoolEntry(
            id=f"{time.time_ns():020d}-{next(_sequence) % 10000:04d}-{os.getpid() % 100000:05d}",
            name=source.name,
            folder=str(folder.path),
            source=str(source),
            form_code=folder.form_code,
        )
        self._save(entry)  # step 1: intent first (a full disk stops us here, file untouched)
        try:
            fsops.move_file(source, self.data_path(entry))
        except OSError:
            fsops.unlink_if_exists(self._state_path(entry.id))
            raise
        self._finish_taking(entry)
        return entry

    def _finish_taking(self, entry: SpoolEntry) -> None:
        entry.sha256, entry.size = sha256_of(self.data_path(entry))
        entry.taken_at = entry.taken_at or now_iso()
        self.journal.append(
            "taken",
            id=entry.id,
            sha256=entry.sha256,
            size=entry.size,
            name=entry.name,
            folder=entry.folder,
            form_code=entry.form_code,
        )
        entry.state = "queued"
        self._save(entry)

    # -- outcomes ------------------------------------------------------------------------------
    def record_change(self, entry: SpoolEntry, *, sha256: str, size: int) -> None:
        self.journal.append("changed", id=entry.id, old_sha256=entry.sha256, sha256=sha256, size=size)
        entry.sha256, entry.size = sha256, size
        self._save(entry)

    def record_retry(self, entry: SpoolEntry, error: str) -> None:
        entry.attempts += 1
        self.journal.append("retry", id=entry.id, attempt=entry.attempts, error=error[:300])
        self._save(entry)

    def mark_uploaded(
        self, entry: SpoolEntry, *, document_id: str, batch_id: str | None, duplicate: bool
    ) -> None:
        # Journal first: if this write fails the copy stays and the (idempotent) upload is repeated.
        self.journal.append(
            "uploaded",
            id=entry.id,
            name=entry.name,
            sha256=entry.sha256,
            document_id=document_id,
            batch_id=batch_id,
            fate=FATE_DUPLICATE if duplicate else FATE_UPLOADED,
        )
        fsops.unlink_if_exists(self.data_path(entry))
        fsops.unlink_if_exists(self._state_path(entry.id))

    def quarantine(self, entry: SpoolEntry, *, code: str, message: str) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S_")
        target = self.quarantine_dir / safe_file_name(entry.name, prefix=stamp)
        if target.exists():
            target = self.quarantine_dir / safe_file_name(entry.name, prefix=f"{stamp}{entry.id[-10:]}_")
        note = quarantine_note(
            name=entry.name, folder=entry.folder, code=code, message=message, sha256=entry.sha256
        )
        fsops.write_atomic(target.with_name(target.name + ".txt"), note)
        fsops.move_file(self.data_path(entry), target)
        self.journal.append(
            "quarantined",
            id=entry.id,
            name=entry.name,
            sha256=entry.sha256,
            code=code,
            reason=message,
            path=str(target),
            fate=FATE_QUARANTINED,
        )
        fsops.unlink_if_exists(self._state_path(entry.id))
        return target

    # -- crash recovery ------------------------------------------------------------------------
    def recover(self) -> None:
        """Finish or undo interrupted takes; drop states whose data is gone after a final journal line."""
        for entry in self.entries():
            data = self.data_path(entry)
            partial = data.with_name(data.name + ".part")
            if entry.state == "taking":
                source = Path(entry.source)
                if data.exists():
                    # The move happened (or the copy finished). On the copy path the source may
                    # still be there: delete it only if it is byte-identical to our copy.
                    if source.exists() and sha256_of(source) == sha256_of(data):
                        source.unlink()
                    elif source.exists():
                        logger.warning("spool %s: source changed after copy; keeping both", entry.id)
                    self._finish_taking(entry)
                    self.journal.append("recovered", id=entry.id, step="take")
                else:
                    fsops.unlink_if_exists(partial)
                    fsops.unlink_if_exists(self._state_path(entry.id))
            elif not data.exists():
                logger.warning("spool %s: data already gone; dropping its state", entry.id)
                fsops.unlink_if_exists(self._state_path(entry.id))
        for stray in self.dir.glob("*.writing"):
            fsops.unlink_if_exists(stray)
