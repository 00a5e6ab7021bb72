"""Data keys for documents, and sealing of personal text with them.

A service function reaches the key service through its database session (``db.info``),
so callers pass nothing new; each session caches the data keys it unwrapped, which makes
the cache live exactly as long as one request or one worker task.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from sqlalchemy.orm import Session

from ocr_service.config import Settings, get_settings
from ocr_service.keys.datakey import DataKey
from ocr_service.keys.kek import KeyRing
from ocr_service.keys.keystore import FileKeyStore, WrappedKey

INSTALLATION_OWNER = "installation"
"""Owner of the key for non-personal files (form templates); never erased by retention."""
_SEALED_PREFIX = "e1."
_INFO_KEYS = "ocr_keys"
_INFO_CACHE = "ocr_dek_cache"


class KeyErasedError(LookupError):
    """The owner's data key no longer exists: its data was cryptographically erased."""


class SealedTextError(ValueError):
    """A sealed value failed authentication (tampered, or moved to another row)."""


@dataclass(frozen=True)
class RotationResult:
    rewrapped: int
    already_current: int


class Keys:
    """Create, load, destroy and rotate wrapped data keys."""

    def __init__(self, ring: KeyRing, store: FileKeyStore) -> None:
        self.ring = ring
        self.store = store

    @classmethod
    def from_settings(cls, settings: Settings) -> Keys:
        old = [m.strip() for m in settings.storage_keys_old.get_secret_value().split(",")]
        ring = KeyRing.from_materials(settings.storage_key.get_secret_value(), old)
        return cls(ring, FileKeyStore(settings.resolved_key_dir))

    def create(self, owner: str) -> DataKey:
        secret = secrets.token_bytes(32)
        kek = self.ring.current
        record = WrappedKey(owner=owner, kek_id=kek.key_id, wrapped=kek.wrap(owner=owner, dek=secret))
        self.store.write(record, exclusive=True)  # FileExistsError if the owner has a key already
        return DataKey(owner=owner, secret=secret)

    def load(self, owner: str) -> DataKey:
        record = self.store.read(owner)
        if record is None:
            raise KeyErasedError(owner)
        return DataKey(
            owner=owner, secret=self.ring.by_id(record.kek_id).unwrap(owner=owner, wrapped=record.wrapped)
        )

    def load_or_create(self, owner: str) -> DataKey:
        try:
            return self.load(owner)
        except KeyErasedError:
            pass
        try:
            return self.create(owner)
        except FileExistsError:  # another process created it meanwhile: use theirs
            return self.load(owner)

    def exists(self, owner: str) -> bool:
        return self.store.exists(owner)

    def destroy(self, owner: str) -> None:
        self.store.destroy(owner)

    def rotate(self) -> RotationResult:
        """Re-wrap every data key under the current KEK; blobs and sealed text stay as they are."""
        rewrapped = current = 0
        kek = self.ring.current
        for owner in sorted(self.store.owners()):
            record = self.store.read(owner)
            if record is None:  # erased meanwhile
                continue
            if record.kek_id == kek.key_id:
                current += 1
                continue
            secret = self.ring.by_id(record.kek_id).unwrap(owner=owner, wrapped=record.wrapped)
            self.store.write(
                WrappedKey(owner=owner, kek_id=kek.key_id, wrapped=kek.wrap(owner=owner, dek=secret))
            )
            rewrapped += 1
        return RotationResult(rewrapped=rewrapped, already_current=current)


@lru_cache(maxsize=1)
def _default_keys() -> Keys:
    return Keys.from_settings(get_settings())


def keys_of(db: Session) -> Keys:
    keys = db.info.get(_INFO_KEYS)
    if keys is None:
        keys = _default_keys()
    assert isinstance(keys, Keys)
    return keys


def session_info(keys: Keys) -> dict[str, Any]:
    """``info=`` for a sessionmaker, so its sessions find the key service."""
    return {_INFO_KEYS: keys}


def _cache(db: Session) -> dict[str, DataKey]:
    cache = db.info.setdefault(_INFO_CACHE, {})
    assert isinstance(cache, dict)
    return cache


def document_key(db: Session, *, document_id: str) -> DataKey:
    """The document's data key (cached for this session); KeyErasedError once erased."""
    cache = _cache(db)
    if document_id not in cache:
        cache[document_id] = keys_of(db).load(document_id)
    return cache[document_id]


def create_document_key(db: Session, *, document_id: str) -> DataKey:
    key = keys_of(db).create(document_id)
    _cache(db)[document_id] = key
    return key


def installation_key(db: Session) -> DataKey:
    cache = _cache(db)
    if INSTALLATION_OWNER not in cache:
        cache[INSTALLATION_OWNER] = keys_of(db).load_or_create(INSTALLATION_OWNER)
    return cache[INSTALLATION_OWNER]


def destroy_document_key(db: Session, *, document_id: str) -> None:
    _cache(db).pop(document_id, None)
    keys_of(db).destroy(document_id)


def _text_aad(document_id: str, purpose: str) -> bytes:
    return f"text|{document_id}|{purpose}".encode()


def seal_with(dek: DataKey, *, document_id: str, purpose: str, value: str) -> str:
    aead = dek.aead()
    nonce = secrets.token_bytes(12)
    body = nonce + aead.encrypt(nonce, value.encode("utf-8"), _text_aad(document_id, purpose))
    return _SEALED_PREFIX + base64.urlsafe_b64encode(body).decode("ascii")


def seal_text(db: Session, *, document_id: str, purpose: str, value: str) -> str:
    """``value`` encrypted with the document's key; ``purpose`` (table.column|row id) binds it to its row."""
    return seal_with(
        document_key(db, document_id=document_id), document_id=document_id, purpose=purpose, value=value
    )


def open_with(dek: DataKey, *, document_id: str, purpose: str, sealed: str) -> str:
    if not sealed.startswith(_SEALED_PREFIX):
        raise SealedTextError(f"{purpose} of {document_id} is not sealed")
    try:
        body = base64.urlsafe_b64decode(sealed[len(_SEALED_PREFIX) :])
        plain = dek.aead().decrypt(body[:12], body[12:], _text_aad(document_id, purpose))
    except (InvalidTag, binascii.Error, ValueError) as exc:
        raise SealedTextError(f"{purpose} of {document_id} failed authentication") from exc
    return plain.decode("utf-8")


def open_text(db: Session, *, document_id: str, purpose: str, sealed: str) -> str:
    """The plain text of a sealed value; KeyErasedError once the document's key is destroyed."""
    return open_with(
        document_key(db, document_id=document_id), document_id=document_id, purpose=purpose, sealed=sealed
    )


def is_sealed(value: str) -> bool:
    return value.startswith(_SEALED_PREFIX)
