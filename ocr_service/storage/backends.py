"""Raw object storage: bytes under keys, no cryptography (that is blobs.py's job).

Keys are random hex chosen by the caller (blobs.py); a client's filename is never a path.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

_KEY_RE = re.compile(r"^[0-9a-f]{32}$")


class ObjectNotFoundError(FileNotFoundError):
    pass


class ObjectStore(Protocol):
    def put_bytes(self, key: str, data: bytes) -> None: ...

    def get_bytes(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...

    def exists(self, key: str) -> bool: ...

    def iter_keys(self) -> Iterator[str]: ...


class LocalObjectStore:
    """Files in a local directory, sharded by key prefix, written to a temp file and renamed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        if not _KEY_RE.match(key):
            raise ObjectNotFoundError(f"invalid object key {key!r}")
        return self.root / key[:2] / key

    def put_bytes(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise ObjectNotFoundError(key) from exc

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def iter_keys(self) -> Iterator[str]:
        for path in self.root.glob("??/*"):
            if _KEY_RE.match(path.name):
                yield path.name

    def modified_at(self, key: str) -> float:
        return self._path(key).stat().st_mtime
