"""Blob store: encrypted files under generated keys.

Files are written to a temporary name in the target folder and renamed, so a
crash never leaves a half-written blob under a real key. Keys are random hex;
a client's filename is never part of a path.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_KEY_RE = re.compile(r"^[0-9a-f]{32}$")
_MAGIC = b"OCRB1"


class BlobNotFoundError(FileNotFoundError):
    pass


class BlobCorruptError(ValueError):
    """The stored bytes fail authentication (tampered, or a different key)."""


class BlobStore(Protocol):
    def put(self, data: bytes) -> str: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...

    def exists(self, key: str) -> bool: ...


class LocalBlobStore:
    """AES-256-GCM encrypted files in a local directory, sharded by key prefix."""

    def __init__(self, root: Path, *, key_material: str) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._aead = AESGCM(hashlib.sha256(key_material.encode("utf-8")).digest())

    def _path(self, key: str) -> Path:
        if not _KEY_RE.match(key):
            raise BlobNotFoundError(f"invalid blob key {key!r}")
        return self.root / key[:2] / key

    def put(self, data: bytes) -> str:
        key = secrets.token_hex(16)
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        nonce = secrets.token_bytes(12)
        # The key is bound as associated data so a blob copied under another key fails to decrypt.
        payload = _MAGIC + nonce + self._aead.encrypt(nonce, data, key.encode("ascii"))
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return key

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            payload = path.read_bytes()
        except FileNotFoundError as exc:
            raise BlobNotFoundError(key) from exc
        if not payload.startswith(_MAGIC):
            raise BlobCorruptError(f"blob {key} has no valid header")
        nonce = payload[len(_MAGIC) : len(_MAGIC) + 12]
        try:
            return self._aead.decrypt(nonce, payload[len(_MAGIC) + 12 :], key.encode("ascii"))
        except InvalidTag as exc:
            raise BlobCorruptError(f"blob {key} failed authentication") from exc

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()
