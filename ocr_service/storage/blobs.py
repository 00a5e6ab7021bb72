"""Blob store: every file is AES-256-GCM encrypted with the data key of the document it belongs to.

Encryption sits on top of an :class:`~ocr_service.storage.backends.ObjectStore` (local folder or
an S3-compatible store such as MinIO, chosen by ``OCR_STORAGE_BACKEND``), so the object store only
ever holds ciphertext under per-document data keys. The associated data binds each ciphertext to its object key and its key owner
(the document id), so a blob copied under another key or document fails to decrypt. Once a
document's data key is destroyed (retention), its blobs are unreadable even from a backup.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag

from ocr_service.keys.datakey import DataKey
from ocr_service.storage.backends import LocalObjectStore, ObjectNotFoundError, ObjectStore, make_object_store

if TYPE_CHECKING:
    from ocr_service.config import Settings

_MAGIC = b"OCRB2"


class BlobNotFoundError(FileNotFoundError):
    pass


class BlobCorruptError(ValueError):
    """The stored bytes fail authentication (tampered, or another document's key)."""


def _aad(key: str, owner: str) -> bytes:
    return b"blob|" + key.encode("ascii") + b"|" + owner.encode("ascii")


class BlobStore:
    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects

    def put(self, data: bytes, *, dek: DataKey) -> str:
        key = secrets.token_hex(16)
        owner = dek.owner.encode("ascii")
        nonce = secrets.token_bytes(12)
        payload = (
            _MAGIC
            + bytes([len(owner)])
            + owner
            + nonce
            + dek.aead().encrypt(nonce, data, _aad(key, dek.owner))
        )
        self.objects.put_bytes(key, payload)
        return key

    def get(self, key: str, *, dek: DataKey) -> bytes:
        try:
            payload = self.objects.get_bytes(key)
        except ObjectNotFoundError as exc:
            raise BlobNotFoundError(key) from exc
        if not payload.startswith(_MAGIC) or len(payload) < len(_MAGIC) + 1:
            raise BlobCorruptError(f"blob {key} has no valid header")
        size = payload[len(_MAGIC)]
        start = len(_MAGIC) + 1
        owner = payload[start : start + size].decode("ascii", errors="replace")
        if owner != dek.owner:
            raise BlobCorruptError(f"blob {key} belongs to another key owner")
        nonce = payload[start + size : start + size + 12]
        try:
            return dek.aead().decrypt(nonce, payload[start + size + 12 :], _aad(key, owner))
        except InvalidTag as exc:
            raise BlobCorruptError(f"blob {key} failed authentication") from exc

    def owner_of(self, key: str) -> str | None:
        """The key owner named in a blob's header (for the orphan sweep); None if unreadable."""
        try:
            payload = self.objects.get_bytes(key)
        except ObjectNotFoundError:
            return None
        if not payload.startswith(_MAGIC) or len(payload) < len(_MAGIC) + 1:
            return None
        size = payload[len(_MAGIC)]
        return payload[len(_MAGIC) + 1 : len(_MAGIC) + 1 + size].decode("ascii", errors="replace")

    def delete(self, key: str) -> None:
        self.objects.delete(key)

    def exists(self, key: str) -> bool:
        try:
            return self.objects.exists(key)
        except ObjectNotFoundError:
            return False

    def iter_keys(self) -> Iterator[str]:
        return self.objects.iter_keys()


class LocalBlobStore(BlobStore):
    """The embedded default: encrypted blobs in a local folder."""

    def __init__(self, root: Path) -> None:
        super().__init__(LocalObjectStore(root))
        self.root = root


def blob_store_from_settings(settings: Settings) -> BlobStore:
    """The encrypted blob store on the object store the settings select (local folder or S3).

    The data keys are not in the object store: every process that reads blobs (API replicas and
    workers) also needs the same ``OCR_KEY_DIR`` (a shared volume when they run on several hosts)."""
    return BlobStore(make_object_store(settings))
