"""Key-encryption keys derived with HKDF from OCR_STORAGE_KEY (and older keys during a rotation)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_SALT = b"ocr-service/kek/v1"


class UnknownKekError(LookupError):
    """A data key is wrapped by a KEK that is not configured (OCR_STORAGE_KEY / OCR_STORAGE_KEYS_OLD)."""


class UnwrapError(ValueError):
    """A wrapped data key failed authentication."""


def _hkdf(material: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=info).derive(material.encode("utf-8"))


@dataclass(frozen=True)
class Kek:
    key_id: str
    secret: bytes = field(repr=False)

    @classmethod
    def derive(cls, material: str) -> Kek:
        # The id comes from a separate HKDF output, so publishing it reveals nothing about the key.
        return cls(key_id=_hkdf(material, b"kek-id").hex()[:16], secret=_hkdf(material, b"kek"))

    def wrap(self, *, owner: str, dek: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + AESGCM(self.secret).encrypt(nonce, dek, _aad(owner, self.key_id))

    def unwrap(self, *, owner: str, wrapped: bytes) -> bytes:
        try:
            return AESGCM(self.secret).decrypt(wrapped[:12], wrapped[12:], _aad(owner, self.key_id))
        except InvalidTag as exc:
            raise UnwrapError(f"data key of {owner} failed authentication") from exc


def _aad(owner: str, key_id: str) -> bytes:
    return f"dek|{owner}|{key_id}".encode("ascii")


@dataclass(frozen=True)
class KeyRing:
    current: Kek
    old: tuple[Kek, ...] = ()

    @classmethod
    def from_materials(cls, current: str, old: list[str]) -> KeyRing:
        current_kek = Kek.derive(current)
        olds = tuple(k for k in (Kek.derive(m) for m in old if m) if k.key_id != current_kek.key_id)
        return cls(current=current_kek, old=olds)

    def by_id(self, key_id: str) -> Kek:
        for kek in (self.current, *self.old):
            if kek.key_id == key_id:
                return kek
        raise UnknownKekError(
            f"data key wrapped by KEK {key_id}, which is not configured; add the old OCR_STORAGE_KEY "
            "to OCR_STORAGE_KEYS_OLD and run `ocr-service keys rotate`"
        )
