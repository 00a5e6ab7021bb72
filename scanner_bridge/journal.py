"""The journal: one JSON line per event, fsynced, never rewritten. It answers "what became of
file X?" long after the spool forgot it. Final events carry ``fate``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scanner_bridge import fsops

FATE_UPLOADED = "uploaded"
FATE_DUPLICATE = "duplicate"
"""The server already had this exact file (same SHA-256) and returned the first document."""
FATE_QUARANTINED = "quarantined"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class Journal:
    path: Path

    def append(self, event: str, **fields: Any) -> None:
        record = {"time": now_iso(), "event": event, **fields}
        fsops.append_line(self.path, json.dumps(record, ensure_ascii=False, sort_keys=True))

    def records(self) -> Iterator[dict[str, Any]]:
        try:
            handle = self.path.open(encoding="utf-8")
        except FileNotFoundError:
            return
        with handle:
            for line in handle:
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue  # a torn last line after a power cut

    def fates(self) -> dict[str, dict[str, Any]]:
        """Spool id → its ``taken`` record merged with its final record (if any)."""
        merged: dict[str, dict[str, Any]] = {}
        for record in self.records():
            entry_id = record.get("id")
            if not isinstance(entry_id, str):
                continue
            if record["event"] == "taken":
                merged.setdefault(entry_id, {}).update(record)
            elif "fate" in record:
                merged.setdefault(entry_id, {}).update({k: v for k, v in record.items() if k != "event"})
        return merged
