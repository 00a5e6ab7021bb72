"""Blob store: encrypted blobs under generated keys, on top of a raw :class:`ObjectStore`.

Encryption lives here; where the ciphertext is kept (local disk, S3/MinIO) is the
object store's business (:mod:`ocr_service.storage.backends`). Keys are random hex;
a client's filename is never part of a key or path.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ocr_service.storage.backends import LocalObjectStore, ObjectNotFoundError, ObjectStore, make_object_store

if TYPE_CHECKING:
    from ocr_service.config import Settings

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


class EncryptedBlobStore:
    """AES-256-GCM encrypted blobs in any :class:`ObjectStore`."""

    def __init__(self, objects: ObjectStore, *, key_material: str) -> None:
        self.objects = objects
        self._aead = AESGCM(hashlib.sha256(key_material.encode("utf-8")).digest())

    def put(self, data: bytes) -> str:
        key = secrets.token_hex(16)
        nonce = secrets.token_bytes(12)
        # The key is bound as associated data so a blob copied under another key fails to decrypt.
        self.objects.put_bytes(key, _MAGIC + nonce + self._aead.encrypt(nonce, data, key.encode("ascii")))
        return key

    def get(self, key: str) -> bytes:
        try:
            payload = self.objects.get_bytes(key)
        except ObjectNotFoundError as exc:
            raise BlobNotFoundError(key) from exc
        if not payload.startswith(_MAGIC):
            raise BlobCorruptError(f"blob {key} has no valid header")
        nonce = payload[len(_MAGIC) : len(_MAGIC) + 12]
        try:
            return self._aead.decrypt(nonce, payload[len(_MAGIC) + 12 :], key.encode("ascii"))
        except InvalidTag as exc:
            raise BlobCorruptError(f"blob {key} failed authentication") from exc

    def delete(self, key: str) -> None:
        try:
            self.objects.delete(key)
        except ObjectNotFoundError as exc:
            raise BlobNotFoundError(key) from exc

    def exists(self, key: str) -> bool:
        try:
            return self.objects.exists(key)
        except ObjectNotFoundError as exc:
            raise BlobNotFoundError(key) from exc


class LocalBlobStore(EncryptedBlobStore):
    """Encrypted blobs in a local directory (the embedded default)."""

    def __init__(self, root: Path, *, key_material: str) -> None:
        self.root = root
        super().__init__(LocalObjectStore(root), key_material=key_material)


def blob_store_from_settings(settings: Settings) -> EncryptedBlobStore:
    """The encrypted blob store on the object store the settings select (local or S3)."""
    return EncryptedBlobStore(make_object_store(settings), key_material=settings.storage_key.get_secret_value())
