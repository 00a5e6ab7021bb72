"""Wrapped data keys, one small file per owner, kept outside the database.

Outside on purpose: a database backup then holds only ciphertext, so restoring a backup
taken before an erase yields nothing readable once the key file is gone. Deleting a key
overwrites the file before unlinking it (crypto-erase; NIST SP 800-88 Rev.1 "Purge").
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_OWNER_RE = re.compile(r"^[0-9a-z_\-]{1,64}$")


@dataclass(frozen=True)
class WrappedKey:
    owner: str
    kek_id: str
    wrapped: bytes


class FileKeyStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, owner: str) -> Path:
        if not _OWNER_RE.match(owner):
            raise ValueError(f"invalid key owner {owner!r}")
        return self.root / owner[:2] / f"{owner}.key"

    def write(self, record: WrappedKey, *, exclusive: bool = False) -> None:
        """Atomically store ``record``; ``exclusive`` fails with FileExistsError if the owner has a key
        (two processes creating the same key: the first wins, the second must load it)."""
        path = self._path(record.owner)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        body = json.dumps(
            {
                "v": 1,
                "owner": record.owner,
                "kek": record.kek_id,
                "wrapped": base64.b64encode(record.wrapped).decode(),
            }
        ).encode()
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            if exclusive:
                os.link(tmp, path)
                Path(tmp).unlink()
            else:
                os.replace(tmp, path)  # readers see the old or the new record, never half of one
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def read(self, owner: str) -> WrappedKey | None:
        try:
            raw = json.loads(self._path(owner).read_bytes())
        except FileNotFoundError:
            return None
        return WrappedKey(owner=raw["owner"], kek_id=raw["kek"], wrapped=base64.b64decode(raw["wrapped"]))

    def exists(self, owner: str) -> bool:
        return self._path(owner).is_file()

    def destroy(self, owner: str) -> None:
        path = self._path(owner)
        try:
            size = path.stat().st_size
            with path.open("r+b") as handle:
                handle.write(secrets.token_bytes(max(size, 64)))
                handle.flush()
                os.fsync(handle.fileno())
        except FileNotFoundError:
            return
        path.unlink(missing_ok=True)

    def owners(self) -> Iterator[str]:
        for path in self.root.glob("*/*.key"):
            yield path.name[: -len(".key")]
